#!/usr/bin/python3
"""The notebook baseline: what an analyst would write with python-igraph
against a ringwatch database. Reads accounts and the edges view with the
sqlite3 module, builds the bipartite account-attribute graph (weight 1 per
edge, attributes seen with more than --hub-degree accounts dropped as hubs),
runs igraph's Leiden with the modularity objective, and flags communities
with simple size and burst rules:

  >= --min-size accounts, and either >= 50% of them signed up within one
  24-hour window, or >= --min-share accounts share one device or card.

--share-out also writes the variant an analyst reaches after one look at the
first output (stock phone fingerprints below the hub cut glue whole
neighbourhoods): the sharing accounts must also be >= 50% of the community.
The score (for average precision) is the larger of the burst share and the
sharing share, halved below --min-size, 0 for single accounts.

Writes account,score,flagged,cluster (the same CSV as `ringwatch scores`)
and prints on stdout, one `key=value` per line: leiden_s (the
community_leiden call alone, time.perf_counter; leiden_cpu_s, its CPU
time), read_s, build_s, rules_s,
total_s, the graph's size and peak_rss_mb.

Usage: baseline_igraph.py DB OUT.csv [--hub-degree 200] [--iterations 2]
"""
import argparse
import csv
import random
import resource
import sqlite3
import sys
import time

import igraph as ig
import numpy as np

KIND_DEVICE, KIND_PAYMENT = 2, 3
DAY = 86400


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db")
    ap.add_argument("out")
    ap.add_argument("--hub-degree", type=int, default=200)
    ap.add_argument("--iterations", type=int, default=2, help="n_iterations of community_leiden (igraph 0.10.2: <0 runs one)")
    ap.add_argument("--min-size", type=int, default=5)
    ap.add_argument("--burst-share", type=float, default=0.5)
    ap.add_argument("--min-share", type=int, default=5)
    ap.add_argument("--share-frac", type=float, default=0.0, help="the sharing accounts must also be this share of the community")
    ap.add_argument("--share-out", help="also write the variant whose sharing accounts are >= 50%% of the community")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    t0 = time.perf_counter()

    # --- read: accounts and the edges view, plus each attribute's kind.
    con = sqlite3.connect(f"file:{a.db}?mode=ro", uri=True)
    acc = con.execute("SELECT id, ext, first_seen FROM accounts ORDER BY id").fetchall()
    kinds = np.array(con.execute("SELECT id, kind FROM attributes").fetchall(), dtype=np.int64).reshape(-1, 2)
    edges = np.array(con.execute("SELECT account, attribute FROM edges").fetchall(), dtype=np.int64).reshape(-1, 2)
    con.close()
    t_read = time.perf_counter()

    # --- build: accounts are vertices 0..na-1, kept attributes follow.
    na = len(acc)
    acc_id = np.fromiter((r[0] for r in acc), dtype=np.int64, count=na)
    ext = [r[1] for r in acc]
    first_seen = np.fromiter((r[2] for r in acc), dtype=np.int64, count=na)
    maxid = int(max(acc_id.max(initial=0), kinds[:, 0].max(initial=0), edges.max(initial=0))) + 1
    acc_vertex = np.full(maxid, -1, dtype=np.int64)
    acc_vertex[acc_id] = np.arange(na)
    kind = np.zeros(maxid, dtype=np.int8)
    kind[kinds[:, 0]] = kinds[:, 1]
    attr_deg = np.bincount(edges[:, 1], minlength=maxid)
    keep = attr_deg[edges[:, 1]] <= a.hub_degree
    e = edges[keep]
    hubs = int(np.count_nonzero(attr_deg > a.hub_degree))
    attrs, attr_vertex = np.unique(e[:, 1], return_inverse=True)
    src = acc_vertex[e[:, 0]]
    dst = na + attr_vertex
    g = ig.Graph(n=na + len(attrs), edges=np.column_stack([src, dst]).tolist(), directed=False)
    g.es["weight"] = 1.0
    t_build = time.perf_counter()

    # --- Leiden, timed alone.
    ig.set_random_number_generator(random.Random(a.seed))
    tl, cl = time.perf_counter(), time.process_time()
    part = g.community_leiden(objective_function="modularity", weights="weight", n_iterations=a.iterations)
    leiden_s = time.perf_counter() - tl
    leiden_cpu_s = time.process_time() - cl  # beside wall time: what a shared machine does not inflate
    t_leiden = time.perf_counter()

    # --- rules per community (accounts only).
    memb = np.asarray(part.membership, dtype=np.int64)
    cm = memb[:na]
    ncomm = int(memb.max(initial=-1)) + 1
    size = np.bincount(cm, minlength=ncomm)
    # Burst: the most signups of a community within any 24 hours.
    order = np.lexsort((first_seen, cm))
    cs, ts = cm[order], first_seen[order]
    starts = np.searchsorted(cs, np.arange(ncomm))
    burst = np.zeros(ncomm, dtype=np.int64)
    big = np.nonzero(size >= a.min_size)[0]
    for c in big:
        t = ts[starts[c] : starts[c] + size[c]]
        burst[c] = int((np.searchsorted(t, t + DAY, side="left") - np.arange(len(t))).max())
    # Sharing: the most accounts of a community on one device or card of it.
    ek = kind[e[:, 1]]
    dc = (ek == KIND_DEVICE) | (ek == KIND_PAYMENT)
    attr_comm_acc = cm[src[dc]]
    same = memb[dst[dc]] == attr_comm_acc
    per_attr = np.bincount(dst[dc][same], minlength=g.vcount())
    shared = np.zeros(ncomm, dtype=np.int64)
    np.maximum.at(shared, memb[na:], per_attr[na:])
    burst_frac = np.where(size > 0, burst / np.maximum(size, 1), 0.0)
    share_frac = np.where(size > 0, np.minimum(shared, size) / np.maximum(size, 1), 0.0)
    score_c = np.maximum(burst_frac, share_frac) * np.where(size >= a.min_size, 1.0, 0.5)
    score_c = np.where(size >= 2, score_c, 0.0)

    def write(path, share_frac_min):
        flag_c = (size >= a.min_size) & (
            (burst_frac >= a.burst_share) | ((shared >= a.min_share) & (share_frac >= share_frac_min))
        )
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["account", "score", "flagged", "cluster"])
            sa, fa = score_c[cm], flag_c[cm]
            for i in range(na):
                c = cm[i]
                w.writerow([ext[i], f"{sa[i]:.4f}", int(fa[i]), int(c) + 1 if size[c] >= 2 else 0])
        return flag_c

    flag_c = write(a.out, a.share_frac)
    if a.share_out:
        write(a.share_out, 0.5)
    t_end = time.perf_counter()

    out = {
        "accounts": na,
        "vertices": g.vcount(),
        "edges": g.ecount(),
        "hubs_dropped": hubs,
        "communities": ncomm,
        "flagged_communities": int(flag_c.sum()),
        "flagged_accounts": int(flag_c[cm].sum()),
        "n_iterations": a.iterations,
        "modularity": round(part.modularity, 5),
        "read_s": round(t_read - t0, 3),
        "build_s": round(t_build - t_read, 3),
        "leiden_s": round(leiden_s, 3),
        "leiden_cpu_s": round(leiden_cpu_s, 3),
        "rules_s": round(t_end - t_leiden, 3),
        "total_s": round(t_end - t0, 3),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }
    for k, v in out.items():
        print(f"{k}={v}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
