"""The store on a real PostgreSQL server: the same flows, and the row locks that replace SQLite's
BEGIN IMMEDIATE (the daily-limit race, workers claiming jobs side by side)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from grader import api, jobs, worker
from grader.course import Course

from .conftest import BEFORE, TOY_ROOT, at, pred_path
from .test_submit import variant

URL = os.environ.get("GRADE_TEST_POSTGRES")
pytestmark = pytest.mark.skipif(not URL, reason="GRADE_TEST_POSTGRES is not set (.ci/run starts a local PostgreSQL)")


@pytest.fixture
def pg_course(tmp_path, toy):
    admin = create_engine(URL, isolation_level="AUTOCOMMIT")
    name = f"grader_{uuid.uuid4().hex[:12]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(URL).set(database=name).render_as_string(hide_password=False)
    course = Course.init(tmp_path / "course", homeworks={"hw99": {"deadline": "2022-02-23T23:59:00"}}, store=url)
    api.calibrate(course, "hw99")
    yield course
    course.store.engine.dispose()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_the_course_runs_on_postgres(pg_course):
    assert pg_course.store.engine.dialect.name == "postgresql"
    r = api.submit(pg_course, "hw99", pred_path(pg_course, "strong"), "s1", now=at(pg_course, BEFORE))
    assert r.status == "scored" and r.passed == ["simple", "medium", "strong"]
    again = api.submit(pg_course, "hw99", pred_path(pg_course, "strong"), "s1", now=at(pg_course, BEFORE))
    assert again.status == "refused" and "identical" in again.message
    api.select_finals(pg_course, "hw99", "s1", [r.id], now=at(pg_course, BEFORE))
    board = api.leaderboard(pg_course, "hw99", "private", force=True)
    assert [row.student_id for row in board.students] == ["s1"]


def test_twenty_racing_processes_never_exceed_the_daily_limit_on_postgres(pg_course, tmp_path):
    files = []
    for k in range(20):
        f = tmp_path / f"p{k}.csv"
        f.write_bytes(variant(pg_course, "medium", k))
        files.append(f)
    env = dict(os.environ, GRADE_ASSIGNMENTS=str(TOY_ROOT), GRADE_NOW="2022-02-20T10:00:00",
               GRADE_COURSE=str(pg_course.root))
    cmd = [sys.executable, "-c", "from grader.cli import main; main()", "submit", "hw99"]
    procs = [subprocess.Popen([*cmd, str(f), "--student", "racer"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for f in files]
    codes = [p.wait(timeout=180) for p in procs]
    rows = pg_course.store.submissions("hw99", "racer")
    assert len(rows) == 20 and sum(r.counted for r in rows) == 5 and codes.count(0) == 5


def test_workers_side_by_side_take_each_job_once(pg_course):
    ids = [api.submit(pg_course, "hw99", None, f"s{k}", now=at(pg_course, BEFORE), grade=False,
                      data=variant(pg_course, "boss", k), filename="pred.csv").id for k in range(12)]
    results: list[str] = []

    def drain():
        while (r := worker.run_once(pg_course)) is not None:
            results.append(r)

    threads = [threading.Thread(target=drain) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["done"] * len(ids)
    assert jobs.counts(pg_course.store) == {"done": len(ids)}
    graded = [e.submission_id for e in pg_course.store.events("graded")]
    assert sorted(graded) == sorted(ids)
