#!/usr/bin/python3
"""Scores any detector's CSV (account,score,flagged,cluster) against the
simulator's truth (account,ring,tactic) with the same rules as
`ringwatch eval`, so ringwatch and the baselines are judged by one piece of
code. Usage: eval_scores.py truth.csv scores.csv [--json]"""
import csv
import json
import sys

HARD = ("office", "campus")


def load_truth(path):
    accounts, ring, tactic = [], [], []
    with open(path, newline="") as f:
        r = csv.reader(f)
        next(r)  # header
        for row in r:
            if not row:
                continue
            accounts.append(row[0])
            ring.append(bool(row[1]))
            tactic.append(row[2] if len(row) > 2 else "")
    return accounts, ring, tactic


def load_scores(path):
    """account -> (score, flagged); csv handles ringwatch's quoted ids."""
    out = {}
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        if header[:3] != ["account", "score", "flagged"]:
            sys.exit(f"{path}: expected a header account,score,flagged,..., got {header}")
        for row in r:
            if row:
                out[row[0]] = (float(row[1]), row[2].strip() not in ("0", ""))
    return out


def evaluate(truth_path, scores_path):
    accounts, ring, tactic = load_truth(truth_path)
    sc = load_scores(scores_path)
    n = len(accounts)
    score = [0.0] * n
    flag = [False] * n
    known = 0
    for i, a in enumerate(accounts):
        s = sc.get(a)
        if s is not None:
            score[i], flag[i] = s
            known += 1
    tp = fp = fn = benign = hard = hard_flagged = rings = 0
    per_total, per_hit = {}, {}
    for i in range(n):
        if ring[i]:
            rings += 1
            per_total[tactic[i]] = per_total.get(tactic[i], 0) + 1
            per_hit[tactic[i]] = per_hit.get(tactic[i], 0) + flag[i]
            tp += flag[i]
            fn += not flag[i]
        else:
            benign += 1
            fp += flag[i]
            if tactic[i] in HARD:
                hard += 1
                hard_flagged += flag[i]
    # Average precision over the score ranking, ties broken pessimistically
    # (benign first), exactly as ringwatch eval does.
    order = sorted(range(n), key=lambda i: (-score[i], ring[i]))
    ap, seen = 0.0, 0
    for rank, i in enumerate(order, 1):
        if ring[i]:
            seen += 1
            ap += seen / rank
    ap = ap / rings if rings else 0.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / rings if rings else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accounts": n,
        "ring_accounts": rings,
        "scored_accounts": known,
        "unknown_scored": len(sc) - known,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "ap": ap,
        "flagged": tp + fp,
        "benign_flagged": fp / benign if benign else 0.0,
        "benign_flagged_n": fp,
        "hard_flagged": hard_flagged / hard if hard else 0.0,
        "hard_flagged_n": hard_flagged,
        "hard_n": hard,
        "recall_tactic": {t: per_hit[t] / per_total[t] for t in sorted(per_total)},
        "tactic_n": {t: per_total[t] for t in sorted(per_total)},
    }


def main():
    args = [a for a in sys.argv[1:] if a != "--json"]
    if len(args) != 2:
        sys.exit(__doc__)
    m = evaluate(*args)
    if "--json" in sys.argv:
        json.dump(m, sys.stdout)
        print()
        return
    print(f"accounts            {m['accounts']} ({m['ring_accounts']} in rings)")
    for k in ("precision", "recall", "f1"):
        print(f"{k:<20}{m[k]:.4f}")
    print(f"average_precision   {m['ap']:.4f}")
    print(f"benign_flagged      {m['benign_flagged']:.5f} ({m['benign_flagged_n']})")
    print(f"office_campus_flagged {m['hard_flagged']:.5f} ({m['hard_flagged_n']} of {m['hard_n']})")
    for t, r in m["recall_tactic"].items():
        print(f"recall[{t}] {r:.4f} (of {m['tactic_n'][t]})")


if __name__ == "__main__":
    main()
