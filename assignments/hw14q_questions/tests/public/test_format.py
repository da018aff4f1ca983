"""answers.json answers every question of the sheet with option letters A-D."""

import json
import os

QUESTIONS = (["basic-1", "basic-2", "basic-3", "ewc-1", "ewc-2", "mas-1", "mas-2", "si-1", "si-2", "rwalk-1",
              "rwalk-2", "scp-1", "scp-2", "scp-3"] + [f"other-{k}" for k in range(1, 7)])


def test_every_question_is_on_the_sheet():
    with open(os.environ.get("GRADE_PRED", "answers.json"), encoding="utf-8") as f:
        sheet = json.load(f)
    assert sorted(sheet) == sorted(QUESTIONS)


def test_answers_are_option_letters():
    with open(os.environ.get("GRADE_PRED", "answers.json"), encoding="utf-8") as f:
        sheet = json.load(f)
    for q, a in sheet.items():
        letters = a if isinstance(a, list) else list(a)
        assert set(letters) <= set("ABCD"), f"{q}: {a!r}"


def test_no_question_is_left_blank():
    with open(os.environ.get("GRADE_PRED", "answers.json"), encoding="utf-8") as f:
        blank = sorted(q for q, a in json.load(f).items() if not a)
    assert not blank, f"{len(blank)} question(s) left blank: {', '.join(blank)}"
