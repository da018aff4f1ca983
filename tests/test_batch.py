"""End to end: `grader.batch.batch` on a class folder built to hold every kind of entry a TA meets.

Good entries are scored; unsafe archives are refused with the reason; broken files are rejected with
line-level messages; nothing escapes the extraction folder; one bad entry never stops the class; a
second run skips unchanged entries and re-grades changed ones.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from grader import api, catalog
from grader import batch as batchmod
from grader.batch import batch
from grader.cli import main
from grader.course import Course
from grader.data import load_answers
from grader.store import BatchResult, Submission

ASSIGNMENTS = Path(__file__).parent / "fixtures" / "assignments"
LINK_MODE = 0o120777 << 16  # a symbolic link, as Unix zip tools store it in external_attr


@pytest.fixture
def course(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADE_ASSIGNMENTS", str(ASSIGNMENTS))
    monkeypatch.delenv("GRADE_COURSE", raising=False)
    monkeypatch.setenv("GRADE_NOW", "2022-02-20T10:00:00")
    catalog._load_all.cache_clear()
    # Extraction folders go under tmp_path, so "nothing escaped" can be checked there (and /tmp stays clean).
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    c = Course.init(tmp_path / "c", homeworks={"hw99": {"deadline": "2022-02-23T23:59:00"}})
    api.prepare(c, "hw99")
    yield c
    catalog._load_all.cache_clear()


def prediction(course, offset: float = 0.0, seed: int = 0) -> str:
    """A valid pred.csv: the answers plus noise (so both scores are positive) plus `offset`."""
    ans = load_answers(course, api.assignment("hw99"))
    noise = np.random.default_rng(seed).normal(scale=0.5, size=len(ans.ids))
    lines = ["id,y"] + [f"{i},{v + d + offset:.6f}" for i, v, d in zip(ans.ids.tolist(), ans.values, noise)]
    return "\n".join(lines) + "\n"


def make_zip(path: Path, members: dict[str, bytes | str], link: str | None = None,
             compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = LINK_MODE
            z.writestr(info, "/etc/passwd")
    return path


def build_class(course, root: Path) -> Path:
    cls = root / "class"
    cls.mkdir()
    good = prediction(course)
    # A folder per student.
    (cls / "alice").mkdir()
    (cls / "alice" / "pred.csv").write_text(good)
    (cls / "alice" / "notes.txt").write_text("my report")
    # NTU COOL's export: <student>_hw99.zip, the file in a subfolder.
    make_zip(cls / "bob_hw99.zip", {"bob/": b"", "bob/pred.csv": prediction(course, 0.5, seed=1),
                                    "bob/hw99.ipynb": "{}"})
    # Archives that try to escape or exhaust the disk.
    make_zip(cls / "carol_hw99.zip", {"pred.csv": good, "../evil.csv": "id,y\n0,1\n"})
    make_zip(cls / "dave_hw99.zip", {"pred.csv": good, str(root / "abs" / "evil.csv"): "id,y\n0,1\n"})
    make_zip(cls / "erin_hw99.zip", {"pred.csv": good}, link="evil.csv")
    make_zip(cls / "frank_hw99.zip", {"pred.csv": good, "zeros.bin": bytes(50_000_000)})
    make_zip(cls / "grace_hw99.zip", {"pred.csv": good, **{f"junk/{i}.txt": "x" for i in range(300)}})
    # A zip whose member fails its CRC check (damaged in the download): the worker's exception is a status.
    damaged = make_zip(cls / "kate_hw99.zip", {"pred.csv": good}, compression=zipfile.ZIP_STORED)
    raw = damaged.read_bytes()
    at = raw.index(b"id,y\n0,") + 5
    damaged.write_bytes(raw[:at] + (b"9" if raw[at:at + 1] != b"9" else b"8") + raw[at + 1:])
    # A file that is not a zip at all, under a zip's name.
    (cls / "judy_hw99.zip").write_bytes(b"this is not a zip archive")
    # A malformed CSV, a folder without the file, a stray file, and a folder whose pred.csv is a link.
    (cls / "heidi").mkdir()
    (cls / "heidi" / "pred.csv").write_text("id,y\n0,1.5\n1,abc\n2\n")
    (cls / "ivan").mkdir()
    (cls / "ivan" / "README.txt").write_text("forgot the predictions")
    (cls / "grades_final.xlsx").write_bytes(b"PK\x03\x04 not really")
    outside = root / "outside_pred.csv"
    outside.write_text(good)
    (cls / "mallory").mkdir()
    (cls / "mallory" / "pred.csv").symlink_to(outside)
    (cls / "trent").symlink_to(cls / "alice", target_is_directory=True)
    return cls


EXPECTED_PROBLEMS = {
    "carol": "'../evil.csv' points outside the archive folder",
    "dave": "points outside the archive folder",
    "erin": "'evil.csv' is a symbolic link",
    "frank": "looks like a zip bomb",
    "grace": "entries, more than the limit of 200",
    "judy": "not a readable zip archive",
    "kate": "kate_hw99.zip: could not be read (BadZipFile: Bad CRC-32 for file 'pred.csv')",
    "heidi": "line 3: 'abc' in column y is not a number",
    "ivan": "no pred.csv found",
    "mallory": "no pred.csv found",
    "trent": "symbolic links are not graded",
    "grades_final.xlsx": "neither a student folder nor a <student>_hw99.zip archive",
}


def by_student(outcomes):
    out = {o.student: o for o in outcomes}
    assert len(out) == len(outcomes), "one outcome per entry"
    return out


def stored_results(course) -> dict[str, BatchResult]:
    with course.store.session() as s:
        return {r.student_id: r for r in s.scalars(select(BatchResult).where(BatchResult.hw == "hw99"))}


def test_batch_grades_every_entry_and_refuses_unsafe_archives(course, tmp_path):
    cls = build_class(course, tmp_path)
    outcomes = by_student(batch(course, "hw99", cls, jobs=2))

    assert set(outcomes) == {"alice", "bob", *EXPECTED_PROBLEMS}
    for student in ("alice", "bob"):
        o = outcomes[student]
        assert o.status == "scored", o.message
        assert o.public is not None and o.private is not None and o.public > 0 and o.private > 0
        assert o.submission_id is not None
    assert outcomes["bob"].public > outcomes["alice"].public  # bob's predictions are offset by 0.5

    for student, problem in EXPECTED_PROBLEMS.items():
        o = outcomes[student]
        assert o.status == "rejected", (student, o)
        assert problem in o.message, (student, o.message)
        assert o.public is None and o.private is None
    # Messages name the entry they are about.
    assert outcomes["carol"].message.startswith("carol_hw99.zip:")
    assert outcomes["heidi"].message.startswith("pred.csv:")

    # Nothing escaped: no evil.csv anywhere under tmp_path (the extraction folders live there too), none
    # beside the class folder, and the extraction folders are all cleaned up.
    assert list(tmp_path.rglob("evil.csv")) == []
    assert not (cls.parent / "evil.csv").exists() and not (tmp_path / "abs").exists()
    assert list((tmp_path / "scratch").iterdir()) == []
    assert not Path("/etc/evil.csv").exists()

    # Every student entry is recorded in the store with its status and message; the stray file and the
    # top-level link are not entries, so they are only reported.
    results = stored_results(course)
    assert set(results) == set(outcomes) - {"grades_final.xlsx", "trent"}
    for student, r in results.items():
        assert (r.status, r.message) == (outcomes[student].status, outcomes[student].message)
        assert len(r.sha256) == 64
    subs = {s.id: s for s in course.store.submissions(hw="hw99")}
    for student in ("alice", "bob"):
        s = subs[results[student].submission_id]
        assert (s.student_id, s.status, s.origin, s.filename) == (student, "scored", "batch", "pred.csv")
        assert s.public_score == pytest.approx(outcomes[student].public)
        assert s.private_score == pytest.approx(outcomes[student].private)
    # The malformed CSV went through submit: a rejected submission with the validator's message.
    heidi = subs[results["heidi"].submission_id]
    assert heidi.status == "rejected" and "line 3" in heidi.message and "line 4" in heidi.message
    # Refused archives never reach submit.
    assert all(results[s].submission_id is None
               for s in ("carol", "dave", "erin", "frank", "grace", "judy", "kate"))

    # The batch shows up on the leaderboard like any other submission.
    board = api.leaderboard(course, "hw99")
    assert [r.student_id for r in board.students] == ["alice", "bob"]


def test_outcomes_keep_the_folder_order(course, tmp_path):
    cls = build_class(course, tmp_path)
    outcomes = batch(course, "hw99", cls, jobs=2)
    students = [o.student for o in outcomes if o.student != "grades_final.xlsx"]
    assert students == sorted(students)


def test_second_run_skips_unchanged_entries_and_regrades_changed_ones(course, tmp_path):
    cls = build_class(course, tmp_path)
    first = by_student(batch(course, "hw99", cls, jobs=2))

    (cls / "alice" / "pred.csv").write_text(prediction(course, 1.0, seed=5))  # alice resubmits
    make_zip(cls / "carol_hw99.zip", {"carol/pred.csv": prediction(course, 0.2, seed=3)})  # carol fixes hers
    (cls / "olivia").mkdir()  # a late addition to the class folder
    (cls / "olivia" / "pred.csv").write_text(prediction(course, seed=4))

    second = by_student(batch(course, "hw99", cls, jobs=2))
    assert second["alice"].status == "scored"
    assert second["alice"].submission_id != first["alice"].submission_id
    assert second["alice"].public > first["alice"].public
    assert second["carol"].status == "scored" and second["olivia"].status == "scored"
    unchanged = set(EXPECTED_PROBLEMS) - {"carol", "trent", "grades_final.xlsx"} | {"bob"}
    for student in unchanged:
        assert second[student].status == "skipped", (student, second[student])
        assert "unchanged" in second[student].message
    # Top-level links and stray files are not entries: they are reported again, never stored.
    assert second["trent"].status == "rejected" and second["grades_final.xlsx"].status == "rejected"

    results = stored_results(course)
    assert results["alice"].submission_id == second["alice"].submission_id
    assert results["carol"].status == "scored" and results["bob"].status == "scored"
    assert results["frank"].status == "rejected"  # a skipped entry keeps its earlier record
    assert len([s for s in course.store.submissions(hw="hw99") if s.student_id == "bob"]) == 1

    third = by_student(batch(course, "hw99", cls, jobs=1))
    assert {s for s, o in third.items() if o.status != "skipped"} == {"trent", "grades_final.xlsx"}


def test_one_crashing_entry_does_not_stop_the_class(course, tmp_path, monkeypatch):
    cls = tmp_path / "class"
    for student in ("ann", "ben", "cat"):
        (cls / student).mkdir(parents=True)
        (cls / student / "pred.csv").write_text(prediction(course, seed=len(student) + ord(student[0])))
    real_submit = api.submit

    def submit(course_, hw, path, student, **kw):
        if student == "ben":
            raise RuntimeError("disk on fire")
        return real_submit(course_, hw, path, student, **kw)

    monkeypatch.setattr(api, "submit", submit)
    outcomes = by_student(batch(course, "hw99", cls, jobs=2))
    assert outcomes["ann"].status == "scored" and outcomes["cat"].status == "scored"
    assert outcomes["ben"].status == "error"
    assert "disk on fire" in outcomes["ben"].message and "RuntimeError" in outcomes["ben"].message
    assert stored_results(course)["ben"].status == "error"

    # The grader failed, not ben: a re-run grades him again and skips the others.
    monkeypatch.setattr(api, "submit", real_submit)
    again = by_student(batch(course, "hw99", cls, jobs=2))
    assert {s: o.status for s, o in again.items()} == {"ann": "skipped", "ben": "scored", "cat": "skipped"}
    assert stored_results(course)["ben"].status == "scored"


def test_an_unwalkable_csv_is_a_rejection_not_a_crash():
    """A field over the csv module's limit once escaped validation as csv.Error and stopped the batch."""
    from grader.scoring.validate import Invalid, validate_csv
    from grader.spec import SubmissionSpec

    sub = SubmissionSpec(filename="pred.csv", id_column="Id", columns={"Id": "int", "Class": "int"},
                         max_bytes=1_000_000)
    with pytest.raises(Invalid, match="line 3: field larger than field limit"):
        validate_csv(b'Id,Class\n0,1\n1,"' + b"7" * 200_000 + b'"\n', "pred.csv", sub, np.arange(2))
    with pytest.raises(Invalid, match="line 3: '99999999999999999999999' in column Class is out of the 64-bit"):
        validate_csv(b"Id,Class\n0,1\n1,99999999999999999999999\n", "pred.csv", sub, np.arange(2))


