"""The durable grading queue, kept in the store next to the submissions it grades.

A submission is accepted in one transaction that also creates its job, so once `grade submit` or the
server has answered, the work cannot be lost: the job is on disk. A job moves

    queued ──claim──► running (lease: owner + lease_until) ──finish──► done
                         │ fail: back to queued after a backoff ……► dead after the last attempt
                         └ lease ran out (the worker died): claimable again

Only the current lease holder can finish a job, inside the transaction that records the scores, so a
job is completed exactly once even when a worker that lost its lease wakes up and tries too.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, func, or_, select

from .store import Job, Submission, utcnow

LEASE_S = 60.0
MAX_ATTEMPTS = 5
BACKOFF_S = 2.0  # first retry after 2 s, then 4, 8, …


@dataclass(frozen=True)
class Claim:
    job_id: int
    submission_id: int
    kind: str
    owner: str
    attempts: int


def new_owner() -> str:
    """A name for one claimant: host, process, thread and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


def enqueue(store, s, submission_id: int, kind: str = "score") -> None:
    """Add the job inside the caller's accepting transaction `s`: both are committed, or neither."""
    s.add(Job(submission_id=submission_id, kind=kind, status="queued", not_before=utcnow()))


def claim(store, owner: str, lease_s: float = LEASE_S) -> Claim | None:
    """Take the oldest job that is due, or whose lease ran out."""
    now = utcnow()
    with store.session() as s:
        q = (select(Job).where(or_(and_(Job.status == "queued", Job.not_before <= now),
                                   and_(Job.status == "running", Job.lease_until < now)))
             .order_by(Job.id).limit(1))
        if not store.is_sqlite:  # SQLite serialises writers already; elsewhere skip rows others hold
            q = q.with_for_update(skip_locked=True)
        job = s.scalar(q)
        if job is None:
            return None
        job.status, job.lease_owner = "running", owner
        job.lease_until = now + timedelta(seconds=lease_s)
        job.attempts += 1
        return Claim(job.id, job.submission_id, job.kind, owner, job.attempts)


def _held(s, c: Claim) -> Job | None:
    job = s.get(Job, c.job_id)
    return job if job is not None and job.status == "running" and job.lease_owner == c.owner else None


def finish(store, c: Claim, apply) -> bool:
    """Record the result (`apply(session)`) and close the job, in one transaction — only while `c` still
    holds the lease. False when the lease was lost (another worker's result is the one that counts)."""
    with store.session() as s:
        job = _held(s, c)
        if job is None:
            return False
        apply(s)
        job.status, job.finished_at, job.error = "done", utcnow(), ""
        return True


def fail(store, c: Claim, error: str, max_attempts: int = MAX_ATTEMPTS, backoff_s: float = BACKOFF_S) -> str:
    """An attempt failed: retry later (`retry`), give up (`dead`: the submission becomes an error with
    the reason and its slot is given back), or `lost` when the lease had already gone to someone else."""
    now = utcnow()
    with store.session() as s:
        job = _held(s, c)
        if job is None:
            return "lost"
        job.error = error[-2000:]
        if job.attempts >= max_attempts:
            job.status, job.finished_at = "dead", now
            sub = s.get(Submission, job.submission_id)
            sub.status, sub.counted = "error", False
            sub.message = f"grading failed after {job.attempts} attempts: {error}"[:2000]
            store.log(s, "dead", actor=c.owner, hw=sub.hw, student_id=sub.student_id, submission_id=sub.id,
                      error=error[-500:])
            return "dead"
        job.status, job.lease_owner, job.lease_until = "queued", "", None
        job.not_before = now + timedelta(seconds=backoff_s * 2 ** (job.attempts - 1))
        return "retry"


def job_of(store, submission_id: int) -> Job | None:
    with store.reading() as s:
        return s.scalar(select(Job).where(Job.submission_id == submission_id))


def position(store, submission_id: int) -> int | None:
    """1 for the next job to be taken; None when the submission's job is not waiting."""
    with store.reading() as s:
        job = s.scalar(select(Job).where(Job.submission_id == submission_id))
        if job is None or job.status not in ("queued", "running"):
            return None
        ahead = s.scalar(select(func.count()).select_from(Job).where(
            Job.status.in_(("queued", "running")), Job.id < job.id)) or 0
        return ahead + 1


def counts(store) -> dict[str, int]:
    with store.reading() as s:
        rows = s.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return {status: n for status, n in rows}
