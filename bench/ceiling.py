#!/usr/bin/python3
"""How much of each ring can any graph method link, on a simulated world?

A ring account that shares no attribute with another member of its ring
(except attributes shared by crowds) looks like any benign account: no
detector that works from the graph can find it without flagging benign
accounts like it. This script measures, per tactic, the share of ring
accounts that are linkable at all; it is a ceiling for recall, not a
detector. Two ceilings:

  batch   the account shares an attribute with another member of its ring,
          anywhere in the month, whose final degree (distinct accounts) is
          at most --hub (default 200, ringwatch's hub degree);
  online  the signup event shares an attribute with an earlier member of
          its ring, whose degree at that moment is at most --hub (what the
          signup flow can know when it answers).

Each is given twice: by exact attributes (IP address, device, card) and with
subnets added (IPv4 /24, IPv6 /48), the address blocks ringwatch also links
by; a subnet counts while at most --hub accounts were seen in it.

Usage: ceiling.py EVENTS.jsonl TRUTH.csv [--hub N] [--json]
Prints one table (and with --json one JSON object) to stdout.
"""
import csv
import ipaddress
import json
import sys
from collections import Counter, defaultdict


def subnet(ip):
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return None
    bits = 24 if a.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def attributes(e, with_subnets):
    out = [(k, e[k]) for k in ("ip", "device", "payment") if k in e]
    if with_subnets and "ip" in e:
        s = subnet(e["ip"])
        if s:
            out.append(("subnet", s))
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        sys.exit(__doc__)
    hub = 200
    if "--hub" in sys.argv:
        hub = int(sys.argv[sys.argv.index("--hub") + 1])
        args = [a for a in args if a != str(hub)]
    events, truth_path = args[0], args[1]
    truth = {}
    with open(truth_path) as f:
        for r in csv.DictReader(f):
            if r["ring"]:
                truth[r["account"]] = (r["ring"], r["tactic"])

    result = {}
    for with_subnets in (False, True):
        seen = defaultdict(set)  # attribute -> accounts so far
        ring_members = defaultdict(set)  # attribute -> ring accounts so far
        online = Counter()
        signups = Counter()
        account_attrs = defaultdict(set)
        with open(events) as f:
            for line in f:
                e = json.loads(line)
                a = e["account"]
                ring = truth.get(a)
                attrs = attributes(e, with_subnets)
                if ring and e.get("type") == "signup":
                    signups[ring[1]] += 1
                    if any(len(seen[x]) <= hub and any(truth.get(b, ("",))[0] == ring[0] for b in ring_members[x])
                           for x in attrs):
                        online[ring[1]] += 1
                for x in attrs:
                    seen[x].add(a)
                    if ring:
                        ring_members[x].add(a)
                        account_attrs[a].add(x)
        batch = Counter()
        members = Counter()
        for a, (ring, tactic) in truth.items():
            members[tactic] += 1
            if any(len(seen[x]) <= hub and any(b != a and truth[b][0] == ring for b in ring_members[x])
                   for x in account_attrs[a]):
                batch[tactic] += 1
        key = "with_subnets" if with_subnets else "exact"
        result[key] = {
            "batch": {t: batch[t] / members[t] for t in members},
            "online": {t: online[t] / signups[t] for t in signups if signups[t]},
            "batch_all": sum(batch.values()) / max(sum(members.values()), 1),
            "online_all": sum(online.values()) / max(sum(signups.values()), 1),
        }

    tactics = sorted(result["exact"]["batch"])
    print(f"linkability ceilings (hub degree {hub}): share of ring accounts a graph method can link")
    print(f"   {'tactic':20s} {'batch':>8s} {'+subnets':>9s} {'online':>8s} {'+subnets':>9s}")
    for t in tactics + ["all"]:
        row = []
        for key in ("exact", "with_subnets"):
            r = result[key]
            row.append(r["batch_all"] if t == "all" else r["batch"].get(t, 0))
        online = []
        for key in ("exact", "with_subnets"):
            r = result[key]
            online.append(r["online_all"] if t == "all" else r["online"].get(t, 0))
        print(f"   {t:20s} {row[0]:8.3f} {row[1]:9.3f} {online[0]:8.3f} {online[1]:9.3f}")
    if "--json" in sys.argv:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