def test_a_folder_with_one_differently_named_csv_is_graded(course, tmp_path):
    cls = tmp_path / "class"
    (cls / "ann").mkdir(parents=True)
    (cls / "ann" / "predictions.csv").write_text(prediction(course))
    (cls / "ben").mkdir()
    (cls / "ben" / "a.csv").write_text(prediction(course))
    (cls / "ben" / "b.csv").write_text(prediction(course))
    out = by_student(batch(course, "hw99", cls, jobs=1))
    assert out["ann"].status == "scored"
    assert out["ben"].status == "rejected" and "no pred.csv found" in out["ben"].message


def test_several_pred_files_are_refused_as_ambiguous(course, tmp_path):
    cls = tmp_path / "class"
    (cls / "ann" / "v1").mkdir(parents=True)
    (cls / "ann" / "v2").mkdir()
    (cls / "ann" / "v1" / "pred.csv").write_text(prediction(course))
    (cls / "ann" / "v2" / "pred.csv").write_text(prediction(course, 1.0))
    (out,) = batch(course, "hw99", cls, jobs=1)
    assert out.status == "rejected" and "several candidate files" in out.message
    assert "v1/pred.csv" in out.message and "v2/pred.csv" in out.message


def test_an_empty_class_folder_grades_nothing(course, tmp_path):
    (tmp_path / "class").mkdir()
    assert batch(course, "hw99", tmp_path / "class", jobs=2) == []


