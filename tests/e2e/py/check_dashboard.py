"""Checks deploy/grafana's dashboard against a real /metrics answer: every
series a panel queries is one ringwatch serves, and (with OUT.yml) writes
the panels' queries as recording rules so promtool can parse each one.

usage: check_dashboard.py DASHBOARD.json METRICS.txt [OUT.yml]"""
import json
import re
import sys

dash = json.load(open(sys.argv[1]))
served = set()
for line in open(sys.argv[2]):
    if line and not line.startswith("#"):
        served.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
served.add("up")  # Prometheus's own, per target
failures, rules = [], []
for p in dash["panels"]:
    for t in p.get("targets", []):
        expr = t["expr"]
        for name in re.findall(r"\b((?:ringwatch|process)_[a-z0-9_]+|up)\{", expr):
            if name not in served:
                failures.append(f"panel '{p['title']}': {name} is not served")
        concrete = (expr.replace("$__rate_interval", "5m").replace('"$job"', '"ringwatch"')
                    .replace('"$instance"', '".*"'))
        rules.append({"record": f"dashboard:panel{p['id']}:{t['refId']}", "expr": concrete})
if len(sys.argv) > 3:
    with open(sys.argv[3], "w") as f:
        json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f, indent=1)  # JSON is YAML
if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"ok: {len(rules)} queries in {len(dash['panels'])} panels")
