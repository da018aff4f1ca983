"""HW5 public format checks: run them next to your prediction.txt before you submit.

    pytest tests/public                                    # checks ./prediction.txt
    GRADE_PRED=path/to/prediction.txt pytest tests/public

The number of lines is compared with the test sentences, test.raw.en, looked up in this order:
$GRADE_TEST_EN, DATA/rawdata/ted2020/test.raw.en under the prediction file's folder, the current folder,
and the homework folder (two levels above this file); else sample_submission.txt, one line per sentence.
"""

import os
from pathlib import Path

import pytest

PRED = Path(os.environ.get("GRADE_PRED", "prediction.txt"))
TEST_EN = Path("DATA") / "rawdata" / "ted2020" / "test.raw.en"


def _reference_path():
    bundle = Path(__file__).resolve().parents[2]
    candidates = [os.environ.get("GRADE_TEST_EN"), PRED.parent / TEST_EN, TEST_EN, bundle / TEST_EN,
                  PRED.parent / "sample_submission.txt", Path("sample_submission.txt"),
                  bundle / "sample_submission.txt"]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    pytest.fail("test.raw.en not found: set GRADE_TEST_EN or run next to the DATA folder")


def _lines(data: bytes) -> list[str]:
    out = data.decode("utf-8").split("\n")
    if out and out[-1] == "":
        out.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in out]


@pytest.fixture(scope="module")
def raw():
    if not PRED.is_file():
        pytest.fail(f"{PRED} not found: write prediction.txt first, or set GRADE_PRED")
    return PRED.read_bytes()


def test_utf8(raw):
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        pytest.fail(f"prediction.txt must be UTF-8 text; byte {e.start} is not (save it with encoding='utf-8')")


def test_one_line_per_test_sentence(raw):
    n_test = len(_lines(_reference_path().read_bytes()))
    n = len(_lines(raw))
    assert n == n_test, f"{n} lines, expected {n_test}: one translation per line of test.raw.en, in its order"


def test_no_empty_line(raw):
    empty = [k + 1 for k, ln in enumerate(_lines(raw)) if not ln.strip()]
    assert not empty, f"{len(empty)} empty line(s), e.g. lines {empty[:5]}: every sentence needs a translation"


def test_no_header_and_no_line_numbers(raw):
    first = _lines(raw)[:1]
    assert not first or not first[0].strip().lower().startswith(("line,", "id,", "translation")), \
        "no header: line k of prediction.txt is the translation of line k of test.raw.en"
