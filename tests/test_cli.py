import json

import pytest
from click.testing import CliRunner

from grader.cli import main

from .conftest import pred_path

COMMANDS = ["init", "assignments", "prepare", "release", "submit", "status", "select", "check", "leaderboard",
            "publish", "gradebook", "batch", "calibrate", "verify", "demo", "compat"]


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_command_has_help(cmd):
    r = CliRunner().invoke(main, [cmd, "--help"])
    assert r.exit_code == 0 and "Usage:" in r.output


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def test_student_flow_through_the_cli(calibrated, tmp_path):
    c = ["--course", calibrated.root]
    env = {"GRADE_NOW": "2022-02-20T10:00:00"}
    r = run("submit", "hw99", pred_path(calibrated, "strong"), "--student", "s1", "--json", *c, env=env)
    assert r.exit_code == 0
    out = json.loads(r.output)
    assert out["status"] == "scored" and out["public_baselines_passed"] == ["simple", "medium", "strong"]
    assert "private_score" not in out
    bad = tmp_path / "bad.csv"
    bad.write_text("id,y\n0,1\n")
    r = run("submit", "hw99", bad, "--student", "s1", *c, env=env)
    assert r.exit_code == 1 and "expected id(s) are missing" in r.output
    r = run("status", "--student", "s1", "--json", *c, env=env)
    rows = json.loads(r.output)
    assert [x["status"] for x in rows] == ["scored", "rejected"] and rows[0]["private"] is None
    assert run("select", "hw99", rows[0]["id"], "--student", "s1", *c, env=env).exit_code == 0
    r = run("leaderboard", "hw99", "--json", *c, env=env)
    names = [x["name"] for x in json.loads(r.output)]
    assert "s1" in names and "simple baseline" in names
    r = run("leaderboard", "hw99", "--private", *c, env=env)
    assert r.exit_code == 2 and "stays hidden until the deadline" in r.output
    r = run("leaderboard", "hw99", "--private", "--json", *c, env={"GRADE_NOW": "2022-03-01T00:00:00"})
    assert r.exit_code == 0 and json.loads(r.output)


def test_check_uses_only_the_bundle(course, tmp_path):
    bundle = tmp_path / "b"
    assert run("release", "hw99", "--out", bundle, "--course", course.root).exit_code == 0
    r = run("check", "hw1" if False else "hw99", bundle / "hw99" / "sample_submission.csv", "--bundle", bundle / "hw99")
    assert r.exit_code == 0 and "format OK" in r.output
    (tmp_path / "x.csv").write_text("id,y\n0,1\n0,2\n")
    r = run("check", "hw99", tmp_path / "x.csv", "--bundle", bundle / "hw99", "--json")
    assert r.exit_code == 1 and any("duplicate" in p for p in json.loads(r.output)["problems"])


def test_publish_and_gradebook(calibrated, tmp_path):
    c = ["--course", calibrated.root]
    run("submit", "hw99", pred_path(calibrated, "boss"), "--student", "s1", *c, env={"GRADE_NOW": "2022-02-20T10:00"})
    site = tmp_path / "site"
    assert run("publish", "--site", site, *c, env={"GRADE_NOW": "2022-02-21T10:00"}).exit_code == 0
    assert (site / "hw99" / "public.html").is_file() and not (site / "hw99" / "private.csv").exists()
    assert run("publish", "--site", site, *c, env={"GRADE_NOW": "2022-02-25T10:00"}).exit_code == 0
    for ext in ("csv", "json", "md", "html"):
        assert (site / "hw99" / f"private.{ext}").is_file()
    assert (site / "index.html").is_file() and (site / "index.md").is_file()
    r = run("gradebook", "--out", tmp_path / "g.csv", *c, env={"GRADE_NOW": "2022-02-25T10:00"})
    assert r.exit_code == 0
    lines = (tmp_path / "g.csv").read_text().splitlines()
    assert lines[0].startswith("student_id,name,hw99_public,hw99_private,hw99_leaderboard")
    row = dict(zip(lines[0].split(","), lines[1].split(",")))
    assert (row["hw99_public"], row["hw99_private"], row["hw99_leaderboard"]) == ("2.0", "2.0", "4.0"), \
        "toy: 0.5 per level per board, all 8 passed"
    assert row["hw99_total"] == "4.0" and row["total"] == "4.0"


def test_config_errors_print_without_traceback(tmp_path):
    (tmp_path / "course.yaml").write_text("name: x\ndaily_limit: zero\n")
    r = CliRunner().invoke(main, ["leaderboard", "hw1", "--course", str(tmp_path)])
    assert r.exit_code == 2 and "course.yaml: daily_limit:" in r.output and "Traceback" not in r.output


def test_calibrate_with_the_starter_through_the_cli(course):
    r = run("calibrate", "hw99", "--with-starter", "--json", "--course", course.root)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["ok"] and [row["run"] for row in out["runs"]][-1] == "starter"
