"""HW2 hidden checks — run on the HOST against the probe's plain outputs (never imported or unpickled).

The notebook's `concat_feat` and `Classifier` were probed in the sandbox on hidden MFCC sequences; here
we compare concat_feat with the course's definition, check the classifier's output shape, the
regenerated prediction file, and that the re-executed notebook wrote the uploaded predictions.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox.artifacts import load_json, load_npy, read_bytes
from grader.scoring.validate import Invalid, validate_csv
from grader.spec import load_spec

PROBE = Path(os.environ["GRADE_PROBE"])
RUN = Path(os.environ["GRADE_ARTIFACTS"])
HIDDEN = Path(os.environ["GRADE_HIDDEN"])
HIDDEN_INPUTS = Path(os.environ["GRADE_HIDDEN_INPUTS"])
SPEC = load_spec(Path(__file__).resolve().parents[2])
CONCAT_NS = (3, 5, 11)          # as in probe.py
N_CLASSES = 41
FEATURE_DIM = 39

# the hidden sequences are the course's own files (trusted): plain np.load
SEQS = [np.load(p, allow_pickle=False) for p in sorted(HIDDEN_INPUTS.glob("seq_*.npy"))]


def course_concat_feat(x: np.ndarray, n: int) -> np.ndarray:
    """The sample code's concat_feat: frame t becomes [x[t-k], …, x[t], …, x[t+k]] (k = n // 2),
    with the first and the last frame repeated beyond the edges. (T, D) -> (T, n * D)."""
    k = n // 2
    padded = np.concatenate([np.repeat(x[:1], k, axis=0), x, np.repeat(x[-1:], k, axis=0)])
    return np.concatenate([padded[j:j + len(x)] for j in range(n)], axis=1)


def probe_report() -> dict:
    path = PROBE / "probe.json"
    return load_json(path) if path.is_file() else {}


def probe_error(key_prefix: str) -> str:
    errors = probe_report().get("errors", {})
    hits = [f"{k}: {v.splitlines()[0]}" for k, v in errors.items() if k.startswith(key_prefix)]
    return "; ".join(hits[:3]) or "the probe wrote nothing for it"


def concat_outputs():
    for i, x in enumerate(SEQS):
        for n in CONCAT_NS:
            path = PROBE / f"concat_{i}_{n}.npy"
            if not path.is_file():
                pytest.fail(f"concat_feat(x, {n}) failed on a hidden sequence of {len(x)} frames: "
                            + probe_error(f"concat_feat(sequence {i}, {n})"))
            yield i, n, x, load_npy(path)


def test_concat_feat_keeps_every_frame():
    assert SEQS, "no hidden sequences were prepared"
    for i, n, x, out in concat_outputs():
        assert out.shape == (len(x), n * FEATURE_DIM), \
            f"concat_feat(x, {n}) on a ({len(x)}, 39) sequence returned {out.shape}; expected " \
            f"({len(x)}, {n * FEATURE_DIM}): one row per frame, none dropped"


def test_concat_feat_pads_edges_like_the_course():
    for i, n, x, out in concat_outputs():
        expected = course_concat_feat(x, n)
        assert out.shape == expected.shape, f"concat_feat(x, {n}) returned {out.shape}, expected {expected.shape}"
        bad = np.argwhere(np.abs(out - expected) > 1e-5)
        if bad.size:
            t, col = bad[0]
            offset = col // FEATURE_DIM - n // 2
            where = "the start" if t < n // 2 else "the end" if t >= len(x) - n // 2 else "the middle"
            pytest.fail(f"concat_feat(x, {n}) differs from the course's definition at frame {t} of {len(x)} "
                        f"(near {where}), neighbour offset {offset:+d}: expected x[{min(max(t + offset, 0), len(x) - 1)}] "
                        f"(edge frames are repeated), got other values in {len(np.unique(bad[:, 0]))} frame(s)")


def test_classifier_gives_41_logits_per_frame():
    path = PROBE / "logits.npy"
    if not path.is_file():
        pytest.fail("the Classifier could not be built or run on hidden frames: " + probe_error("Classifier"))
    logits = load_npy(path)
    n_frames = sum(len(x) for x in SEQS)
    assert logits.shape == (n_frames, N_CLASSES), \
        f"Classifier output for {n_frames} frames has shape {logits.shape}, expected ({n_frames}, {N_CLASSES})"
    assert np.isfinite(logits).all(), "the Classifier's outputs contain NaN or infinity"


def _answers_ids() -> np.ndarray:
    with open(HIDDEN / "answers.csv") as f:
        next(f)
        return np.array([int(line.split(",", 1)[0]) for line in f])


def _read_predictions(path: Path, what: str):
    ids = _answers_ids()
    try:
        checked = validate_csv(read_bytes(path, SPEC.submission.max_bytes + 1), what, SPEC.submission, ids)
    except Invalid as e:
        pytest.fail(str(e))
    order = np.argsort(checked.ids)
    return checked.ids[order], checked.values[order]


def test_prediction_file_has_one_class_per_test_frame():
    path = RUN / SPEC.execution.output
    assert path.is_file(), f"the re-executed notebook wrote no {SPEC.execution.output}"
    ids, classes = _read_predictions(path, f"regenerated {path.name}")
    bad = np.flatnonzero((classes < 0) | (classes >= N_CLASSES))
    assert not bad.size, f"{bad.size} class(es) outside 0..{N_CLASSES - 1}, e.g. Id {ids[bad[0]]}: {classes[bad[0]]}"


def test_uploaded_predictions_match_the_rerun():
    uploaded = os.environ.get("GRADE_SUBMISSION")
    if not uploaded:
        pytest.skip(f"no uploaded {SPEC.submission.filename} to compare with")
    path = RUN / SPEC.execution.output
    assert path.is_file(), f"the re-executed notebook wrote no {SPEC.execution.output}"
    ids, up = _read_predictions(Path(uploaded), f"uploaded {SPEC.submission.filename}")
    _, rerun = _read_predictions(path, f"regenerated {path.name}")
    differ = np.flatnonzero(up != rerun)
    examples = ", ".join(f"Id {ids[i]}: uploaded {up[i]}, rerun {rerun[i]}" for i in differ[:3])
    assert not differ.size, (f"the re-executed notebook does not reproduce the uploaded predictions: "
                             f"{differ.size} of {len(ids)} frames differ ({examples})")
