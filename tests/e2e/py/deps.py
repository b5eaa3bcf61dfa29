"""Checks that Debian's python3 has the modules the export tests use, and
names the Debian package `scripts/install-deps test` installs for each one
that is missing."""
import importlib
import sys

PACKAGES = {
    "pandas": "python3-pandas",
    "networkx": "python3-networkx",
    "igraph": "python3-igraph",
    "matplotlib": "python3-matplotlib",
    "nbconvert": "python3-nbconvert",
    "ipykernel": "python3-ipykernel",
    "prometheus_client": "python3-prometheus-client",
}

missing = []
for module, package in PACKAGES.items():
    try:
        importlib.import_module(module)
    except ImportError:
        missing.append(f"python module '{module}' is missing: scripts/install-deps test installs {package}")
if missing:
    print("\n".join(missing))
    sys.exit(1)
print("ok: " + ", ".join(PACKAGES))
