"""HW7 hidden checks — run on the HOST against the probe's plain outputs (never imported or unpickled).

The notebook's span post-processing (`choose_answer_span`) was called in the sandbox on hidden logits
(4 windows per case, /hidden_inputs); its model was reloaded from saved_model/ and answered the test
questions with the notebook's own QA_Dataset and evaluate. Here we check the result.csv the notebook
wrote, that a clear answer is kept, that spans start before they end and stay in the paragraph,
determinism, and that the saved model is the one behind the uploaded result.csv.
Points per check: `execution.points` in assignment.yaml (the valid-span check is reported, not scored:
the course's sample code takes two independent argmaxes and fails it).
"""

import csv
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox.artifacts import UnsafeArtifact, load_json, load_npy, read_bytes

PROBE = Path(os.environ["GRADE_PROBE"])
RUN = Path(os.environ["GRADE_ARTIFACTS"])
INPUTS = Path(os.environ["GRADE_HIDDEN_INPUTS"])
START = np.load(INPUTS / "probe_start_logits.npy", allow_pickle=False)     # (N, W, L)
END = np.load(INPUTS / "probe_end_logits.npy", allow_pickle=False)
MASK = np.load(INPUTS / "probe_paragraph_mask.npy", allow_pickle=False)   # (N, W, L) bool
TEST_IDS = [q["id"] for q in json.loads((Path(os.environ["GRADE_RELEASE"]) / "hw7_test.json")
                                        .read_text(encoding="utf-8"))["questions"]]
AGREEMENT = 0.995   # share of test questions on which the reloaded model must repeat the uploaded answer


def probe_report() -> dict:
    try:
        return load_json(PROBE / "probe.json")
    except (FileNotFoundError, UnsafeArtifact):
        return {}


def probe_file(name: str, what: str):
    """The probe's output, or a failure that says why the probe could not make it."""
    path = PROBE / name
    if not path.is_file():
        rep = probe_report()
        step = name.split(".")[0]
        errors = rep.get("errors", {})
        why = errors.get(step) or errors.get("load") or errors.get("test_windows") or "the probe did not finish"
        problems = "; ".join(rep.get("problems", [])[:3])
        pytest.fail(f"the probe could not {what}: {why}" + (f" (while loading the notebook: {problems})" if problems else ""))
    return load_json(path) if name.endswith(".json") else load_npy(path)


def read_rows(path: Path) -> list[list[str]]:
    text = read_bytes(path, 8 * 2**20).decode("utf-8-sig", errors="replace")
    return list(csv.reader(io.StringIO(text, newline="")))


def naive_spans() -> np.ndarray:
    """(N, 3): the sample code's choice — per window the argmax start and end, the window with the best sum."""
    s, e = START.argmax(-1), END.argmax(-1)                              # (N, W)
    total = START.max(-1) + END.max(-1)
    k = total.argmax(-1)
    n = np.arange(len(START))
    return np.stack([k, s[n, k], e[n, k]], axis=1)


def valid(spans: np.ndarray) -> np.ndarray:
    k, s, e = spans.T
    inside = (k >= 0) & (k < START.shape[1]) & (s >= 0) & (e >= 0) & (s < START.shape[2]) & (e < START.shape[2])
    ok = inside.copy()
    n = np.flatnonzero(inside)
    ok[n] = (s[n] <= e[n]) & MASK[n, k[n], s[n]] & MASK[n, k[n], e[n]]
    return ok


def chosen_spans() -> np.ndarray:
    out = probe_file("spans.npy", "call choose_answer_span(start_logits, end_logits, paragraph_mask)")
    assert out.shape == (len(START), 3), f"expected one (window, start, end) per case, {(len(START), 3)}; got {out.shape}"
    return out


def test_result_lists_every_test_question():
    path = RUN / "result.csv"
    assert path.is_file(), "the notebook wrote no result.csv into its output folder (GRADE_OUTPUT_DIR)"
    rows = read_rows(path)
    assert rows and rows[0] == ["ID", "Answer"], f"header must be ID,Answer, got {rows[:1]}"
    bad = [n for n, r in enumerate(rows[1:], start=2) if len(r) != 2]
    assert not bad, f"every row needs exactly 2 fields (ID, Answer, commas removed); lines {bad[:5]} do not"
    ids = [r[0] for r in rows[1:]]
    assert sorted(ids) == sorted(str(i) for i in TEST_IDS), (
        f"{len(ids)} rows; expected each of the {len(TEST_IDS)} question ids of hw7_test.json once")


def test_span_choice_keeps_a_clear_answer():
    """Where one valid span stands out (the sample's argmax is already valid), it must be the choice."""
    chosen, naive = chosen_spans(), naive_spans()
    clear = np.flatnonzero(valid(naive))
    assert len(clear) >= 5
    wrong = [int(i) for i in clear if not np.array_equal(chosen[i], naive[i])]
    assert not wrong, (
        f"on {len(wrong)} of {len(clear)} cases where one span (of at most 4 tokens) stands out, "
        f"choose_answer_span returned another: case {wrong[0]} gave (window, start, end) = "
        f"{tuple(chosen[wrong[0]].tolist())}, expected {tuple(naive[wrong[0]].tolist())}")


def test_span_choice_starts_before_it_ends_inside_the_paragraph():
    chosen = chosen_spans()
    bad = np.flatnonzero(~valid(chosen))
    if bad.size:
        k, s, e = chosen[bad[0]].tolist()
        what = "ends before it starts" if e < s else "leaves the paragraph (question, [SEP] or padding)"
        pytest.fail(f"{bad.size} of {len(chosen)} spans are not answers: e.g. case {int(bad[0])}: window {k}, "
                    f"tokens {s}..{e} {what}. Choose the best span with start <= end, both inside "
                    "paragraph_mask (and a bounded length).")


def test_model_is_deterministic():
    a = probe_file("logits_1.npy", "reload saved_model/ and run it on the test windows")
    b = probe_file("logits_2.npy", "reload saved_model/ and run it on the test windows")
    assert a.shape == b.shape and np.array_equal(a, b), \
        "the reloaded model in eval mode gave different logits for the same windows twice"


def test_probed_model_made_the_uploaded_answers():
    path = os.environ.get("GRADE_SUBMISSION")
    if not path:
        pytest.skip("no uploaded result.csv to compare with")
    probed = probe_file("test_answers.json", "answer the test questions with saved_model/, QA_Dataset and evaluate")
    assert isinstance(probed, list) and len(probed) == len(TEST_IDS), \
        f"the probe answered {len(probed) if isinstance(probed, list) else '?'} of {len(TEST_IDS)} test questions"
    uploaded = {r[0]: r[1] for r in read_rows(Path(path))[1:] if len(r) == 2}
    same = np.mean([uploaded.get(str(i)) == a for i, a in zip(TEST_IDS, probed)])
    assert same >= AGREEMENT, (
        f"your saved model, reloaded from saved_model/ and run through QA_Dataset and evaluate, agrees with "
        f"the uploaded result.csv on {same:.1%} of the test questions (at least {AGREEMENT:.1%} needed)")
