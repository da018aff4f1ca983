"""HW5 hidden checks — run on the HOST against the probe's plain outputs (never imported or unpickled).

The notebook's learning-rate schedule was probed in the sandbox at hidden points; here it is compared
with the inverse-square-root warm-up (Noam) formula of the course's medium hint,

    lrate = d_model^-0.5 * min(step^-0.5, step * warmup^-1.5),

and the re-executed notebook's prediction.txt is checked (one UTF-8 line per test sentence, none
empty) and compared with the uploaded one, line by line after whitespace normalisation.
"""

import json
import os
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox.artifacts import load_json, load_npy, read_bytes

PROBE = Path(os.environ["GRADE_PROBE"])
RUN = Path(os.environ["GRADE_ARTIFACTS"])
RELEASE = Path(os.environ["GRADE_RELEASE"])
POINTS = json.loads((Path(os.environ["GRADE_HIDDEN_INPUTS"]) / "schedule.json").read_text())["points"]
N_FIRST = 12


def noam(d_model, step, warmup):
    step = np.asarray(step, dtype=np.float64)
    return d_model ** -0.5 * np.minimum(step ** -0.5, step * warmup ** -1.5)


def probed(name):
    path = PROBE / f"{name}.npy"
    if not path.is_file():
        errors = load_json(PROBE / "probe.json").get("errors", {}) if (PROBE / "probe.json").is_file() else {}
        pytest.fail(f"the probe could not compute {name}: {errors.get(name, 'no output')}")
    return load_npy(path)


def lines(data: bytes, what: str) -> list[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        pytest.fail(f"{what} is not UTF-8 text (byte {e.start})")
    out = text.split("\n")
    if out and out[-1] == "":
        out.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in out]


def normalised(line: str) -> str:
    """NFKC, and every run of whitespace as one space: what a different editor or OS may change."""
    return " ".join(unicodedata.normalize("NFKC", line).split())


def test_prediction_has_one_clean_line_per_test_sentence():
    path = RUN / "prediction.txt"
    assert path.is_file(), "the notebook wrote no prediction.txt in its output folder"
    got = lines(read_bytes(path), "prediction.txt")
    n_test = len(lines((RELEASE / "DATA" / "rawdata" / "ted2020" / "test.raw.en").read_bytes(), "test.raw.en"))
    assert len(got) == n_test, f"prediction.txt has {len(got)} lines for {n_test} test sentences"
    empty = [k + 1 for k, ln in enumerate(got) if not ln.strip()]
    assert not empty, f"{len(empty)} empty translation(s), e.g. lines {empty[:5]}"


def test_get_rate_is_the_inverse_square_root_warmup():
    for k, p in enumerate(POINTS):
        got, want = probed(f"get_rate_{k}"), noam(p["d_model"], p["steps"], p["warmup"])
        assert got.shape == want.shape
        bad = np.flatnonzero(~np.isclose(got, want, rtol=1e-6, atol=0))
        assert not bad.size, (
            f"get_rate(d_model={p['d_model']}, step_num, warmup_step={p['warmup']}) differs from "
            f"d_model^-0.5 * min(step^-0.5, step * warmup^-1.5): " + ", ".join(
                f"step {p['steps'][i]}: {got[i]:.6g} instead of {want[i]:.6g}" for i in bad[:3]))


def test_noam_optimizer_applies_the_schedule():
    """NoamOpt scales get_rate by its factor, and step() writes that rate into the optimizer."""
    for k, p in enumerate(POINTS):
        rate, lr = probed(f"noam_rate_{k}"), probed(f"noam_lr_{k}")
        np.testing.assert_allclose(rate, p["factor"] * probed(f"get_rate_{k}"), rtol=1e-6,
                                   err_msg=f"NoamOpt(factor={p['factor']}).rate(step) is not factor * get_rate")
        np.testing.assert_allclose(lr, p["factor"] * probed(f"get_rate_first_{k}"), rtol=1e-6,
                                   err_msg="after NoamOpt.step() number n, the optimizer's lr is not "
                                           "factor * get_rate(d_model, n, warmup)")


def test_rerun_wrote_the_uploaded_translations():
    path = os.environ.get("GRADE_SUBMISSION")
    if not path:
        pytest.skip("no uploaded prediction.txt to compare with")
    uploaded = [normalised(x) for x in lines(Path(path).read_bytes(), "the uploaded prediction.txt")]
    rerun_path = RUN / "prediction.txt"
    assert rerun_path.is_file(), "the re-executed notebook wrote no prediction.txt"
    rerun = [normalised(x) for x in lines(read_bytes(rerun_path), "the re-run's prediction.txt")]
    assert len(uploaded) == len(rerun), f"the upload has {len(uploaded)} lines, the re-run wrote {len(rerun)}"
    differ = [k for k, (a, b) in enumerate(zip(uploaded, rerun)) if a != b]
    assert not differ, (f"{len(differ)} of {len(rerun)} translations differ from what the notebook writes, "
                        + "; ".join(f"line {k + 1}: uploaded {uploaded[k]!r}, re-run {rerun[k]!r}"
                                    for k in differ[:3]))
