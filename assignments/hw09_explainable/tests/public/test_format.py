"""Public checks of answers.json (`grade check hw9 answers.json --bundle DIR`): the format only.
The answers themselves are scored after the deadline."""

import json
import os
from pathlib import Path

BUNDLE = Path(__file__).resolve().parents[2]
QUESTIONS = [q["id"] for q in json.loads((BUNDLE / "questions.json").read_text(encoding="utf-8"))]


def sheet() -> dict:
    with open(os.environ.get("GRADE_PRED", "answers.json"), encoding="utf-8") as f:
        return json.load(f)


def letters(a) -> list:
    return list(a) if isinstance(a, str) else a


def test_every_question_has_an_entry():
    s = sheet()
    assert sorted(s) == sorted(QUESTIONS), f"missing: {sorted(set(QUESTIONS) - set(s))}, unknown: {sorted(set(s) - set(QUESTIONS))}"


def test_answers_are_options_a_to_d():
    bad = {q: a for q, a in sheet().items() if not isinstance(letters(a), list)
           or not all(isinstance(x, str) and x.strip().upper() in "ABCD" and x.strip() for x in letters(a))}
    assert not bad, f"not letters A-D: {bad}"


def test_every_question_is_answered():
    blank = [q for q, a in sheet().items() if not letters(a)]
    assert not blank, f"{len(blank)} question(s) left blank (they earn nothing): {blank}"
