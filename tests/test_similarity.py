"""Code similarity: a planted copied pair (renamed variables, reordered cells) is found in a class, the
starter everyone was given does not count."""

from __future__ import annotations

import json
import zipfile

from grader import api
from grader.notebook import build_notebook


def notebook(cells: list[str]) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "id": f"c{k}", "metadata": {}, "source": c, "outputs": [],
                                  "execution_count": None} for k, c in enumerate(cells)],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


SOLUTIONS = {
    "alice": '''
def fit(train, test):
    import numpy as np
    x = np.column_stack([np.ones(len(train)), train[:, 1:4], train[:, 3] ** 2])
    w, *_ = np.linalg.lstsq(x, train[:, 4], rcond=None)
    z = np.column_stack([np.ones(len(test)), test[:, 1:4], test[:, 3] ** 2])
    return z @ w
''',
    "bob": '''
from sklearn.ensemble import GradientBoostingRegressor
def fit(train, test):
    model = GradientBoostingRegressor(n_estimators=200, max_depth=3, learning_rate=0.05, subsample=0.8)
    model.fit(train[:, 1:4], train[:, 4])
    preds = model.predict(test[:, 1:4])
    return preds
''',
    "carol": '''
import torch
def fit(train, test):
    net = torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    xs, ys = torch.tensor(train[:, 1:4]).float(), torch.tensor(train[:, 4]).float()
    for _ in range(300):
        opt.zero_grad(); loss = ((net(xs).squeeze(1) - ys) ** 2).mean(); loss.backward(); opt.step()
    return net(torch.tensor(test[:, 1:4]).float()).squeeze(1).detach().numpy()
''',
}
# dave copied alice: renamed everything, kept the structure
SOLUTIONS["dave"] = (SOLUTIONS["alice"].replace("train", "tr").replace("test", "te").replace("x =", "design =")
                     .replace("x,", "design,").replace("z", "q").replace("w", "coef"))


def test_a_planted_copy_is_the_top_pair_and_the_starter_does_not_count(calibrated, tmp_path):
    spec = api.assignment("hw99")
    starter = [c.source for c in build_notebook((spec.folder / spec.starter.source).read_text()).cells
               if c.cell_type == "code"]
    folder = tmp_path / "class"
    folder.mkdir()
    for student, code in SOLUTIONS.items():
        with zipfile.ZipFile(folder / f"{student}_hw99.zip", "w") as z:
            z.writestr(f"{student}/HW99.ipynb", notebook(starter[:2] + [code] + starter[2:]))
    rows = api.similarity(calibrated, "hw99", folder, tmp_path / "report.html", threshold=0.3)
    assert rows, "the copied pair is reported"
    assert {rows[0]["a"], rows[0]["b"]} == {"alice", "dave"} and rows[0]["score"] > 0.6
    assert not any({r["a"], r["b"]} <= {"alice", "bob", "carol"} and r["score"] > 0.5 for r in rows), \
        "the shared starter cells make no pair of honest students look alike"
    html = (tmp_path / "report.html").read_text()
    assert "alice" in html and "dave" in html
