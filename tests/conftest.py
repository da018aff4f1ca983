"""Shared fixtures: a tiny complete toy assignment (hw99) and courses built on it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from grader import api, catalog
from grader.course import Course

REPO = Path(__file__).resolve().parent.parent
TOY_ROOT = REPO / "tests" / "fixtures" / "assignments"
BEFORE = datetime(2022, 2, 20, 10, 0)  # course-local, before the toy deadline
AFTER = datetime(2022, 2, 25, 10, 0)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("GRADE_NOW", "GRADE_COURSE", "GRADE_ASSIGNMENTS"):
        monkeypatch.delenv(var, raising=False)
    catalog._load_all.cache_clear()
    yield
    catalog._load_all.cache_clear()


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setenv("GRADE_ASSIGNMENTS", str(TOY_ROOT))
    catalog._load_all.cache_clear()


@pytest.fixture
def course(tmp_path, toy) -> Course:
    return Course.init(tmp_path / "course", homeworks={"hw99": {"deadline": "2022-02-23T23:59:00"}})


@pytest.fixture
def calibrated(course) -> Course:
    api.calibrate(course, "hw99")
    return course


def at(course: Course, dt: datetime) -> datetime:
    return course.aware(dt)


def pred_path(course: Course, level: str) -> Path:
    return course.calibration_dir("hw99") / level / "pred.csv"
