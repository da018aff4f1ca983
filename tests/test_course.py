import os
import stat
from datetime import datetime, timezone

import pytest

from grader.course import Course
from grader.errors import ConfigError, GradeError, NotFound


def test_init_creates_config_secret_and_store(tmp_path):
    c = Course.init(tmp_path / "c")
    assert (c.root / "course.yaml").is_file()
    mode = stat.S_IMODE(os.stat(c.root / "secret.key").st_mode)
    assert mode == 0o600, "the instructor secret must be private to its owner"
    assert len(c.secret) == 64
    assert c.config.daily_limit == 5 and c.config.finals == 2 and c.config.timezone == "Asia/Taipei"
    assert (c.root / "store.sqlite").is_file()
    with pytest.raises(GradeError, match="already exists"):
        Course.init(tmp_path / "c")


def test_course_is_found_by_option_env_and_cwd(tmp_path, monkeypatch):
    c = Course.init(tmp_path / "c")
    assert Course.find(tmp_path / "c").root == c.root
    monkeypatch.setenv("GRADE_COURSE", str(tmp_path / "c"))
    assert Course.find().root == c.root
    monkeypatch.delenv("GRADE_COURSE")
    (c.root / "data" / "sub").mkdir(parents=True)
    monkeypatch.chdir(c.root / "data" / "sub")
    assert Course.find().root == c.root
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotFound, match="grade init"):
        Course.find()
    with pytest.raises(NotFound, match="not a course directory"):
        Course.find(tmp_path)


def test_bad_course_yaml_names_key(tmp_path):
    c = Course.init(tmp_path / "c")
    text = (c.root / "course.yaml").read_text().replace("Asia/Taipei", "Mars/Olympus")
    (c.root / "course.yaml").write_text(text)
    with pytest.raises(ConfigError, match="course.yaml: timezone: .*unknown time zone"):
        Course(c.root)


def test_seeds_differ_per_course_and_purpose(tmp_path):
    a, b = Course.init(tmp_path / "a"), Course.init(tmp_path / "b")
    assert a.seed_for("hw01", "data") != b.seed_for("hw01", "data")
    assert a.seed_for("hw01", "data") != a.seed_for("hw01", "split")
    assert a.seed_for("hw01", "data") == Course(a.root).seed_for("hw01", "data")


def test_deadline_extension_and_day_bounds(tmp_path):
    c = Course.init(tmp_path / "c", homeworks={"hw01": {"deadline": "2022-02-23T23:59:00",
                                                        "extensions": {"s9": "2022-02-25T23:59:00"}}})
    assert c.deadline("hw01").isoformat() == "2022-02-23T23:59:00+08:00"
    assert c.deadline("hw01", "s9").day == 25
    # 23:30 local on the 20th and 00:30 local on the 21st are different quota days (course boundary)
    a = c.aware(datetime(2022, 2, 20, 23, 30))
    b = c.aware(datetime(2022, 2, 21, 0, 30))
    assert c.day_of(a) != c.day_of(b)
    start, end = c.day_bounds(a)
    assert start == datetime(2022, 2, 19, 16, 0, tzinfo=timezone.utc) and (end - start).days == 1


def test_now_can_be_pinned(tmp_path, monkeypatch):
    c = Course.init(tmp_path / "c")
    monkeypatch.setenv("GRADE_NOW", "2022-02-24T00:00:00")
    assert c.now() == c.aware(datetime(2022, 2, 24))
    assert c.is_past_deadline("hw01")
