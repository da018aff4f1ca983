"""Benchmark references: gradient descent for --steps steps.

    python benchmarks/class_grading/reference.py --steps 100 --data DIR --out pred.csv
"""
import argparse

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--steps", type=int, required=True)
ap.add_argument("--data", required=True)
ap.add_argument("--out", required=True)
a = ap.parse_args()
x, y, t = (np.load(f"{a.data}/{n}.npy") for n in ("x", "y", "test"))
w = np.zeros(x.shape[1])
for _ in range(a.steps):
    w -= 0.05 * x.T @ (x @ w - y) / len(x)
np.savetxt(a.out, np.column_stack([np.arange(len(t)), t @ w]), delimiter=",", header="id,y", comments="",
           fmt=["%d", "%.6f"])
