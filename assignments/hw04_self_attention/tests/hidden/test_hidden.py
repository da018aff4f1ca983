"""HW4 hidden checks — run on the HOST against the probe's plain outputs (never imported or unpickled).

The notebook's `Classifier` was probed in the sandbox on hidden utterances of varying length; here we
check the output's shape, determinism, whether padding changes a prediction, that the output.csv the
notebook wrote is well formed, and that the probed model is the one behind the uploaded output.csv.
Points per check: `execution.points` in assignment.yaml (the padding check is reported, not scored:
the course's sample code mean-pools over padding frames and fails it).
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
DATASET = Path(os.environ["GRADE_RELEASE"]) / "Dataset"
LENS = np.load(Path(os.environ["GRADE_HIDDEN_INPUTS"]) / "probe_lens.npy", allow_pickle=False)
ID2SPEAKER = json.loads((DATASET / "mapping.json").read_text())["id2speaker"]
TEST_IDS = [u["feature_path"] for u in json.loads((DATASET / "testdata.json").read_text())["utterances"]]
AGREEMENT = 0.995   # share of test utterances on which the probed model must repeat the uploaded file


def probe_report() -> dict:
    try:
        return load_json(PROBE / "probe.json")
    except (FileNotFoundError, UnsafeArtifact):
        return {}


def probe_array(name: str) -> np.ndarray:
    """The probe's array, or a failure that says why the probe could not make it."""
    path = PROBE / f"{name}.npy"
    if not path.is_file():
        rep = probe_report()
        why = rep.get("errors", {}).get(name) or rep.get("errors", {}).get("load") or "the probe did not finish"
        problems = "; ".join(rep.get("problems", [])[:3])
        pytest.fail(f"the probe could not call Classifier(n_spks={len(ID2SPEAKER)}) with your checkpoint: {why}"
                    + (f" (while loading the notebook: {problems})" if problems else ""))
    return load_npy(path)


def read_rows(path: Path) -> list[list[str]]:
    text = read_bytes(path, 8 * 2**20).decode("utf-8-sig", errors="replace")
    return list(csv.reader(io.StringIO(text, newline="")))


def test_output_lists_every_test_utterance_with_a_known_speaker():
    path = RUN / "output.csv"
    assert path.is_file(), "the notebook wrote no output.csv into its output folder (GRADE_OUTPUT_DIR)"
    rows = read_rows(path)
    assert rows and rows[0] == ["Id", "Category"], f"header must be Id,Category, got {rows[:1]}"
    ids = [r[0] for r in rows[1:] if r]
    assert sorted(ids) == sorted(TEST_IDS), (
        f"{len(ids)} rows; expected each of the {len(TEST_IDS)} test utterances of testdata.json once")
    known = set(ID2SPEAKER.values())
    unknown = sorted({r[1] for r in rows[1:] if len(r) > 1} - known)
    assert not unknown and all(len(r) == 2 for r in rows[1:] if r), \
        f"every Category must be a speaker name of mapping.json; found {unknown[:5]}"


def test_model_scores_every_speaker_for_a_padded_batch():
    out = probe_array("batch_scores")
    assert out.shape == (len(LENS), len(ID2SPEAKER)), (
        f"Classifier on a padded batch of {len(LENS)} utterances returned shape {out.shape}; "
        f"expected ({len(LENS)}, {len(ID2SPEAKER)}): one score per speaker")
    assert np.isfinite(out).all(), "the model's scores contain NaN or infinite values"


def test_model_is_deterministic():
    a, b = probe_array("alone_scores"), probe_array("alone_scores_2")
    assert a.shape == b.shape and np.array_equal(a, b), \
        "the model in eval mode gave different scores for the same input twice"


def test_padding_does_not_change_predictions():
    batch, alone = probe_array("batch_scores"), probe_array("alone_scores")
    assert batch.shape == alone.shape, f"shapes differ: batch {batch.shape}, alone {alone.shape}"
    differ = np.flatnonzero(batch.argmax(1) != alone.argmax(1))
    assert differ.size == 0, (
        f"{differ.size} of {len(LENS)} utterances get another speaker when padded with -20 in a batch "
        f"than alone (lengths {sorted(LENS[differ].tolist())[:5]} padded to {int(LENS.max())}): mask the "
        "padding frames in attention (src_key_padding_mask) and in pooling")


def test_probed_model_made_the_uploaded_predictions():
    path = os.environ.get("GRADE_SUBMISSION")
    if not path:
        pytest.skip("no uploaded output.csv to compare with")
    probed = probe_array("test_pred")
    assert probed.shape == (len(TEST_IDS),), f"the probe predicted {probed.shape} test utterances"
    uploaded = {r[0]: r[1] for r in read_rows(Path(path))[1:] if len(r) == 2}
    names = [ID2SPEAKER.get(str(int(k)), "?") for k in probed]
    same = np.mean([uploaded.get(i) == n for i, n in zip(TEST_IDS, names)])
    assert same >= AGREEMENT, (
        f"your saved model, loaded into Classifier and run on each test utterance alone, agrees with the "
        f"uploaded output.csv on {same:.1%} of the utterances (at least {AGREEMENT:.0%} needed)")
