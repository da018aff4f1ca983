"""kill -9 the server and the worker at random moments during a stream of submissions: after a restart,
every submission the store holds — above all every acknowledged one — is graded exactly once."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from grader import jobs
from grader.client import Client
from grader.errors import GradeError

from ._proc import Proc, free_port, roster, serve, variants, wait_healthy

N_STUDENTS, PER_STUDENT = 30, 3


@pytest.mark.slow
@pytest.mark.parametrize("grading", ["queue", "inline"])
def test_kill_9_at_random_points_loses_and_duplicates_nothing(calibrated, tmp_path, grading):
    tokens = roster(calibrated, tmp_path, N_STUDENTS)
    pool = variants(calibrated, "medium", PER_STUDENT * N_STUDENTS)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    procs = [serve(calibrated, port, tmp_path / "server.log", "--workers", "0", "--grading", grading, "--lease", "2")]
    if grading == "queue":
        procs.append(Proc(calibrated, "worker", "--lease", "2", "--poll", "0.1", log=tmp_path / "worker.log").start())
    wait_healthy(url)
    stop, kills = threading.Event(), Counter()

    def chaos() -> None:
        rng = random.Random(11)
        while not stop.wait(rng.uniform(1.0, 3.5)):
            victim = rng.choice(procs)
            victim.kill9()
            kills[victim.args[0]] += 1
            victim.start()
            if victim is procs[0]:  # the next crash comes while it serves again, not during its start
                wait_healthy(url)

    acknowledged: dict[int, str] = {}
    failed: list[str] = []
    lock = threading.Lock()

    def student(k: int) -> None:
        sid = f"r{k:03d}"
        c = Client(url, tokens[sid], timeout=10, retries=14)  # ~80 s of patience: restarts are slow under load
        pace = random.Random(k)
        for j in range(PER_STUDENT):
            time.sleep(pace.uniform(0.5, 2.5))  # a stream over ~20 s, not one burst
            f = tmp_path / f"{sid}-{j}.csv"
            f.write_bytes(pool[k * PER_STUDENT + j])
            try:
                r = c.submit("hw99", f, wait_s=0)  # the acknowledgement is the answer to the upload
            except GradeError as e:
                with lock:
                    failed.append(f"{sid}: {e}")
                continue
            with lock:
                acknowledged[r["id"]] = r["status"]
        c.close()

    killer = threading.Thread(target=chaos, daemon=True)
    killer.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as ex:
            list(ex.map(student, range(N_STUDENTS)))
        stop.set()
        killer.join()
        for p in procs:  # a clean restart, then let the queue drain
            p.kill9()
            p.start()
        wait_healthy(url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            c = jobs.counts(calibrated.store)
            if not c.get("queued") and not c.get("running"):
                break
            time.sleep(0.2)
    finally:
        stop.set()
        for p in procs:
            p.stop()
    assert sum(kills.values()) >= 5, kills
    assert not failed, failed[:3]  # retries with the same key rode out every restart
    subs = {s.id: s for s in calibrated.store.submissions("hw99")}
    assert set(acknowledged) <= set(subs), "an acknowledged submission is in the store"
    assert len(subs) == N_STUDENTS * PER_STUDENT, "no upload was recorded twice (idempotency keys)"
    assert {s.status for s in subs.values()} == {"scored"}
    graded = Counter(e.submission_id for e in calibrated.store.events("graded"))
    assert graded == Counter({i: 1 for i in subs}), "each graded exactly once"
    if grading == "queue":
        assert jobs.counts(calibrated.store) == {"done": len(subs)}
    print(f"\n{grading}: {len(subs)} submissions, kills {dict(kills)}")
