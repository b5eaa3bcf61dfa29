#!/usr/bin/python3
"""Load benchmark for bench/run: wrk on loopback against ringwatch serve and,
in the same run, a hello-world libmicrohttpd server set up the same way (the
ceiling). The server is pinned to one CPU, wrk to another.

  1. hello: bench_hello_mhd, driven by bench/load/lookup.lua (GET, the same
     paths as the lookups) and by bench/load/signup.lua (POST, the same
     bodies as the signups): the ceilings.
  2. ringwatch serve on a fresh database seeded with a simulated world
     (`ringwatch simulate` + `ringwatch ingest`): GET /v1/accounts/{id} over
     the world's accounts, then POST /v1/signups of new accounts;
  3. the same signups once more on a fresh copy with `fsync = off` (a
     signup is answered once its commit is written to the OS: it survives
     kill -9, not a power loss): the difference is the fsync, the rest is
     the server's own CPU and locking (--no-nofsync skips it).
Each run is preceded by a short warm-up that is not counted. Prints a table
(req/s, latency percentiles, errors, ratios to hello, goals met) and, with
--result, appends RESULT lines to the bench report.

Columns: req/s, wrk's latency percentiles, errors (non-2xx answers plus
socket errors), bytes per answer, the CPU time of the server and of wrk over
the wall time, the CPU other processes took on the two pinned CPUs (user,
system and steal time not charged to the server or wrk; the figures are
only meaningful when that is near 0), and the server's CPU time
per request. A signup run also reads /metrics for events per group commit
and for the server's own latency histogram of the signups (from a request's
headers to its answer being ready): wrk's figures add loopback TCP and
libmicrohttpd's queue on the one pinned CPU.

Goals (the issue): lookups >= 50% of hello's GET throughput; signups >=
20,000/s with p99 <= 5 ms; zero errors (non-2xx answers and socket errors).

Usage: load.py BUILD_DIR [--work DIR] [--result FILE] [--duration S]
       [--warmup S] [--connections N] [--wrk-threads N] [--server-threads N]
       [--accounts N] [--seed S] [--server-cpu C] [--client-cpu C] [--nice N]
       [--no-nofsync] [--bin RINGWATCH] [--hello BENCH_HELLO_MHD]
Environment: BENCH_LOAD_SECONDS, BENCH_LOAD_CONNECTIONS,
BENCH_LOAD_SERVER_THREADS, BENCH_LOAD_ACCOUNTS, BENCH_LOAD_NICE set the
defaults of the matching options.
Everything listens on 127.0.0.1 only; every process it starts is stopped
when it ends, also on SIGINT/SIGTERM.
"""
import argparse
import json
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
GOAL_LOOKUP_RATIO = 0.50
GOAL_SIGNUPS = 20000
GOAL_SIGNUP_P99_MS = 5.0

children = []  # Popen objects still to stop


def log(msg):
    print(msg, flush=True)


