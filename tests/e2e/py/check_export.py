"""Reads a `ringwatch export` directory with the tools analysts use and
checks it against the counts ringwatch reported: networkx and python-igraph
read the GraphML, pandas the CSV files, networkx the node-link JSON, and the
SVG pictures parse as XML. Times are ISO 8601 with Unix seconds beside
them; the GraphML carries Gephi's x, y, size, r, g, b and start/end; the
neo4j-admin files (when written) have its typed headers; the bundle (when
written) holds the notebook and its files under one folder.

usage: check_export.py DIR ACCOUNTS ATTRIBUTES LINKS"""
import inspect
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

import igraph as ig
import networkx as nx
import pandas as pd

d = sys.argv[1]
accounts, attributes, links = map(int, sys.argv[2:5])
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


def path(name):
    return os.path.join(d, name)


# ---- pandas -----------------------------------------------------------------
nodes = pd.read_csv(path("nodes.csv"), dtype={"label": str}, keep_default_na=False,
                    na_values={"score": [""], "x": [""], "y": [""]})
edges = pd.read_csv(path("edges.csv"))
clusters = pd.read_csv(path("clusters.csv"))
is_account = nodes.kind == "account"
check(len(nodes) == accounts + attributes, f"nodes.csv: {len(nodes)} rows, want {accounts + attributes}")
check(is_account.sum() == accounts, f"nodes.csv: {is_account.sum()} accounts, want {accounts}")
check(len(edges) == links, f"edges.csv: {len(edges)} rows, want {links}")
check(set(nodes.kind) <= {"account", "ip", "device", "payment"}, f"kinds {set(nodes.kind)}")
check(nodes.id.is_unique, "node ids repeat")
check(nodes.score[is_account].notna().all(), "an account without a score")
check(nodes.score[~is_account].isna().all(), "an attribute with a score")
pseudonym = re.compile(r"^(ip|device|payment):[0-9a-f]{10}$")
check(all(pseudonym.match(s) for s in nodes.label[~is_account]), "an attribute label is not a pseudonym")
check(edges.source.isin(nodes.id[is_account]).all(), "an edge source is not an account")
check(edges.target.isin(nodes.id[~is_account]).all(), "an edge target is not an attribute")
check((edges.first_seen <= edges.last_seen).all() and (edges["count"] >= 1).all(), "edge times or counts")
per_node = pd.concat([edges.source, edges.target]).value_counts()
check((nodes.set_index("id").sub_degree == per_node.reindex(nodes.id).fillna(0).values).all(),
      "sub_degree disagrees with edges.csv")
check(nodes.x.notna().all() and nodes.x.between(0, 1).all(), "positions missing or outside the unit square")
check(len(clusters) >= 1, "clusters.csv is empty")
iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
for frame, col in ((nodes, "first_seen"), (nodes, "last_seen"), (edges, "first_seen"), (clusters, "first_signup")):
    check(frame[col].map(lambda t: bool(iso.match(str(t)))).all(), f"{col}: not ISO 8601 UTC")
    unix = pd.to_datetime(frame[col + "_unix"], unit="s", utc=True)
    check((pd.to_datetime(frame[col], utc=True) == unix).all(), f"{col} and {col}_unix disagree")
features = [c for c in clusters.columns if c.startswith("feature_")]
check(len(features) >= 5, f"clusters.csv: feature columns {features}")
check(all(pd.api.types.is_numeric_dtype(clusters[c]) for c in features), "clusters.csv: a feature column is not numeric")
check("features" not in clusters.columns and not clusters.reasons.astype(str).str.startswith("[").any(),
      "clusters.csv: JSON in cells")
check(set(nodes.cluster[is_account]) == set(clusters.cluster), "accounts' clusters differ from clusters.csv")

# ---- networkx GraphML -----------------------------------------------------
G = nx.read_graphml(path("graph.graphml"))
check(G.number_of_nodes() == accounts + attributes, f"networkx GraphML: {G.number_of_nodes()} nodes")
check(G.number_of_edges() == links, f"networkx GraphML: {G.number_of_edges()} edges")
row = nodes[is_account].iloc[0]
a = G.nodes[row.id]
check(a["kind"] == "account" and a["label"] == row.label, f"networkx: account attributes {a}")
check(isinstance(a["flagged"], bool) and isinstance(a["cluster"], int) and abs(a["score"] - row.score) < 1e-6,
      f"networkx: attribute types {a}")
check(isinstance(a["first_seen_unix"], int) and a["first_seen_unix"] == row.first_seen_unix, "networkx: first_seen")
check(a["first_seen"] == row.first_seen and a["start"] == row.first_seen and a["end"] == row.last_seen,
      "networkx: ISO first_seen, start, end")
viz = {"x", "y", "size", "r", "g", "b"}
check(all(viz <= set(d) for _, d in G.nodes(data=True)), "networkx: a node without Gephi's x, y, size, r, g, b")
check(all(0 <= d[c] <= 255 for _, d in G.nodes(data=True) for c in "rgb"), "networkx: colour out of range")
flag = [d for _, d in G.nodes(data=True) if d["kind"] == "account" and d["flagged"]]
check(all((d["r"], d["g"], d["b"]) == (0xC4, 0x4E, 0x52) for d in flag), "networkx: flagged accounts not red")
u, v, e = next(iter(G.edges(data=True)))
check({"first_seen", "last_seen", "first_seen_unix", "start", "end", "count"} <= set(e),
      f"networkx: edge attributes {e}")
