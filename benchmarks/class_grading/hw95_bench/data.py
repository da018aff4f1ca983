"""Benchmark data: 4,000 training rows of 30 features, a linear target plus noise; 1,000 test rows."""

import numpy as np


def build(ctx) -> None:
    rng = np.random.default_rng(ctx.seed)
    w = rng.normal(size=30)
    x = rng.normal(size=(5000, 30))
    y = x @ w + rng.normal(scale=0.5, size=5000)
    np.save(ctx.release_dir / "x.npy", x[:4000], allow_pickle=False)
    np.save(ctx.release_dir / "y.npy", y[:4000], allow_pickle=False)
    np.save(ctx.release_dir / "test.npy", x[4000:], allow_pickle=False)
    np.savetxt(ctx.hidden_dir / "answers.csv", np.column_stack([np.arange(1000), y[4000:]]), delimiter=",",
               header="id,y", comments="", fmt=["%d", "%.6f"])
    np.save(ctx.hidden_inputs_dir / "probe.npy", rng.normal(size=(50, 30)), allow_pickle=False)
