#!/usr/bin/python3
"""Where a run's missed ring accounts are, per tactic, on a simulated world.

ceiling.py counts a ring account as linkable when it shares any attribute
below the hub degree with another member of its ring, however many strangers
use that attribute too. This script splits the ring accounts a run did not
flag by how strongly anything ties them to their ring, which says what a
better detector could still win and what it could not without flagging the
benign accounts that look the same:

  unlinked  no attribute below the hub degree shared with a ring member;
  crowd     shared only through attributes most of whose users are not of
            the ring (a tail stock fingerprint, a small carrier NAT): the
            ring members are a handful among dozens of strangers;
  pair      tied through ring-held attributes (at least half of the users
            of the ring) to exactly one other member: shaped like two
            people of a household sharing a tablet or a card;
  group     in a group of three or more tied that way; "with flagged" if
            the run flagged another account of the group.

"reachable" is the recall if every missed account in a group were flagged
too: what the graph offers beyond pairs and crowds.

Usage: missed.py EVENTS.jsonl TRUTH.csv SCORES.csv [--hub N] [--tactic T]
SCORES.csv is `ringwatch scores` output (account,score,flagged,cluster).
"""
import csv
import json
import sys
from collections import Counter, defaultdict


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    hub, only = 200, None
    if "--hub" in sys.argv:
        hub = int(sys.argv[sys.argv.index("--hub") + 1])
        args.remove(str(hub))
    if "--tactic" in sys.argv:
        only = sys.argv[sys.argv.index("--tactic") + 1]
        args.remove(only)
    if len(args) != 3:
        sys.exit(__doc__)
    events, truth_path, scores_path = args
    ring_of, tactic_of = {}, {}
    with open(truth_path) as f:
        for r in csv.DictReader(f):
            if r["ring"]:
                ring_of[r["account"]], tactic_of[r["account"]] = r["ring"], r["tactic"]
    with open(scores_path) as f:
        flagged = {r["account"] for r in csv.DictReader(f) if r["flagged"] == "1"}
    users = defaultdict(set)  # attribute -> accounts
    with open(events) as f:
        for line in f:
            e = json.loads(line)
            for k in ("ip", "device", "payment"):
                if k in e:
                    users[(k, e[k])].add(e["account"])

    # Ring members tied by ring-held attributes: union-find per ring.
    parent = {a: a for a in ring_of}

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    linked = set()  # ring accounts sharing any non-hub attribute with their ring
    for u in users.values():
        if len(u) > hub or len(u) < 2:
            continue
        by_ring = defaultdict(list)
        for a in u:
            if a in ring_of:
                by_ring[ring_of[a]].append(a)
        for ms in by_ring.values():
            if len(ms) < 2:
                continue
            linked.update(ms)
            if 2 * len(ms) >= len(u):
                for b in ms[1:]:
                    parent[find(b)] = find(ms[0])
    groups = defaultdict(list)
    for a in ring_of:
        groups[find(a)].append(a)

    count = defaultdict(Counter)
    for g in groups.values():
        any_flagged = any(a in flagged for a in g)
        for a in g:
            t = tactic_of[a]
            count[t]["members"] += 1
            if a in flagged:
                count[t]["flagged"] += 1
            elif len(g) >= 3:
                count[t]["group with flagged" if any_flagged else "group"] += 1
            elif len(g) == 2:
                count[t]["pair"] += 1
            elif a in linked:
                count[t]["crowd"] += 1
            else:
                count[t]["unlinked"] += 1

    cols = ("recall", "reachable", "unlinked", "crowd", "pair", "group", "group with flagged")
    print(f"missed ring accounts by what ties them to their ring (hub degree {hub}), share of the ring accounts")
    print(f"   {'tactic':20s}" + "".join(f"{c:>19s}" for c in cols))
    for t in sorted(count):
        if only and t != only:
            continue
        c, n = count[t], count[t]["members"]
        reach = c["flagged"] + c["group"] + c["group with flagged"]
        row = [c["flagged"] / n, reach / n] + [c[k] / n for k in cols[2:]]
        print(f"   {t:20s}" + "".join(f"{x:19.3f}" for x in row))


if __name__ == "__main__":
    main()
