/* export: a Jupyter notebook (nbformat 4.5) that loads the exported files
 * with pandas and networkx and shows the signups over time, the degree
 * distribution, the cluster itself and its reasons and features. Built
 * whole with jansson (it is small) and read out in one piece. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "export_int.h"

/* Cells, in order: 'm' markdown or 'c' code, then the source. The code
 * runs on Debian 12's pandas 1.5, networkx 2.8 and matplotlib 3.6 as well
 * as on current releases. "%s" in the first cell is the title. */
static const struct {
    char type;
    const char *src;
} cells[] = {
    {'m', "# ringwatch: %s\n\n"
          "Exported by `ringwatch export`. The files beside this notebook: `nodes.csv`, `edges.csv` and\n"
          "`clusters.csv` (pandas), `graph.graphml` (networkx, python-igraph, Gephi) and, when exported,\n"
          "`graph.json` (node-link). Accounts carry the caller's own ids; IP addresses, devices and payment\n"
          "tokens appear only as keyed pseudonyms (`ip:3f9a1c0d2b`). Times are ISO 8601, UTC, with their Unix\n"
          "seconds beside them (`first_seen_unix`). `clusters.csv` has one `feature_` column per feature.\n"
          "Membership, scores and reasons are the run's; first/last seen, counts and degrees are the graph's\n"
          "at export time."},
    {'c',
     "import inspect\n"
     "import json\n"
     "import os\n"
     "\n"
     "import matplotlib.pyplot as plt\n"
     "import networkx as nx\n"
     "import numpy as np\n"
     "import pandas as pd\n"
     "\n"
     "nodes = pd.read_csv(\"nodes.csv\", dtype={\"label\": str}, keep_default_na=False, na_values={\"score\": [\"\"], "
     "\"x\": [\"\"], \"y\": [\"\"]})\n"
     "edges = pd.read_csv(\"edges.csv\")\n"
     "clusters = pd.read_csv(\"clusters.csv\")\n"
     "G = nx.read_graphml(\"graph.graphml\")\n"
     "accounts = nodes[nodes.kind == \"account\"].copy()\n"
     "accounts[\"signup\"] = pd.to_datetime(accounts.first_seen, utc=True)\n"
     "print(f\"{len(clusters)} clusters, {len(accounts)} accounts, {len(nodes) - len(accounts)} attributes, "
     "{len(edges)} links\")\n"
     "print(f\"GraphML: {G.number_of_nodes()} nodes, {G.number_of_edges()} edges\")"},
    {'m', "## Signups over time\n\nAccounts by first-seen time; flagged accounts on top."},
    {'c', "fig, ax = plt.subplots(figsize=(9, 3))\n"
          "if len(accounts):\n"
          "    t = accounts.first_seen_unix.to_numpy()\n"
          "    flag = accounts.flagged.to_numpy().astype(bool)\n"
          "    bins = np.linspace(t.min(), t.max() + 1, min(60, max(5, len(t) // 5)) + 1)\n"
          "    every, _ = np.histogram(t, bins)\n"
          "    flagged, _ = np.histogram(t[flag], bins)\n"
          "    left = pd.to_datetime(bins[:-1], unit=\"s\")\n"
          "    width = (bins[1] - bins[0]) / 86400  # matplotlib dates count days\n"
          "    ax.bar(left, every - flagged, width=width, align=\"edge\", color=\"#4c72b0\", label=\"not flagged\")\n"
          "    ax.bar(left, flagged, width=width, bottom=every - flagged, align=\"edge\", color=\"#c44e52\", "
          "label=\"flagged\")\n"
          "    ax.legend()\n"
          "ax.set_ylabel(\"signups\")\n"
          "ax.set_title(\"Signups over time (UTC)\")\n"
          "fig.autofmt_xdate()\n"
          "plt.show()"},
    {'m', "## Degree distribution\n\nLinks of each node inside this export, by kind (the `degree` column has the "
          "whole graph's)."},
    {'c', "deg = pd.Series(dict(G.degree()), name=\"degree\")\n"
          "kind = pd.Series(nx.get_node_attributes(G, \"kind\"))\n"
          "fig, ax = plt.subplots(figsize=(9, 3))\n"
          "for k, group in deg.groupby(kind):\n"
          "    counts = group.value_counts().sort_index()\n"
          "    ax.plot(counts.index, counts.values, marker=\"o\", label=k)\n"
          "ax.set_xscale(\"symlog\")\n"
          "ax.set_yscale(\"log\")\n"
          "ax.set_xlabel(\"degree\")\n"
          "ax.set_ylabel(\"nodes\")\n"
          "ax.legend()\n"
          "plt.show()"},
    {'m', "## The cluster\n\nThe highest-scoring cluster of the export: its accounts and every attribute they "
          "use, at the positions ringwatch's pictures use (a spring layout when there are none). Colour: kind; "
          "size: links; a red ring: a flagged account."},
    {'c', "first = int(clusters.cluster.iloc[0]) if len(clusters) else None\n"
          "members = [n for n, d in G.nodes(data=True) if d.get(\"kind\") == \"account\" and d.get(\"cluster\") == "
          "first]\n"
          "H = G.subgraph(set(members).union(*(G[n] for n in members)))\n"
          "if all(\"x\" in H.nodes[n] for n in H):\n"
          "    pos = {n: (H.nodes[n][\"x\"], H.nodes[n][\"y\"]) for n in H}\n"
          "else:\n"
          "    pos = nx.spring_layout(H, seed=1)\n"
          "colours = {\"account\": \"#4c72b0\", \"ip\": \"#55a868\", \"device\": \"#dd8452\", \"payment\": "
          "\"#8172b3\"}\n"
          "fig, ax = plt.subplots(figsize=(8, 8))\n"
          "nx.draw_networkx_edges(H, pos, ax=ax, alpha=0.3, width=0.5)\n"
          "for k, colour in colours.items():\n"
          "    ns = [n for n in H if H.nodes[n].get(\"kind\") == k]\n"
          "    if ns:\n"
          "        nx.draw_networkx_nodes(H, pos, nodelist=ns, node_color=colour, ax=ax, label=k,\n"
          "                               node_size=[15 + 8 * H.degree(n) for n in ns])\n"
          "red = [n for n in H if H.nodes[n].get(\"flagged\")]\n"
          "if red:\n"
          "    nx.draw_networkx_nodes(H, pos, nodelist=red, node_color=\"none\", edgecolors=\"#c44e52\", "
          "linewidths=1.5,\n"
          "                           node_size=[15 + 8 * H.degree(n) for n in red], ax=ax)\n"
          "ax.set_title(f\"cluster {first}: {len(members)} accounts, {H.number_of_nodes() - len(members)} "
          "attributes\")\n"
          "ax.legend()\n"
          "ax.set_axis_off()\n"
          "plt.show()"},
    {'m', "## Reasons and features\n\nWhy each cluster scored as it did, and the figures the model weighed."},
    {'c', "reasons = pd.DataFrame([(c, r) for c, rs in zip(clusters.cluster, clusters.reasons.fillna(\"\")) "
          "for r in rs.split(\"; \") if r],\n"
          "                       columns=[\"cluster\", \"reason\"])\n"
          "reasons"},
    {'c', "features = clusters.set_index(\"cluster\").filter(like=\"feature_\")\n"
          "features.columns = [c[len(\"feature_\"):] for c in features.columns]\n"
          "features.T if len(features) <= 8 else features"},
    {'m', "## Node-link JSON\n\n`graph.json` is networkx's node-link format with the edge list under "
          "`\"links\"`. networkx 3.4 and later need `edges=\"links\"` to read it (their default is changing to "
          "`\"edges\"`); older releases read `\"links\"` by default and have no `edges` argument."},
    {'c', "if os.path.exists(\"graph.json\"):\n"
          "    with open(\"graph.json\") as f:\n"
          "        data = json.load(f)\n"
          "    kw = {\"edges\": \"links\"} if \"edges\" in "
          "inspect.signature(nx.node_link_graph).parameters else {}\n"
          "    J = nx.node_link_graph(data, **kw)\n"
          "    print(f\"node-link JSON: {J.number_of_nodes()} nodes, {J.number_of_edges()} edges\")"},
};

