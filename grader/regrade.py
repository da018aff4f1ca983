"""`grade regrade`: grade again after the answers, a hidden check or a grading rule was fixed.

Every stored submission of the homework (or of one student) is scored again from its file, byte for byte
what was sent, against the current answers and `grading.py`; a TA batch entry that was re-executed
(`--rerun`) is re-executed again from the entry it was graded from, and its hidden checks replaced. The
submissions themselves stay (same id, file and time); only their scores and the check results change, each
change recorded in the audit log with the old and new values. Hand-given points (`grade adjust`, imported
report scores) live apart and are untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import batch as batchmod
from .data import load_answers
from .scoring.score import align, check_submission, score_values
from .scoring.validate import Invalid
from .store import BatchResult, Submission
from .submission import blob_path


@dataclass
class Change:
    submission_id: int | None
    student: str
    what: str  # score | rerun
    before: str
    after: str


def rescore(course, spec, student: str | None = None) -> list[Change]:
    answers = load_answers(course, spec)
    changes: list[Change] = []
    for sub in course.store.submissions(hw=spec.short, student_id=student):
        if sub.status not in ("scored", "rejected"):
            continue  # refused (late, over the limit, duplicate) and queued work are not grades
        data = blob_path(course.files_dir, sub.sha256).read_bytes()
        before = (sub.status, sub.public_score, sub.private_score, sub.extra_scores)
        try:
            checked = check_submission(spec, answers, data, sub.filename)
        except Invalid as e:
            after = ("rejected", None, None, None)
            message = str(e)
        else:
            s = score_values(spec, answers, align(checked, answers.ids))
            after = ("scored", s.public, s.private, {k: list(v) for k, v in s.extra.items()} or None)
            message = "scored"
        if after == before:
            continue
        with course.store.session() as db:
            row = db.get(Submission, sub.id)
            row.status, row.public_score, row.private_score, row.extra_scores = after
            row.message = message
            course.store.log(db, "regrade", actor="instructor", hw=spec.short, student_id=sub.student_id,
                             submission_id=sub.id, before=list(before[:3]), after=list(after[:3]))
        changes.append(Change(sub.id, sub.student_id, "score", _fmt(before), _fmt(after)))
    return changes


def rerun(course, spec, student: str | None = None, jobs: int = 2, backend: str | None = None,
          executor: str = "local", address: str | None = None) -> list[Change]:
    """Re-execute the TA batch entries that were graded with `--rerun`, from where they were graded."""
    rows = [b for b in course.store.batch_results(spec.short)
            if b.rerun_status and (student is None or b.student_id == student)]
    changes: list[Change] = []
    by_folder: dict[Path, list[BatchResult]] = {}
    for b in rows:
        src = Path(b.source) if b.source else None
        if src is None or not src.exists():
            changes.append(Change(b.submission_id, b.student_id, "rerun", b.rerun_status,
                                  f"not re-run: the entry it was graded from is gone ({b.source or 'unknown'})"))
            continue
        by_folder.setdefault(src.parent, []).append(b)
    for folder, group in by_folder.items():
        before = {b.student_id: (b.rerun_status, b.hidden_points) for b in group}
        outcomes = batchmod.batch(course, spec.short, folder, jobs, rerun=True, backend=backend, executor=executor,
                                  address=address, only=set(before), force=True)
        for o in outcomes:
            if o.student in before and (o.rerun, o.hidden_points) != before[o.student]:
                changes.append(Change(o.submission_id, o.student, "rerun", f"{before[o.student][0]} "
                                      f"({before[o.student][1]} points)", f"{o.rerun} ({o.hidden_points} points)"))
    return changes


def _fmt(state) -> str:
    status, public, private, _extra = state
    return status if status != "scored" else f"public {public:.6g}, private {private:.6g}"
