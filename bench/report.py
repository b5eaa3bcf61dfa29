#!/usr/bin/python3
"""Tables for bench/run.

report.py quality DIR SEED...
    DIR/<detector>-<seed>.json are eval_scores.py --json outputs; prints one
    row per metric, one column per detector: the mean over seeds and the
    range, then the per-seed F1 and the F1 ratios against ringwatch.
report.py scale FILE TARGET
    FILE has lines `accounts rescore_s rescore_rss_mb leiden_s notebook_rss_mb`;
    prints them, a least-squares fit (time: power law a*N^b in log-log;
    memory: linear c + d*N) and the values the fits give at TARGET accounts,
    labelled as extrapolated.
report.py online DIR WORLD...
    DIR/eval-<peer>-<world>.txt are `ringwatch eval --decisions` outputs (and
    velocity_rule.py's, in the same lines) for peer on (distillation on),
    off and vel (the velocity rule); prints one row per figure, one column
    per peer: the mean over the worlds and, for several, the range. A week
    without ring signups has no ring share: its cell says of how many
    worlds the mean is.
"""
import json
import math
import os
import sys

DETECTORS = [
    ("rw", "ringwatch"),
    ("ig", "igraph notebook"),
    ("igs", "igraph, share>=50%"),
    ("fr", "FRAUDAR"),
]


def quality(d, seeds):
    res = {}
    for key, _ in DETECTORS:
        runs = []
        for s in seeds:
            p = os.path.join(d, f"{key}-{s}.json")
            if os.path.exists(p):
                with open(p) as f:
                    runs.append(json.load(f))
        if runs:
            res[key] = runs
    dets = [(k, n) for k, n in DETECTORS if k in res]
    rows = [
        ("f1", lambda m: m["f1"], 3),
        ("precision", lambda m: m["precision"], 3),
        ("recall", lambda m: m["recall"], 3),
        ("average_precision", lambda m: m["ap"], 3),
        ("benign_flagged", lambda m: m["benign_flagged"], 4),
        ("office_campus_flagged", lambda m: m["hard_flagged"], 4),
        ("accounts_flagged", lambda m: m["flagged"], 0),
    ]
    tactics = sorted({t for runs in res.values() for m in runs for t in m["recall_tactic"]})
    for t in tactics:
        rows.append((f"recall[{t}]", (lambda t: lambda m: m["recall_tactic"].get(t, 0.0))(t), 3))
    w = 26
    print(f"  {'metric':<26}" + "".join(f"{n:<{w}}" for _, n in dets))
    for name, get, dec in rows:
        line = f"  {name:<26}"
        for k, _ in dets:
            v = [get(m) for m in res[k]]
            mean = sum(v) / len(v)
            if dec == 0:
                cell = f"{mean:.0f} ({min(v):.0f}-{max(v):.0f})"
            else:
                cell = f"{mean:.{dec}f} ({min(v):.{dec}f}-{max(v):.{dec}f})"
            line += f"{cell:<{w}}"
        print(line)
    # World ids such as default-200000-41: their seeds label the column.
    line = f"  {'f1 per seed ' + '/'.join(sd.rsplit('-', 1)[-1] for sd in seeds):<26}"
    for k, _ in dets:
        cell = "/".join(f"{m['f1']:.3f}" for m in res[k])
        line += f"{cell:<{w}}"
    print(line)
    if "rw" in res:
        f_rw = sum(m["f1"] for m in res["rw"]) / len(res["rw"])
        ap_rw = sum(m["ap"] for m in res["rw"]) / len(res["rw"])
        parts = []
        for k, n in dets:
            if k == "rw":
                continue
            f = sum(m["f1"] for m in res[k]) / len(res[k])
            ap = sum(m["ap"] for m in res[k]) / len(res[k])
            rf = f"{f_rw / f:.2f}" if f > 0 else "inf"
            ra = f"{ap_rw / ap:.2f}" if ap > 0 else "inf"
            parts.append(f"vs {n}: F1 x{rf}, AP x{ra}")
        print("  ratio ringwatch " + "; ".join(parts))
    times = {}
    for key, fname, fields in (
        ("rw", "rw-time-{}.txt", ("wall_s",)),
        ("ig", "ig-{}.out", ("total_s", "leiden_s")),
        ("fr", "fr-{}.out", ("total_s", "blocks")),
    ):
        vals = []
        for sd in seeds:
            kv = read_kv(os.path.join(d, fname.format(sd)))
            if all(f in kv for f in fields):
                vals.append([float(kv[f]) for f in fields])
        if vals:
            times[key] = [sum(v[i] for v in vals) / len(vals) for i in range(len(fields))]
    if times:
        parts = []
        if "rw" in times:
            parts.append(f"ringwatch rescore {times['rw'][0]:.1f} s")
        if "ig" in times:
            parts.append(f"igraph notebook {times['ig'][0]:.1f} s (Leiden alone {times['ig'][1]:.1f} s)")
        if "fr" in times:
            parts.append(f"FRAUDAR {times['fr'][0]:.1f} s ({times['fr'][1]:.1f} blocks)")
        print("  time per world, mean: " + ", ".join(parts))


ONLINE_PEERS = [
    ("on", "ringwatch, distill on"),
    ("off", "ringwatch, distill off"),
    ("vel", "velocity rule (>=3/3d)"),
]