def stop(p, grace=30.0):
    """SIGTERM, then SIGKILL after grace seconds. Returns the exit code."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in children:
        children.remove(p)
    return p.returncode


def cleanup(*_):
    for p in list(children):
        stop(p, 5.0)
    if _:
        sys.exit(130)


def rmdb(path):
    for s in ("", "-wal", "-shm", ".key"):
        try:
            os.remove(path + s)
        except FileNotFoundError:
            pass


NICE = 0  # --nice: priority of the servers and wrk


def pin(cpu):
    """The command prefix that pins to cpu."""
    return ["taskset", "-c", str(cpu)] if cpu is not None else []


def spawn(cmd, **kw):
    """Popen; with --nice, in a session of its own whose autogroup gets that
    nice value (with autogroup scheduling, a process's own nice only counts
    inside its session, so `nice` alone does not lift it above other
    sessions' work)."""
    if NICE:
        cmd = ["nice", "-n", str(NICE)] + cmd
        kw["start_new_session"] = True
    p = subprocess.Popen(cmd, **kw)
    if NICE:
        try:
            with open(f"/proc/{p.pid}/autogroup", "w") as f:
                f.write(str(NICE))
        except OSError:
            pass  # no autogroup scheduling: nice alone does it
    return p


def start_server(cmd, env, errfile, what, timeout=120.0):
    """Starts cmd (stderr to errfile) and waits for its 'listening on
    127.0.0.1:PORT' line. Returns (Popen, port)."""
    err = open(errfile, "w")
    p = spawn(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    err.close()
    children.append(p)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        with open(errfile) as f:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
        if m:
            return p, int(m.group(1))
        if p.poll() is not None:
            break
        time.sleep(0.05)
    stop(p, 5.0)
    with open(errfile) as f:
        sys.exit(f"load.py: {what} did not start:\n{f.read()}")


def cpu_times():
    """{cpu index: (busy, total) jiffies} from /proc/stat; busy leaves out
    idle, iowait and interrupt time (loopback TCP's softirqs are largely the
    benchmark's own, and are not charged to any process)."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            m = re.match(r"cpu(\d+) (.*)", line)
            if m:
                v = [int(x) for x in m.group(2).split()]
                busy = v[0] + v[1] + v[2] + v[7]  # user, nice, system, steal
                out[int(m.group(1))] = (busy, sum(v[:8]))
    return out


def proc_cpu(pid):
    """CPU seconds (user + system, all threads) of pid."""
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu():
    """CPU seconds of reaped children (here: the wrk runs)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_wrk(cmd, env, timeout):
    p = spawn(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    children.append(p)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(p, 5.0)
        sys.exit(f"load.py: wrk did not end within {timeout} s")
    children.remove(p)
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def wrk(args, url, script, env, server, duration, warmup, tag, on_start=None):
    """Runs a warm-up and then a measured wrk run; returns the figures."""
    base = pin(args.client_cpu) + ["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections),
                                   "--timeout", "5s", "-s", script]
    if warmup > 0:
        w = run_wrk(base + ["-d", f"{warmup}s", url], dict(env, BENCH_TAG=tag + "w"), warmup + 60)
        if w.returncode != 0:
            sys.exit(f"load.py: wrk failed ({w.returncode}):\n{w.stdout}\n{w.stderr}")
    if on_start:
        on_start()
    c0, s0, w0, k0 = cpu_times(), proc_cpu(server.pid), time.monotonic(), children_cpu()
    e = dict(env, BENCH_TAG=tag)
    r = run_wrk(base + ["-d", f"{duration}s", "--latency", url], e, duration + 60)
    c1, s1, w1, k1 = cpu_times(), proc_cpu(server.pid), time.monotonic(), children_cpu()
    if r.returncode != 0:
        sys.exit(f"load.py: wrk failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    m = re.search(r"^BENCH_JSON (\{.*\})$", r.stdout, re.M)
    if not m:
        sys.exit(f"load.py: no BENCH_JSON line from {script}:\n{r.stdout}\n{r.stderr}")
    j = json.loads(m.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", r.stdout)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    res = {
        "rps": float(rps.group(1)) if rps else j["requests"] / (j["duration_us"] / 1e6),
        "requests": j["requests"],
        "duration_s": j["duration_us"] / 1e6,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket": sum(int(x) for x in sock.groups()) if sock else 0,
        "p50": j["p50_us"] / 1000, "p90": j["p90_us"] / 1000, "p99": j["p99_us"] / 1000,
        "p999": j["p999_us"] / 1000, "max": j["max_us"] / 1000,
        "bytes": j["bytes"] / max(j["requests"], 1),
        "server_cpu": (s1 - s0) / (w1 - w0),
        "client_cpu": (k1 - k0) / (w1 - w0),
        "server_us": (s1 - s0) / max(j["requests"], 1) * 1e6,
    }
    res["errors"] = res["non2xx"] + res["socket"]
    for name, cpu in (("server_core", args.server_cpu), ("client_core", args.client_cpu)):
        if cpu is not None and cpu in c0 and cpu in c1:
            db, dt = c1[cpu][0] - c0[cpu][0], c1[cpu][1] - c0[cpu][1]
            res[name] = db / dt if dt else 0.0
    if res["errors"]:
        res["wrk_out"] = r.stdout
    return res


def metrics(port, token):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r"(ringwatch_(?:engine_events_recorded_total\{type=\"signup\"\}|engine_commits_total|"
                     r"engine_commit_failures_total|signup_decisions_total\{verdict=\"\w+\"\}))\s+(\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
        # The signup route's latency histogram (from the request's headers
        # to its answer being ready): what the server itself adds, without
        # the loopback and libmicrohttpd's queue that wrk also counts.
        m = re.match(r'ringwatch_http_request_duration_seconds_bucket\{route="/v1/signups",method="POST",'
                     r'le="([^"]+)"\}\s+(\d+)', line)
        if m:
            out["le " + m.group(1)] = int(m.group(2))
    return out


def server_side(delta):
    """From a run's histogram deltas: (count, [(bound ms, share within)],
    the smallest bucket bound holding 99% of the signups)."""
    b = sorted((float("inf") if k[3:] == "+Inf" else float(k[3:]), v) for k, v in delta.items() if k.startswith("le "))
    total = b[-1][1] if b else 0
    if not total:
        return 0, [], None
    shares = [(le * 1e3, n / total) for le, n in b if le in (0.001, 0.0025, 0.005, 0.01)]
    p99 = next((le * 1e3 for le, n in b if n >= 0.99 * total), None)
    return total, shares, p99


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build")
    ap.add_argument("--bin", help="ringwatch binary (BUILD/ringwatch)")
    ap.add_argument("--hello", help="bench_hello_mhd binary (BUILD/bench_hello_mhd)")
    ap.add_argument("--work", help="scratch folder (BUILD/bench)")
    ap.add_argument("--result", help="append RESULT lines to this file")
    ap.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_LOAD_SECONDS", 10)))
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--connections", type=int, default=int(os.environ.get("BENCH_LOAD_CONNECTIONS", 32)))
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--server-threads", type=int, default=int(os.environ.get("BENCH_LOAD_SERVER_THREADS", 2)),
                    help="MHD thread pool of both servers (ringwatch's `threads`; default 2, ringwatch's own default)")
    ap.add_argument("--accounts", type=int, default=int(os.environ.get("BENCH_LOAD_ACCOUNTS", 20000)))
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--nice", type=int, default=int(os.environ.get("BENCH_LOAD_NICE", 0)),
                    help="nice value of the servers and wrk (root may give e.g. -10 on a shared machine)")
    ap.add_argument("--no-nofsync", dest="nofsync", action="store_false",
                    help="skip the extra signup run with fsync = off")
    ap.add_argument("--hello-bytes", type=int, default=750, help="hello's answer size (a lookup's is about 750)")
    args = ap.parse_args()
    global NICE
    NICE = args.nice

    rw = args.bin or os.path.join(args.build, "ringwatch")
    hello = args.hello or os.path.join(args.build, "bench_hello_mhd")
    work = os.path.join(args.work or os.path.join(args.build, "bench"), "load")
    os.makedirs(work, exist_ok=True)
    for exe in (rw, hello):
        if not os.access(exe, os.X_OK):
            sys.exit(f"load.py: {exe} is missing (cmake --build BUILD --target ringwatch benchmarks)")
    if not shutil.which("wrk"):
        sys.exit("load.py: wrk is missing (scripts/install-deps bench installs it)")
    ncpu = os.cpu_count() or 1
    if ncpu < 2 or max(args.server_cpu, args.client_cpu) >= ncpu or args.server_cpu == args.client_cpu:
        log(f"   load: {ncpu} CPU(s): not pinning server and wrk")
        args.server_cpu = args.client_cpu = None
    elif not shutil.which("taskset"):
        sys.exit("load.py: taskset is missing (util-linux)")

    if subprocess.run([rw, "serve", "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
        log(f"   load: skipped: {rw} has no serve command")
        if args.result:
            with open(args.result, "a") as f:
                f.write(f"RESULT load: skipped ({rw} has no serve command)\n")
        return
    signal.signal(signal.SIGTERM, cleanup)
    signal.signal(signal.SIGINT, cleanup)
    try:
        run(args, rw, hello, work)
    finally:
        cleanup()


def run(args, rw, hello, work):
    # The world, cached in WORK/load under the names bench/run gives its worlds.
    sfx = "" if args.seed == 11 else f"-s{args.seed}"
    events = os.path.join(work, f"events-{args.accounts}{sfx}.jsonl")
    truth = os.path.join(work, f"truth-{args.accounts}{sfx}.csv")
    if not (os.path.getsize(events) if os.path.exists(events) else 0) or not os.path.exists(truth):
        subprocess.run([rw, "simulate", "--accounts", str(args.accounts), "--seed", str(args.seed), "--out", events,
                        "--truth", truth], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ids = os.path.join(work, f"ids-{args.accounts}{sfx}.txt")
    with open(truth) as f, open(ids, "w") as o:
        next(f)
        for line in f:
            o.write(line.split(",", 1)[0] + "\n")
    ts_max = 0
    with open(events) as f:
        for line in f:
            m = re.search(r'"ts":(\d+)', line)
            if m:
                ts_max = max(ts_max, int(m.group(1)))
    ts0 = ts_max + 3600

    tokens = {r: f"bench-{r}-{secrets.token_hex(12)}" for r in ("signup", "analyst", "admin")}
    env = dict(os.environ)
    for k in [k for k in env if k.startswith("RINGWATCH_")]:
        del env[k]  # only what we set here
    env.update({f"RINGWATCH_TOKEN_{r.upper()}": t for r, t in tokens.items()})
    env["RINGWATCH_THREADS"] = str(args.server_threads)
    env["RINGWATCH_LOG_LEVEL"] = "info"
    env["RINGWATCH_RESCORE_AT"] = ""
    lookup_lua = os.path.join(HERE, "load", "lookup.lua")
    signup_lua = os.path.join(HERE, "load", "signup.lua")
    d, wu = args.duration, args.warmup
    cfg = (f"wrk -t{args.wrk_threads} -c{args.connections}, {d} s per run after {wu} s of warm-up; "
           f"{args.server_threads} MHD threads (epoll); server on CPU {args.server_cpu}, wrk on CPU {args.client_cpu}"
           + (f"; nice {args.nice}" if args.nice else ""))
    log(f"== load: {cfg}")
    res = {}

    log("-- hello-world libmicrohttpd (the ceiling)")
    p, port = start_server(pin(args.server_cpu) + [hello, "--port", "0", "--threads", str(args.server_threads),
                                                   "--bytes", str(args.hello_bytes)],
                           env, os.path.join(work, "hello.err"), "bench_hello_mhd")
    url = f"http://127.0.0.1:{port}"
    res["hello_get"] = wrk(args, url, lookup_lua, dict(env, BENCH_IDS=ids, BENCH_TOKEN=tokens["analyst"]), p, d, wu,
                           "h")
    res["hello_post"] = wrk(args, url, signup_lua, dict(env, BENCH_TS0=str(ts0), BENCH_TOKEN=tokens["signup"]), p, d,
                            wu, "h")
    stop(p, 10.0)

    def serve(dbdir, label, phases, extra_env=None):
        """ringwatch serve on a fresh copy of the world in dbdir; runs the
        phases ("lookup", "signup"), storing results under label + phase."""
        log(f"-- ringwatch serve on a fresh database of {args.accounts} simulated accounts (seed {args.seed}) "
            f"in {dbdir}")
        db = os.path.join(dbdir, "load.db")
        rmdb(db)
        subprocess.run([rw, "ingest", "--quiet", "--db", db, events], check=True, stdout=subprocess.DEVNULL)
        p, port = start_server(pin(args.server_cpu) + [rw, "serve", "--db", db, "--listen", "127.0.0.1:0"],
                               dict(env, **(extra_env or {})),
                               os.path.join(work, "serve.err"), "ringwatch serve")
        url = f"http://127.0.0.1:{port}"
        if "lookup" in phases:
            res[label + "lookup"] = wrk(args, url, lookup_lua, dict(env, BENCH_IDS=ids, BENCH_TOKEN=tokens["analyst"]),
                                        p, d, wu, label + "l")
        if "signup" in phases:
            m0 = {}
            r = wrk(args, url, signup_lua, dict(env, BENCH_TS0=str(ts0 + 86400), BENCH_TOKEN=tokens["signup"]), p, d,
                    wu, label + "s", on_start=lambda: m0.update(metrics(port, tokens["admin"])))
            m1 = metrics(port, tokens["admin"])
            delta = {k: m1.get(k, 0) - m0.get(k, 0) for k in m1}
            r["recorded"] = delta.get('ringwatch_engine_events_recorded_total{type="signup"}', 0)
            r["commits"] = delta.get("ringwatch_engine_commits_total", 0)
            r["commit_failures"] = delta.get("ringwatch_engine_commit_failures_total", 0)
            r["verdicts"] = {v: delta.get(f'ringwatch_signup_decisions_total{{verdict="{v}"}}', 0)
                             for v in ("allow", "review", "block")}
            r["server_side"] = server_side(delta)
            res[label + "signup"] = r
        rc = stop(p, 60.0)
        if rc != 0:
            with open(os.path.join(work, "serve.err")) as f:
                sys.exit(f"load.py: ringwatch serve exited {rc}:\n{f.read()}")
        rmdb(db)

    serve(work, "", ("lookup", "signup"))
    # The same signups answered once written, not synced (fsync = off): what
    # is left is the server's own CPU and locking, not the disk's flushes.
    if args.nofsync:
        serve(work, "nofsync_", ("signup",), {"RINGWATCH_FSYNC": "off"})

    report(args, res, cfg)

def others(r):
    """Share of the two pinned CPUs used by anything but the server and wrk."""
    if "server_core" not in r:
        return 0.0
    return max(0.0, r["server_core"] - r["server_cpu"]) + max(0.0, r["client_core"] - r["client_cpu"])


def report(args, res, cfg):
    hg, hp = res["hello_get"]["rps"], res["hello_post"]["rps"]
    rows = [("hello GET (MHD ceiling)", "hello_get"), ("hello POST (MHD ceiling)", "hello_post"),
            ("GET /v1/accounts/{id}", "lookup"), ("POST /v1/signups", "signup"),
            ("POST /v1/signups, fsync off", "nofsync_signup")]
    rows = [(n, k) for n, k in rows if k in res]
    log(f"   {'run':<28}{'req/s':>8}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'p99.9':>8}{'max ms':>8}"
        f"{'errors':>7}{'B/resp':>7}{'server':>7}{'wrk':>6}{'others':>7}{'us/req':>7}")
    for name, k in rows:
        r = res[k]
        log(f"   {name:<28}{r['rps']:>8.0f}{r['p50']:>8.2f}{r['p90']:>8.2f}{r['p99']:>8.2f}{r['p999']:>8.2f}"
            f"{r['max']:>8.1f}{r['errors']:>7}{r['bytes']:>7.0f}{r['server_cpu']:>7.0%}{r['client_cpu']:>6.0%}"
            f"{others(r):>7.0%}{r['server_us']:>7.1f}")
    log("   (server, wrk: CPU time of each over the run's wall time; others: CPU the rest of the machine took on"
        " the two pinned CPUs; us/req: the server's CPU time per request)")
    # The hello runs keep both pinned CPUs busy, so what others take there is
    # taken from the benchmark; in runs that wait on the disk, others may
    # just be using the idle time.
    busy = max(others(res[k]) for k in ("hello_get", "hello_post"))
    if busy > 0.10:
        log(f"   WARNING: other processes took up to {busy:.0%} of a CPU (over both pinned CPUs) during the hello "
            "runs: the figures are low and noisy; rerun on an idle machine")
    for _, k in rows:
        if res[k]["errors"]:
            log(f"   {k}: {res[k]['non2xx']} non-2xx answers, {res[k]['socket']} socket errors; wrk said:")
            log("\n".join("     " + line for line in res[k]["wrk_out"].splitlines()))
    lk, sg = res["lookup"], res["signup"]
    lratio, sratio, spratio = lk["rps"] / hg, sg["rps"] / hg, sg["rps"] / hp
    ok_l = lratio >= GOAL_LOOKUP_RATIO and lk["errors"] == 0

    def meets(r):
        return r["rps"] >= GOAL_SIGNUPS and r["p99"] <= GOAL_SIGNUP_P99_MS and r["errors"] == 0

    ok_s = meets(sg)
    yes = {True: "met", False: "MISSED"}

    def commits(r):
        per = r["recorded"] / r["commits"] if r["commits"] else 0.0
        v = r["verdicts"]
        return (f"{r['recorded']} events in {r['commits']} group commits ({per:.1f} per commit, "
                f"{r['commits'] / (r.get('duration_s') or args.duration):.0f} commits/s), "
                f"{r['commit_failures']} failed; allow {v['allow']}, review {v['review']}, block {v['block']}")

    log(f"   lookups/hello GET {lratio:.2f} (goal >= {GOAL_LOOKUP_RATIO:.2f}, zero errors): {yes[ok_l]}")
    log(f"   signups {sg['rps']:.0f}/s, p99 {sg['p99']:.2f} ms (goal >= {GOAL_SIGNUPS}/s, p99 <= "
        f"{GOAL_SIGNUP_P99_MS:g} ms, zero errors): {yes[ok_s]}; signups/hello GET {sratio:.2f}, "
        f"signups/hello POST {spratio:.2f}")
    def inside(r):
        n, shares, p99 = r.get("server_side") or (0, [], None)
        if not n:
            return "no histogram"
        within = ", ".join(f"{sh:.1%} within {ms:g} ms" for ms, sh in shares)
        return f"{n} answered: {within}; p99 at most {p99:g} ms" if p99 != float("inf") else within

    log(f"   signups on disk: {commits(sg)}")
    log(f"   signups inside the server (headers read to answer ready): {inside(sg)}")
    tm = res.get("nofsync_signup")
    if tm:
        ok_n = meets(tm)
        log(f"   signups with fsync = off {tm['rps']:.0f}/s, p99 {tm['p99']:.2f} ms (same goal): {yes[ok_n]}")
        log(f"   signups with fsync = off: {commits(tm)}")
        log(f"   signups with fsync = off inside the server: {inside(tm)}")
    if not args.result:
        return
    la = open("/proc/loadavg").read().split()[:3]
    with open(args.result, "a") as f:
        f.write(
            f"RESULT load: {cfg}; load average {' '.join(la)} at end; other processes took up to {busy:.0%} "
            f"of a CPU (over the two pinned CPUs) during the hello runs\n"
            f"  hello-world MHD: GET {hg:.0f} req/s (p99 {res['hello_get']['p99']:.2f} ms), "
            f"POST {hp:.0f} req/s (p99 {res['hello_post']['p99']:.2f} ms)\n"
            f"  lookups GET /v1/accounts/{{id}}: {lk['rps']:.0f} req/s, p50 {lk['p50']:.2f} ms, p99 {lk['p99']:.2f} ms, "
            f"{lk['errors']} errors; ratio to hello GET {lratio:.2f} (goal >= {GOAL_LOOKUP_RATIO:.2f}): {yes[ok_l]}\n"
            f"  signups POST /v1/signups: {sg['rps']:.0f} req/s, p50 {sg['p50']:.2f} ms, p99 {sg['p99']:.2f} ms, "
            f"{sg['errors']} errors; ratio to hello GET {sratio:.2f}, to hello POST {spratio:.2f} "
            f"(goal >= {GOAL_SIGNUPS}/s with p99 <= {GOAL_SIGNUP_P99_MS:g} ms): {yes[ok_s]}; "
            f"{sg['recorded'] / max(sg['commits'], 1):.1f} events per group commit; inside the server {inside(sg)}\n")
        if tm:
            f.write(f"  signups with fsync = off (survive kill -9, not power loss): {tm['rps']:.0f} req/s, p50 {tm['p50']:.2f} ms, "
                    f"p99 {tm['p99']:.2f} ms, {tm['errors']} errors, "
                    f"{tm['recorded'] / max(tm['commits'], 1):.1f} events per group commit; inside the server "
                    f"{inside(tm)}\n")


if __name__ == "__main__":
    main()
