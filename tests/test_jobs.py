"""The grading queue: accepted work survives, failed attempts retry and end dead with the reason,
a lost lease cannot finish a job, a retried upload is answered with its first submission."""

import time

import pytest

from grader import api, jobs, worker
from grader.store import Job, Submission

from .conftest import BEFORE, at, pred_path


def submit(course, student="s1", level="strong", **kw):
    return api.submit(course, "hw99", pred_path(course, level), student, now=at(course, BEFORE), **kw)


def job(course, sub_id) -> Job:
    return jobs.job_of(course.store, sub_id)


def test_an_inline_graded_submission_is_recorded_in_one_commit_and_never_queued(calibrated):
    r = submit(calibrated)
    assert r.status == "scored" and jobs.job_of(calibrated.store, r.id) is None
    (accepted,), (graded,) = calibrated.store.events("submit"), calibrated.store.events("graded")
    assert accepted.submission_id == graded.submission_id == r.id and graded.detail["status"] == "scored"


def test_an_accepted_submission_waits_in_the_queue_until_a_worker_grades_it(calibrated):
    r = submit(calibrated, grade=False)
    assert r.status == "queued" and r.queue_position == 1 and r.used_today == 1  # the slot is taken now
    assert [b.status for b in calibrated.store.submissions("hw99")] == ["queued"]
    assert worker.run_once(calibrated) == "done"
    done = api.submission_result(calibrated, r.id)
    assert done.status == "scored" and done.public is not None and done.queue_position is None
    assert worker.run_once(calibrated) is None
    assert [e.submission_id for e in calibrated.store.events("graded")] == [r.id]


def test_failures_retry_with_backoff_then_the_job_is_dead_with_its_reason(calibrated, monkeypatch):
    calls = []

    def broken(course, sub):
        calls.append(sub.id)
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(worker.HANDLERS, "score", broken)
    r = submit(calibrated, grade=False)
    assert r.status == "queued" and worker.run_once(calibrated) == "retry"  # the first attempt fails
    j = job(calibrated, r.id)
    assert j.status == "queued" and j.attempts == 1 and "disk on fire" in j.error
    assert worker.run_once(calibrated) is None  # not due yet: backoff
    for n in range(2, jobs.MAX_ATTEMPTS + 1):
        with calibrated.store.session() as s:  # fast-forward the backoff
            s.get(Job, j.id).not_before = s.get(Job, j.id).created_at
        assert worker.run_once(calibrated) == ("dead" if n == jobs.MAX_ATTEMPTS else "retry")
    j = job(calibrated, r.id)
    assert j.status == "dead" and len(calls) == jobs.MAX_ATTEMPTS
    sub = api.submission_result(calibrated, r.id)
    assert sub.status == "error" and "grading failed after 5 attempts: RuntimeError: disk on fire" in sub.message
    assert sub.used_today == 0  # the grader's failure gives the slot back
    assert [e.submission_id for e in calibrated.store.events("dead")] == [r.id]


def test_a_job_whose_worker_died_is_taken_over_and_the_late_worker_cannot_finish_it(calibrated):
    r = submit(calibrated, grade=False)
    dead = jobs.claim(calibrated.store, "worker-that-dies", lease_s=0.2)
    assert dead is not None and jobs.claim(calibrated.store, "other", lease_s=5) is None  # leased
    time.sleep(0.3)
    alive = jobs.claim(calibrated.store, "other", lease_s=30)
    assert alive is not None and alive.job_id == dead.job_id and alive.attempts == 2
    assert worker.process(calibrated, dead) == "lost"  # woke up too late: its result does not count
    assert api.submission_result(calibrated, r.id).status == "queued"
    assert worker.process(calibrated, alive) == "done"
    assert len(calibrated.store.events("graded")) == 1


def test_a_retried_upload_with_the_same_key_uses_one_slot(calibrated):
    first = submit(calibrated, idempotency_key="k-1")
    again = submit(calibrated, idempotency_key="k-1")
    assert first.status == "scored" and again.replayed and again.id == first.id and again.public == first.public
    assert again.used_today == 1 and len(calibrated.store.submissions("hw99")) == 1
    other = submit(calibrated, level="boss", idempotency_key="k-2")
    assert other.id != first.id and other.used_today == 2


def test_a_duplicate_of_a_queued_file_is_refused(calibrated):
    r = submit(calibrated, grade=False)
    dup = submit(calibrated)
    assert dup.status == "refused" and f"identical to your submission #{r.id}" in dup.message


@pytest.mark.parametrize("n", [3])
def test_queue_positions_follow_the_order_of_acceptance(calibrated, n):
    ids = [submit(calibrated, student=f"s{k}", grade=False).id for k in range(n)]
    assert [jobs.position(calibrated.store, i) for i in ids] == [1, 2, 3]
    worker.run_once(calibrated)
    assert [jobs.position(calibrated.store, i) for i in ids] == [None, 1, 2]
    assert jobs.counts(calibrated.store) == {"done": 1, "queued": 2}
    with calibrated.store.reading() as s:
        assert s.get(Submission, ids[0]).status == "scored"
