"""Workers: take grading jobs from the queue (`grader.jobs`) and record what they find.

`grade worker` runs this loop in its own process; `grade serve` runs it in threads beside the web
server. (A CSV submission is usually scored inline by `grader.api.submit` and never queued.) Whatever a
handler raises is a failed attempt (retried with backoff, then dead with the reason), never a crashed
worker.

Handlers by job kind:
    score   validate the stored file against the hidden ids and score it on both boards (CSV and
            line-per-prediction homeworks; milliseconds)
"""

from __future__ import annotations

import threading
import time

from . import catalog, jobs
from .data import load_answers
from .scoring.score import align, check_submission, score_values
from .scoring.validate import Checked, Invalid
from .store import Submission
from .submission import blob_path


def score_outcome(course, spec, answers, checked: Checked) -> dict:
    """The fields a scored submission gets (both boards, computed on the host)."""
    s = score_values(spec, answers, align(checked, answers.ids))
    return {"status": "scored", "message": "scored", "public_score": s.public, "private_score": s.private,
            "extra_scores": {k: list(v) for k, v in s.extra.items()} or None}


def _score(course, sub: Submission) -> dict:
    spec = catalog.resolve(sub.hw)
    answers = load_answers(course, spec)
    data = blob_path(course.files_dir, sub.sha256).read_bytes()  # byte for byte what was sent
    try:
        checked = check_submission(spec, answers, data, sub.filename)
    except Invalid as e:  # the answers changed under it (data re-prepared): not the student's slot
        return {"status": "rejected", "message": str(e), "counted": False}
    return score_outcome(course, spec, answers, checked)


HANDLERS = {"score": _score}


def process(course, claim: jobs.Claim) -> str:
    """Run one claimed job: `done`, `retry`, `dead` or `lost` (the lease went to another worker)."""
    try:
        with course.store.reading() as s:
            sub = s.get(Submission, claim.submission_id)
        outcome = HANDLERS[claim.kind](course, sub)
    except Exception as e:  # noqa: BLE001 - a failed attempt is data
        return jobs.fail(course.store, claim, f"{type(e).__name__}: {e}")

    def record(s) -> None:
        row = s.get(Submission, claim.submission_id)
        for key, value in outcome.items():
            setattr(row, key, value)
        course.store.log(s, "graded", actor=claim.owner, hw=row.hw, student_id=row.student_id,
                         submission_id=row.id, status=row.status, attempt=claim.attempts)

    return "done" if jobs.finish(course.store, claim, record) else "lost"


def run_once(course, owner: str | None = None, lease_s: float = jobs.LEASE_S) -> str | None:
    """Take and run the next due job; None when there is none."""
    c = jobs.claim(course.store, owner or jobs.new_owner(), lease_s)
    return process(course, c) if c else None


def run(course, stop: threading.Event, poll_s: float = 0.5, lease_s: float = jobs.LEASE_S,
        on_result=None) -> int:
    """Work until `stop` is set; returns the number of jobs run."""
    owner, n = jobs.new_owner(), 0
    while not stop.is_set():
        try:
            result = run_once(course, owner, lease_s)
        except Exception:  # noqa: BLE001 - the store was busy or gone for a moment: try again
            result = None
            time.sleep(poll_s)
        if result is None:
            stop.wait(poll_s)
            continue
        n += 1
        if on_result:
            on_result(result)
    return n
