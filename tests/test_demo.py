"""`grade demo`, the README's main job, end to end."""

import json

import pytest

from grader import demo


@pytest.mark.slow
def test_demo_runs_a_whole_season(tmp_path):
    s = demo.run(tmp_path / "course", tmp_path / "site", n_students=30, quiet=True)
    st = s["statuses"]
    assert st["scored"] > 100 and st["rejected"] > 0 and st["refused"] > 0
    assert s["batch"]["scored"] >= 25 and s["batch"]["rejected"] == 2  # the escaping zip and the empty one
    for board in ("public", "private"):
        for ext in ("csv", "json", "md", "html"):
            assert (tmp_path / "site" / "hw01" / f"{board}.{ext}").is_file()
    rows = json.loads((tmp_path / "site" / "hw01" / "private.json").read_text())["rows"]
    assert sum(1 for r in rows if r["baseline"]) == 4 and sum(1 for r in rows if not r["baseline"]) >= 28
    assert (tmp_path / "course" / "gradebook.csv").is_file()
    assert not list(tmp_path.rglob("escape.csv")), "the escaping archive wrote nothing"
