"""The whole remote path with real processes: a student logs in and submits HW1 from another process,
sees the public score and baselines; the TA sees the submission in the batch view."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from grader import api
from grader.course import Course

from ._proc import free_port, serve, wait_healthy


def grade(*args, config, input_=None):
    env = {k: v for k, v in os.environ.items() if k not in ("GRADE_COURSE", "GRADE_NOW", "GRADE_ASSIGNMENTS")}
    env["GRADE_CONFIG_DIR"] = str(config)  # the student's own machine: no course, only a login
    return subprocess.run([sys.executable, "-c", "from grader.cli import main; main()", *args], env=env,
                          input=input_, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_a_student_logs_in_and_submits_hw1_and_the_ta_sees_it(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADE_ASSIGNMENTS", raising=False)
    course = Course.init(tmp_path / "course", homeworks={"hw01": {"deadline": "2022-02-23T23:59:00"}})
    api.calibrate(course, "hw1")
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,alias\nb10901001,Alice Chen,owl\n")
    token = api.import_roster(course, roster, tmp_path / "tokens.csv")[0][2]
    ta_token = api.issue_token(course, "TA Wang", "ta")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = serve(course, port, tmp_path / "server.log", toy=False)  # the server's clock: NOW
    try:
        wait_healthy(url)
        student, ta = tmp_path / "laptop", tmp_path / "ta-laptop"
        r = grade("login", url, "--token", token, config=student)
        assert r.returncode == 0 and "as b10901001 (student)" in r.stdout, r.stderr
        assert oct((student / "login.json").stat().st_mode & 0o777) == "0o600"
        pred = course.calibration_dir("hw01") / "strong" / "pred.csv"
        r = grade("submit", "hw1", str(pred), config=student)
        assert r.returncode == 0, r.stderr
        assert "public score" in r.stdout and "public baselines passed: simple, medium, strong" in r.stdout
        r = grade("submit", "hw1", str(pred), config=student)  # the same file again
        assert r.returncode == 1 and "identical to your submission" in r.stderr
        r = grade("status", "--json", config=student)
        assert r.returncode == 0 and '"private": null' in r.stdout  # before the deadline
        r = grade("login", url, "--token", ta_token, config=ta)
        assert r.returncode == 0, r.stderr
        r = grade("submissions", "hw1", "--json", config=ta)
        assert r.returncode == 0, r.stderr
        assert '"student": "b10901001"' in r.stdout and '"status": "scored"' in r.stdout and '"status": "refused"' in r.stdout
        r = grade("submissions", "hw1", config=student)
        assert r.returncode == 2 and "only TAs and instructors" in r.stderr
        r = grade("leaderboard", "hw1", "--private", config=student)
        assert r.returncode == 2 and "hidden until the deadline" in r.stderr
    finally:
        server.stop()
