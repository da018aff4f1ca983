"""The last hour before a deadline, compressed: 300 students, each with their own connection."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from ._proc import free_port, roster, serve, variants, wait_healthy

N_STUDENTS = 300
WINDOW_S = 40.0


@pytest.mark.slow
def test_deadline_rush_loses_nothing_duplicates_nothing_and_keeps_the_daily_limit(calibrated, tmp_path):
    from grader.server.loadtest import rush

    tokens = roster(calibrated, tmp_path, N_STUDENTS)
    rng = random.Random(5)
    pool = variants(calibrated, "strong", 40)
    files = {}
    for k, sid in enumerate(tokens):
        # most send 1-3 files; one in ten tries 7 (two over the limit of 5); a few send junk
        n = 7 if k % 10 == 0 else rng.randint(1, 3)
        picks = rng.sample(range(len(pool)), n)
        files[sid] = [pool[i] for i in picks]
        if k % 25 == 1:
            files[sid].append(b"id,y\n0,not-a-number\n")
    port = free_port()
    server = serve(calibrated, port, tmp_path / "server.log", "--workers", "1")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url)
        report = rush(url, "hw99", tokens, files, window_s=WINDOW_S, concurrency=48, seed=1)
    finally:
        server.stop()
    assert not report.errors, report.errors[:3]
    sent = sum(len(v) for v in files.values())
    assert len(report.uploads) == sent
    subs = calibrated.store.submissions("hw99")
    assert len(subs) == sent, "every upload is one recorded submission"
    assert sorted(s.id for s in subs) == sorted(u.submission_id for u in report.uploads)
    per_student = Counter(s.student_id for s in subs if s.counted)
    assert max(per_student.values()) == 5, "the daily limit is reached by those who try, never exceeded"
    answered = Counter(u.status for u in report.uploads)
    assert answered["refused"] == 2 * len([k for k in range(N_STUDENTS) if k % 10 == 0])
    assert answered["rejected"] == len([k for k in range(N_STUDENTS) if k % 25 == 1])
    assert {s.status for s in subs} == {"scored", "refused", "rejected"}  # nothing left queued
    graded = Counter(e.submission_id for e in calibrated.store.events("graded"))
    assert set(graded.values()) == {1} and len(graded) == answered["scored"]
    print(f"\nrush: {sent} uploads from {N_STUDENTS} students in {report.wall_s:.1f} s; "
          f"p50 {report.percentile(0.5) * 1000:.0f} ms, p99 {report.percentile(0.99) * 1000:.0f} ms")