def test_cli_batch_json(course, tmp_path):
    cls = tmp_path / "class"
    (cls / "alice").mkdir(parents=True)
    (cls / "alice" / "pred.csv").write_text(prediction(course))
    with zipfile.ZipFile(cls / "bob_hw99.zip", "w") as z:
        z.writestr("../evil.csv", "id,y\n0,1\n")
    res = CliRunner().invoke(main, ["batch", "hw99", str(cls), "--json", "--jobs", "2", "--course", str(course.root)])
    assert res.exit_code == 0, res.output
    rows = {r["student"]: r for r in json.loads(res.stdout)}
    assert rows["alice"]["status"] == "scored" and rows["alice"]["public"] > 0 and rows["alice"]["private"] > 0
    assert rows["bob"]["status"] == "rejected" and "points outside the archive folder" in rows["bob"]["message"]
    assert list(tmp_path.rglob("evil.csv")) == []

    again = CliRunner().invoke(main, ["batch", "hw99", str(cls), "--json", "--course", str(course.root)])
    assert again.exit_code == 0, again.output
    assert {r["student"]: r["status"] for r in json.loads(again.stdout)} == {"alice": "skipped", "bob": "skipped"}


def test_safe_extract_never_writes_outside_dest(tmp_path):
    """The extraction itself, without the batch around it: a refused archive writes nothing at all."""
    from grader.submission import ArchiveRefused, safe_extract

    z = make_zip(tmp_path / "a.zip", {"ok.csv": "id,y\n", "../evil.csv": "x"})
    with pytest.raises(ArchiveRefused, match="points outside"):
        safe_extract(z, tmp_path / "out")
    assert not (tmp_path / "out").exists() and list(tmp_path.rglob("evil.csv")) == []
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("C:\\evil.csv", "x")
    (tmp_path / "b.zip").write_bytes(buf.getvalue())
    with pytest.raises(ArchiveRefused, match="points outside"):
        safe_extract(tmp_path / "b.zip", tmp_path / "out")
    assert safe_extract(make_zip(tmp_path / "c.zip", {"d/ok.csv": "id,y\n"}), tmp_path / "out") == [
        tmp_path / "out" / "d" / "ok.csv"]
    assert os.listdir(tmp_path / "out") == ["d"]
