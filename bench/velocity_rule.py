#!/usr/bin/python3
"""The plain velocity rule, the peer of ringwatch's signup path in bench/run.

A signup is reviewed when its device or its card already has at least
--min-others (2) other accounts whose signups carried it within the previous
--window-days (3) days, that is at least 3 signups in 3 days counting
itself; every other signup is allowed. It has no exception for hubs, as a
plain rule has none: a stock device fingerprint shared by hundreds of
strangers trips it for each of them. It reads the world's events (JSON
lines: account, ts in Unix seconds, type signup|login|payment, ip, device,
payment) in time order, and scores the decisions as `ringwatch eval
--decisions --warm-up DAYS` does, printing the same lines: an account counts
by its first signup; the accounts that signed up within DAYS days of the
first event are left out of every figure (and of a ring's admitted count);
weeks run from the first event, a week the warm-up or the end of the events
cuts short marked partial.

Usage: velocity_rule.py EVENTS.jsonl TRUTH.csv [--warm-up DAYS]
       [--window-days D] [--min-others K]
Standard library only.
"""
import argparse
import csv
import json
import sys
import time
from collections import defaultdict, deque

DAY = 86400
WEEK = 7 * DAY
HARD = ("office", "campus")


def read_truth(path):
    """account -> (ring or "", tactic); tactics in order of first appearance."""
    truth, tactics = {}, []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            truth[row["account"]] = (row["ring"], row["tactic"])
            if row["tactic"] not in tactics:
                tactics.append(row["tactic"])
    return truth, tactics


def read_signups(path):
    """The signups in time order (ts, account, device, card), the first and
    the last event time."""
    signups, first, last = [], None, None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                ev = json.loads(line)
                ts = int(ev["ts"])
            except (ValueError, KeyError, TypeError) as e:
                sys.exit(f"velocity_rule.py: {path}:{n}: {e}")
            first = ts if first is None else min(first, ts)
            last = ts if last is None else max(last, ts)
            if ev.get("type", "signup") == "signup":
                signups.append((ts, n, ev["account"], ev.get("device"), ev.get("payment")))
    signups.sort()
    return signups, first, last


def decide(signups, window, min_others):
    """account -> (signup ts, reviewed), each account by its first signup."""
    recent = defaultdict(deque)  # (kind, value) -> signup times within the window
    out = {}
    for ts, _, account, device, card in signups:
        if account in out:
            continue
        hit = False
        keys = [k for k in (("d", device), ("c", card)) if k[1]]
        for k in keys:
            q = recent[k]
            while q and q[0] < ts - window:
                q.popleft()
            hit = hit or len(q) >= min_others
        for k in keys:
            recent[k].append(ts)
        out[account] = (ts, hit)
    return out


def report(decisions, signups, truth, tactics, first, last, warm_days):
    cut = first + int(warm_days * DAY + 0.5)
    left_out = sum(1 for a, (ts, _) in decisions.items() if a in truth and ts < cut)
    kept = {a: d for a, d in decisions.items() if a in truth and d[0] >= cut}
    rings = [a for a in kept if truth[a][0]]
    benign = [a for a in kept if not truth[a][0]]
    ring_hit = sum(kept[a][1] for a in rings)
    benign_hit = sum(kept[a][1] for a in benign)
    hard = [a for a in benign if truth[a][1] in HARD]
    hard_hit = sum(kept[a][1] for a in hard)
    # A ring's accounts admitted before its first flag, in signup order.
    admitted, flagged = {}, set()
    for ts, _, account, _, _ in signups:
        if account not in kept or kept[account][0] != ts or not truth[account][0]:
            continue
        ring = truth[account][0]
        admitted.setdefault(ring, 0)
        if ring in flagged:
            continue
        if kept[account][1]:
            flagged.add(ring)
        else:
            admitted[ring] += 1
    adm = sorted(admitted.values())
    n = len(adm)
    median = 0.0 if not n else adm[n // 2] if n % 2 else (adm[n // 2 - 1] + adm[n // 2]) / 2
    share = lambda h, t: h / t if t else 0.0
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cut))
    print(f"online_warm_up {warm_days:g} days (signups from {since}; {left_out} accounts left out)")
    print(f"online_accounts     {len(kept)} ({len(rings)} in rings, {len(benign)} benign)")
    print(f"online_ring_flagged {share(ring_hit, len(rings)):.4f} ({ring_hit} reviewed or blocked at signup, 0 blocked)")
    print(f"online_benign_flagged {share(benign_hit, len(benign)):.5f} ({benign_hit})")
    print(f"online_office_campus_flagged {share(hard_hit, len(hard)):.5f} ({hard_hit} of {len(hard)})")
    print(f"online_median_admitted_before_first_flag {median:.1f} (over {n} rings)")
    for tac in tactics:
        members = [a for a in rings if truth[a][1] == tac]
        if members:
            h = sum(kept[a][1] for a in members)
            print(f"online_recall[{tac}] {share(h, len(members)):.4f} ({h} of {len(members)})")
    weeks = (last - first) // WEEK + 1
    w = [[0, 0, 0, 0] for _ in range(weeks)]  # ring, ring hit, benign, benign hit
    for a, (ts, hit) in kept.items():
        k = max(0, (ts - first) // WEEK)
        i = 0 if truth[a][0] else 2
        w[k][i] += 1
        w[k][i + 1] += hit
    for k, (r, rh, b, bh) in enumerate(w):
        start = first + k * WEEK
        partial = " partial" if start < cut or start + WEEK - 1 > last else ""
        print(f"online_week[{k}] ring {share(rh, r):.4f} ({rh} of {r}) benign {share(bh, b):.5f} ({bh} of {b}){partial}")


def main():
    ap = argparse.ArgumentParser(description="the plain velocity rule, scored like ringwatch eval --decisions")
    ap.add_argument("events")
    ap.add_argument("truth")
    ap.add_argument("--warm-up", type=float, default=0.0, dest="warm")
    ap.add_argument("--window-days", type=float, default=3.0)
    ap.add_argument("--min-others", type=int, default=2)
    a = ap.parse_args()
    if a.warm < 0:
        ap.error("--warm-up: must be at least 0")
    truth, tactics = read_truth(a.truth)
    signups, first, last = read_signups(a.events)
    if first is None:
        sys.exit(f"velocity_rule.py: {a.events}: no events")
    decisions = decide(signups, int(a.window_days * DAY), a.min_others)
    report(decisions, signups, truth, tactics, first, last, a.warm)


if __name__ == "__main__":
    main()
