"""Checks an executed notebook: no cell raised, and the three plots (signups
over time, degree distribution, the cluster) produced images.

usage: check_notebook.py EXECUTED.ipynb"""
import json
import sys

with open(sys.argv[1]) as f:
    nb = json.load(f)
errors, images, ran = [], 0, 0
for cell in nb["cells"]:
    if cell["cell_type"] != "code":
        continue
    ran += cell.get("execution_count") is not None
    for out in cell.get("outputs", []):
        if out["output_type"] == "error":
            errors.append(f"{out['ename']}: {out['evalue']}")
        images += "image/png" in out.get("data", {})
problems = errors + ([f"{images} images, want 3"] if images != 3 else [])
code = sum(c["cell_type"] == "code" for c in nb["cells"])
if ran != code:
    problems.append(f"{ran} of {code} code cells ran")
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"ok: {ran} cells ran, {images} images")
