"""HW13 hidden checks — run on the HOST against the probe's plain outputs (never imported or unpickled).

The notebook was re-executed in the sandbox; its student_best.ckpt was reloaded there with
strict=True into get_student_model() and run on photos the student never saw, and its loss_fn_kd was
called on hidden logits. Here we check what came back: the uploaded submission.csv is complete, the
re-executed notebook wrote the same predictions, the checkpoint is within the parameter budget
(counted on the host from the state dict's tensors, loaded weights-only), it reproduces the uploaded
predictions, and loss_fn_kd agrees with the course's formula. Files written by the sandboxed runs are
read only through grader.sandbox.artifacts.
"""

import csv
import io
import os
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox.artifacts import collect, load_json, load_npy, load_state_dict, read_bytes

PROBE = Path(os.environ["GRADE_PROBE"])
RUN = Path(os.environ["GRADE_ARTIFACTS"])
RELEASE = Path(os.environ["GRADE_RELEASE"])
HIDDEN = Path(os.environ["GRADE_HIDDEN"])
HIDDEN_INPUTS = Path(os.environ["GRADE_HIDDEN_INPUTS"])
N_PHOTOS = len(list((HIDDEN_INPUTS / "probe").glob("*.png")))
N_CLASSES = 11
HEADER = ["Id", "Category"]
KD_SETTINGS = [(0.5, 1.0), (0.5, 4.0), (0.9, 2.0), (0.1, 8.0)]   # (alpha, temperature); probe.py too
# BatchNorm's running statistics are buffers, not parameters (torchsummary does not count them).
BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def probed(name: str, step: str) -> np.ndarray:
    """A probe output, or a failure that says why the probe could not write it."""
    path = PROBE / name
    if not path.is_file():
        info = load_json(PROBE / "probe.json") if (PROBE / "probe.json").is_file() else {}
        why = info.get("errors", {}).get(step) or "; ".join(info.get("problems", [])[:3]) or "the probe did not finish"
        pytest.fail(f"{step} could not be probed: {why}")
    return load_npy(path)