check(all(G.degree(n) == s for n, s in zip(nodes.id, nodes.sub_degree)), "networkx: degrees differ from sub_degree")
check(G.graph.get("run") == int(clusters.run.iloc[0]), f"networkx: graph attributes {G.graph}")

# ---- python-igraph GraphML ------------------------------------------------
g = ig.Graph.Read_GraphML(path("graph.graphml"))
check(g.vcount() == accounts + attributes, f"igraph GraphML: {g.vcount()} vertices")
check(g.ecount() == links, f"igraph GraphML: {g.ecount()} edges")
want = {"kind", "label", "cluster", "first_seen", "last_seen", "degree", "sub_degree", "score", "flagged", "hub",
        "x", "y", "size", "r", "g", "b", "start", "end"}
check(want <= set(g.vs.attributes()), f"igraph: vertex attributes {g.vs.attributes()}")
check({"first_seen", "last_seen", "count"} <= set(g.es.attributes()), f"igraph: edge attributes {g.es.attributes()}")
iv = g.vs.find(id=row.id)
check(iv["label"] == row.label and iv["kind"] == "account" and iv["flagged"] == bool(row.flagged),
      f"igraph: {iv.attributes()}")
check(sum(1 for k in g.vs["kind"] if k == "account") == accounts, "igraph: account count")
check(abs(iv["x"] - G.nodes[row.id]["x"]) < 1e-6 and iv["r"] == G.nodes[row.id]["r"], "igraph: viz attributes")

# ---- networkx node-link JSON ----------------------------------------------
with open(path("graph.json")) as f:
    data = json.load(f)
# networkx 3.4 and later take the edge list's key as edges=; older ones
# read "links" by default and have no such argument.
kw = {"edges": "links"} if "edges" in inspect.signature(nx.node_link_graph).parameters else {}
J = nx.node_link_graph(data, **kw)
check(J.number_of_nodes() == accounts + attributes and J.number_of_edges() == links,
      f"node-link: {J.number_of_nodes()} nodes, {J.number_of_edges()} edges")
check(not J.is_directed() and not J.is_multigraph(), "node-link: directed or multigraph")
check(J.nodes[row.id]["label"] == row.label, "node-link: label")

# ---- SVG --------------------------------------------------------------------
if os.path.exists(path("graph.svg")):
    svg = ET.parse(path("graph.svg")).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    circles = [c for c in svg.iter(ns + "circle") if c.get("id", "").startswith("n")]
    check(len(circles) == accounts + attributes, f"graph.svg: {len(circles)} node circles")
    check(len([c for c in circles if c.get("class") == "flagged"]) == int(nodes.flagged[is_account].sum()),
          "graph.svg: flagged accounts")
    ET.parse(path("timeline.svg"))

# ---- neo4j-admin import -------------------------------------------------------
if os.path.exists(path("neo4j-nodes.csv")):
    n4 = pd.read_csv(path("neo4j-nodes.csv"), dtype={"label": str}, keep_default_na=False)
    r4 = pd.read_csv(path("neo4j-relationships.csv"))
    check(n4.columns[0] == "id:ID" and ":LABEL" in n4.columns, f"neo4j nodes header {list(n4.columns)}")
    check({"first_seen:datetime", "score:double", "flagged:boolean"} <= set(n4.columns),
          f"neo4j nodes types {list(n4.columns)}")
    check(list(r4.columns[:3]) == [":START_ID", ":END_ID", ":TYPE"], f"neo4j relationships header {list(r4.columns)}")
    check(len(n4) == accounts + attributes and len(r4) == links, "neo4j: row counts")
    check(set(r4[":START_ID"]) <= set(n4["id:ID"]) and set(r4[":END_ID"]) <= set(n4["id:ID"]), "neo4j: dangling ids")
    labels = n4[":LABEL"].str.split(";")
    check(all(("Account" in l) != ("Attribute" in l) for l in labels), "neo4j: labels")
    check(((n4[":LABEL"].str.contains("Flagged")) == (n4["flagged:boolean"].astype(str).str.lower() == "true")).all(),
          "neo4j: Flagged label")

# ---- bundle -------------------------------------------------------------------
if os.path.exists(path("bundle.zip")):
    import zipfile
    with zipfile.ZipFile(path("bundle.zip")) as z:
        check(z.testzip() is None, "bundle: a member's CRC is wrong")
        names = z.namelist()
        folders = {n.split("/")[0] for n in names}
        check(len(folders) == 1, f"bundle: one folder, got {folders}")
        want = {"notebook.ipynb", "nodes.csv", "edges.csv", "clusters.csv", "graph.graphml", "graph.json"}
        check(want <= {n.split("/", 1)[1] for n in names}, f"bundle: {names}")
        for n in names:
            base = n.split("/", 1)[1]
            with open(path(base), "rb") as f:
                same = z.read(n) == f.read() or base == "notebook.ipynb"
            check(same, f"bundle: {base} differs from the file written beside it")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"ok: {accounts} accounts, {attributes} attributes, {links} links read by pandas, networkx, python-igraph")
