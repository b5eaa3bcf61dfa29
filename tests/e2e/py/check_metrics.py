"""Parses a /metrics answer with the Prometheus client library's own text
parser (Debian's python3-prometheus-client) and checks the conventional
series are there with sane values.

usage: check_metrics.py METRICS.txt SIGNUPS LOGINS PAYMENTS"""
import sys

from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
signups, logins, payments = map(int, sys.argv[2:5])
families = {f.name: f for f in text_string_to_metric_families(text)}
samples = {}
for f in families.values():
    for s in f.samples:
        samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
failures = []


def value(name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def check(ok, what):
    if not ok:
        failures.append(what)


# The client library strips _total from a counter family's name.
want = {
    "process_cpu_seconds": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "process_start_time_seconds": "gauge",
    "ringwatch_build_info": "gauge",
    "ringwatch_rescore_last_success_timestamp_seconds": "gauge",
    "ringwatch_engine_commit_duration_seconds": "histogram",
    "ringwatch_engine_commit_queue_events": "gauge",
    "ringwatch_run_flagged_clusters": "gauge",
    "ringwatch_run_flagged_accounts": "gauge",
    "ringwatch_engine_events_recorded": "counter",
    "ringwatch_engine_signups_raised": "counter",
}
for name, kind in want.items():
    check(name in families and families[name].type == kind,
          f"{name}: {families[name].type if name in families else 'missing'}, want {kind}")

check(value("process_resident_memory_bytes") and value("process_resident_memory_bytes") > 1 << 20, "RSS")
check(0 < (value("process_open_fds") or 0) < (value("process_max_fds") or 0), "open fds within max fds")
check((value("process_start_time_seconds") or 0) > 1.5e9, "start time is Unix seconds")
build = [s for s in families.get("ringwatch_build_info").samples] if "ringwatch_build_info" in families else []
check(len(build) == 1 and build[0].value == 1 and {"version", "commit"} <= set(build[0].labels),
      f"build info {build}")
check((value("ringwatch_rescore_last_success_timestamp_seconds") or 0) > 1.5e9, "last success timestamp")
check((value("ringwatch_run_flagged_clusters") or 0) >= 1, "flagged clusters of the run")
check((value("ringwatch_run_flagged_accounts") or 0) >= (value("ringwatch_run_flagged_clusters") or 0),
      "flagged accounts")
count = value("ringwatch_engine_commit_duration_seconds_count")
check(count is not None and count >= 1 and value("ringwatch_engine_commit_duration_seconds_bucket", le="+Inf") == count,
      "commit histogram")
for kind, n in (("signup", signups), ("login", logins), ("payment", payments)):
    got = value("ringwatch_engine_events_recorded_total", type=kind)
    check(got == n, f"events recorded {kind}: {got}, want {n}")

for rule in ("batch_verdict", "new_device", "stopped_attribute"):
    got = value("ringwatch_engine_signups_raised_total", rule=rule)
    check(got is not None and 0 <= got <= signups, f"signups raised by {rule}: {got}")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"ok: {len(families)} families")