/* A cell's source as nbformat wants it: a list of lines, each but the last
 * ending in a newline. */
static json_t *lines(const char *src) {
    json_t *a = json_array();
    while (a && *src) {
        const char *nl = strchr(src, '\n');
        size_t len = nl ? (size_t)(nl - src) + 1 : strlen(src);
        if (json_array_append_new(a, json_stringn(src, len))) {
            json_decref(a);
            return NULL;
        }
        src += len;
    }
    return a;
}

static json_t *cell(int i, const char *src) {
    char id[24];
    snprintf(id, sizeof id, "cell-%d", i + 1);
    json_t *source = lines(src);
    if (cells[i].type == 'm')
        return json_pack("{s:s,s:s,s:{},s:o}", "cell_type", "markdown", "id", id, "metadata", "source", source);
    return json_pack("{s:s,s:s,s:{},s:n,s:[],s:o}", "cell_type", "code", "id", id, "metadata", "execution_count",
                     "outputs", "source", source);
}

static json_t *notebook(const rw_cluster_graph *g) {
    char title[96], first[1024];
    if (g->nclusters == 1)
        snprintf(title, sizeof title, "cluster %u (run %lld)", g->clusters[0].id, (long long)g->run);
    else
        snprintf(title, sizeof title, "%zu clusters of run %lld", g->nclusters, (long long)g->run);
    snprintf(first, sizeof first, cells[0].src, title);
    json_t *list = json_array();
    for (int i = 0; list && i < (int)(sizeof cells / sizeof cells[0]); i++) {
        if (json_array_append_new(list, cell(i, i ? cells[i].src : first))) {
            json_decref(list);
            list = NULL;
        }
    }
    return json_pack("{s:i,s:i,s:{s:{s:s,s:s,s:s},s:{s:s}},s:o}", "nbformat", 4, "nbformat_minor", 5, "metadata",
                     "kernelspec", "name", "python3", "display_name", "Python 3", "language", "python", "language_info",
                     "name", "python", "cells", list);
}

static rw_status step(rw_export_stream *s, rw_err *err) {
    json_t *nb = notebook(s->g);
    char *text = nb ? json_dumps(nb, JSON_INDENT(1)) : NULL;
    json_decref(nb);
    if (!text) return rw_fail(err, RW_ERR_NOMEM, "notebook: out of memory");
    rw_xputs(s, text);
    rw_xputs(s, "\n");
    free(text);
    s->done = 1;
    return RW_OK;
}

rw_status rw_xipynb_open(rw_export_stream *s, rw_err *err) {
    s->step = step;
    return RW_OK;
}