def read_online(path):
    """The figures of one eval --decisions output; weeks as (share, partial)."""
    out, weeks = {}, []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) < 2:
                continue
            if p[0] in ("online_ring_flagged", "online_benign_flagged", "online_median_admitted_before_first_flag"):
                out[p[0]] = float(p[1])
            elif p[0].startswith("online_week["):
                # "ring S (H of N) ...": a week without ring signups has no share.
                share = float(p[2]) if int(p[5].rstrip(")")) else None
                weeks.append((share, p[-1] == "partial"))
    if weeks and weeks[0][0] is not None:
        out["first_week"] = weeks[0][0]
    full = [i for i, (_, partial) in enumerate(weeks) if not partial]
    if full:
        out["last_full_week_no"] = full[-1]
        if weeks[full[-1]][0] is not None:
            out["last_full_week"] = weeks[full[-1]][0]
    return out


def online(d, worlds):
    res = {}
    for key, _ in ONLINE_PEERS:
        runs = [read_online(os.path.join(d, f"eval-{key}-{w}.txt")) for w in worlds]
        runs = [r for r in runs if r]
        if runs:
            res[key] = runs
    peers = [(k, n) for k, n in ONLINE_PEERS if k in res]
    lastk = sorted({r["last_full_week_no"] for runs in res.values() for r in runs if "last_full_week_no" in r})
    rows = [
        ("ring reviewed|blocked", "online_ring_flagged", 4),
        ("benign reviewed|blocked", "online_benign_flagged", 5),
        ("median admitted", "online_median_admitted_before_first_flag", 1),
        ("ring, week 0 (from the cut)", "first_week", 4),
        (f"ring, last full week ({'/'.join(str(k) for k in lastk) or '-'})", "last_full_week", 4),
    ]
    w = 34
    print(f"  {'figure':<32}" + "".join(f"{n:<{w}}" for _, n in peers))
    for name, key, dec in rows:
        line = f"  {name:<32}"
        for k, _ in peers:
            v = [r[key] for r in res[k] if key in r]
            if not v:
                cell = "-"
            elif len(v) == 1:
                cell = f"{v[0]:.{dec}f}"
            else:
                cell = f"{sum(v) / len(v):.{dec}f} ({min(v):.{dec}f}-{max(v):.{dec}f})"
            if v and len(v) < len(res[k]):  # some worlds had no ring signup that week
                cell += f" [{len(v)} of {len(res[k])}]"
            line += f"{cell:<{w}}"
        print(line)


def read_kv(path):
    """key=value pairs, one or more a line."""
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for tok in f.read().split():
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    out.setdefault(k, v)
    return out


def fit_power(xs, ys):
    lx = [math.log(x) for x in xs]
    ly = [math.log(max(y, 1e-9)) for y in ys]
    n = len(xs)
    mx, my = sum(lx) / n, sum(ly) / n
    sxx = sum((a - mx) ** 2 for a in lx)
    b = sum((a - mx) * (c - my) for a, c in zip(lx, ly)) / sxx if sxx else 1.0
    a = math.exp(my - b * mx)
    return a, b


def fit_linear(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((a - mx) ** 2 for a in xs)
    d = sum((a - mx) * (c - my) for a, c in zip(xs, ys)) / sxx if sxx else 0.0
    return my - d * mx, d


def scale(path, target):
    pts = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 5:
                pts.append(tuple(float(x) for x in p[:5]))
    pts.sort()
    print(f"  {'accounts':>10} {'rescore s':>10} {'rescore MB':>11} {'igraph leiden s':>16} {'rescore/leiden':>15} {'notebook MB':>12}")
    for n, t, m, lt, nm in pts:
        print(f"  {n:>10.0f} {t:>10.2f} {m:>11.0f} {lt:>16.2f} {t / lt if lt else 0:>15.2f} {nm:>12.0f}")
    if len(pts) < 2:
        print("  (need two or more sizes to extrapolate)")
        return
    xs = [p[0] for p in pts]
    a, b = fit_power(xs, [p[1] for p in pts])
    la, lb = fit_power(xs, [p[3] for p in pts])
    c, d = fit_linear(xs, [p[2] for p in pts])
    nc, nd = fit_linear(xs, [p[4] for p in pts])
    t10, l10 = a * target**b, la * target**lb
    print(
        f"  fit: rescore time ~ N^{b:.2f}, igraph Leiden time ~ N^{lb:.2f}; "
        f"rescore memory {c:.0f} MB + {d * 1e6:.0f} MB per million accounts; "
        f"notebook memory {nc:.0f} MB + {nd * 1e6:.0f} MB per million"
    )
    print(
        f"  EXTRAPOLATED to {target:.0f} accounts (not measured): rescore {t10:.0f} s, "
        f"peak RSS {(c + d * target) / 1024:.1f} GB; igraph Leiden alone {l10:.0f} s "
        f"(ratio {t10 / l10:.2f}); notebook peak RSS {(nc + nd * target) / 1024:.1f} GB"
    )
    # A fitted exponent below 1 comes from fixed costs and flatters the
    # extrapolation; scaling the largest point linearly is the sober bound.
    n1, t1, m1, lt1, nm1 = pts[-1]
    k = target / n1
    print(
        f"  EXTRAPOLATED linearly from {n1:.0f} (x{k:.0f}, not measured): rescore {t1 * k:.0f} s, "
        f"peak RSS {m1 * k / 1024:.1f} GB; igraph Leiden alone {lt1 * k:.0f} s"
    )


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "quality":
        quality(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) >= 4 and sys.argv[1] == "online":
        online(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 4 and sys.argv[1] == "scale":
        scale(sys.argv[2], float(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