def read_submission(data: bytes, what: str) -> dict[str, str]:
    """Id -> Category text of a submission file, with its format checked."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"))))
    assert rows and [h.strip() for h in rows[0]] == HEADER, \
        f"{what}: the header must be {','.join(HEADER)}, got {','.join(rows[0]) if rows else 'an empty file'}"
    bad = [n for n, r in enumerate(rows[1:], start=2) if len(r) != 2]
    assert not bad, f"{what}: lines {bad[:5]} do not have 2 fields"
    return {i.strip(): c.strip() for i, c in rows[1:]}


def sample_ids() -> list[str]:
    with open(RELEASE / "sample_submission.csv", newline="") as f:
        return [r[0] for r in list(csv.reader(f))[1:]]


def uploaded() -> dict[str, str]:
    path = os.environ.get("GRADE_SUBMISSION")
    if not path or not Path(path).is_file():
        pytest.fail("no uploaded submission.csv to check")
    return read_submission(read_bytes(Path(path)), "uploaded submission.csv")


def run_checkpoint() -> dict:
    """The state dict of the student_best.ckpt the re-executed notebook saved (weights only)."""
    found = [a for a in collect(RUN) if Path(a.relpath).name == "student_best.ckpt"]
    if not found:
        pytest.fail("the re-executed notebook saved no student_best.ckpt (the sample code's checkpoint name)")
    return load_state_dict(sorted(found, key=lambda a: a.relpath)[0].path)


def test_uploaded_file_is_a_complete_submission():
    sub, ids = uploaded(), sample_ids()
    missing, extra = sorted(set(ids) - set(sub)), sorted(set(sub) - set(ids))
    assert not missing and not extra, f"Ids differ from the evaluation set: missing {missing[:5]}, unknown {extra[:5]}"
    bad = [i for i, c in sub.items() if not (c.isdigit() and int(c) < N_CLASSES)]
    assert not bad, f"Category must be a class index 0-{N_CLASSES - 1}; Ids {bad[:5]} are not"


def test_notebook_reproduces_the_uploaded_predictions():
    path = RUN / "submission.csv"
    assert path.is_file(), "the re-executed notebook wrote no submission.csv"
    rerun, sub = read_submission(read_bytes(path), "re-executed submission.csv"), uploaded()
    differ = sorted(i for i in sub if rerun.get(i) != sub[i])
    assert not differ, (f"{len(differ)} of {len(sub)} predictions differ from the re-executed notebook's, e.g. "
                        + ", ".join(f"Id {i}: uploaded {sub[i]}, re-run {rerun.get(i)}" for i in differ[:3]))


def test_student_checkpoint_is_within_the_parameter_budget():
    """The course's hard rule: over the budget, the homework scores 0 (here: this check's points)."""
    budget = int(load_json(HIDDEN / "param_budget.json")["param_budget"])
    state = run_checkpoint()
    not_tensors = sorted(k for k, v in state.items() if not hasattr(v, "numel"))
    assert not not_tensors, f"student_best.ckpt must be a state dict of tensors; {not_tensors[:3]} are not"
    counted = {k: int(v.numel()) for k, v in state.items() if not k.endswith(BUFFERS)}
    total = sum(counted.values())
    biggest = sorted(counted.items(), key=lambda kv: -kv[1])[:3]
    assert total <= budget, (f"student_best.ckpt holds {total:,} parameters, over the {budget:,} budget "
                             f"(largest: {', '.join(f'{k} {n:,}' for k, n in biggest)})")


def test_checkpoint_reloads_strictly_into_get_student_model():
    logits = probed("hidden_logits.npy", "student")
    assert logits.shape == (N_PHOTOS, N_CLASSES), \
        f"get_student_model() with student_best.ckpt must give ({N_PHOTOS}, {N_CLASSES}) logits, got {logits.shape}"
    assert np.isfinite(logits).all(), "the reloaded student gave NaN or infinite logits"


def test_checkpoint_reproduces_the_uploaded_predictions():
    pred = probed("eval_pred.npy", "student")
    names = sorted(p.name[:-4] for p in (RELEASE / "Food-11" / "evaluation").glob("*.png"))
    assert pred.shape == (len(names),), f"expected one prediction per evaluation photo ({len(names)}), got {pred.shape}"
    sub = uploaded()
    differ = [i for i, p in zip(names, pred.tolist()) if sub.get(i) != str(p)]
    assert not differ, (f"get_student_model() with student_best.ckpt predicts {len(differ)} of {len(names)} "
                        "evaluation photos differently from the uploaded submission.csv, e.g. "
                        + ", ".join(f"Id {i}: uploaded {sub.get(i)}" for i in differ[:3]))


def _reference_kd(student, teacher, labels, alpha, temperature):
    """The course's formula: alpha T^2 KL(softmax(t/T) || softmax(s/T)) (batch mean) + (1 - alpha) CE."""
    def log_softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    ls, lt = log_softmax(student / temperature), log_softmax(teacher / temperature)
    kl = (np.exp(lt) * (lt - ls)).sum(axis=1).mean()
    ce = -log_softmax(student)[np.arange(len(labels)), labels].mean()
    return alpha * temperature ** 2 * kl + (1 - alpha) * ce


def test_loss_fn_kd_matches_the_course_formula():
    """The report's KD-loss question: loss_fn_kd(student_logits, labels, teacher_logits, alpha, T)."""
    got = probed("kd_loss.npy", "loss_fn_kd")
    kd = load_npy(HIDDEN_INPUTS / "kd_logits.npz")
    y = kd["labels"]
    s, t = kd["student"].astype(np.float64), kd["teacher"].astype(np.float64)
    want = np.array([_reference_kd(s, t, y, a, T) for a, T in KD_SETTINGS])
    assert got.shape == want.shape, f"expected {len(want)} loss values, got {got.shape}"
    bad = [(a, T, g, w) for (a, T), g, w in zip(KD_SETTINGS, got, want) if not np.isclose(g, w, rtol=1e-4, atol=1e-5)]
    assert not bad, "loss_fn_kd differs from alpha*T^2*KL(teacher||student)+(1-alpha)*CE (KL averaged over the batch): " \
        + "; ".join(f"alpha {a}, T {T}: got {g:.5f}, expected {w:.5f}" for a, T, g, w in bad)
