"""A deadline rush against a running course server: many students, each with their own token and
connection, uploading within a short window — the hour before a Kaggle deadline, compressed.

Used by the test suite (correctness under load) and `benchmarks/server_rush.py` (latencies); a course
can point it at its own deployment before the term starts. It only talks to the URL it is given.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field


@dataclass
class Upload:
    student: str
    key: str
    status: str = ""  # the server's answer: scored | queued | rejected | refused, or error: …
    submission_id: int | None = None
    latency_s: float = 0.0
    http: int = 0


@dataclass
class RushReport:
    uploads: list[Upload] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def latencies(self) -> list[float]:
        return sorted(u.latency_s for u in self.uploads if u.http == 200)

    def percentile(self, q: float) -> float:
        lat = self.latencies
        return lat[min(len(lat) - 1, int(round(q * (len(lat) - 1))))] if lat else float("nan")

    @property
    def errors(self) -> list[Upload]:
        return [u for u in self.uploads if u.http != 200]


def rush(url: str, hw: str, tokens: dict[str, str], files: dict[str, list[bytes]], window_s: float = 60.0,
         concurrency: int = 32, seed: int = 0, timeout_s: float = 30.0) -> RushReport:
    """Each student uploads their files in order, at random moments within `window_s` (sorted per
    student); `concurrency` connections in flight at most. One attempt per upload: an error is counted,
    not retried, so the report shows what a student would have seen."""
    import httpx

    rng = random.Random(seed)
    plan = []  # (start offset, student, payload)
    for sid, payloads in files.items():
        times = sorted(rng.uniform(0, window_s) for _ in payloads)
        plan += [(t, sid, p) for t, p in zip(times, payloads)]
    plan.sort(key=lambda x: x[0])
    report = RushReport()
    lock = threading.Lock()
    local = threading.local()
    t0 = time.monotonic()

    def one(item) -> None:
        offset, sid, payload = item
        delay = t0 + offset - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url.rstrip("/") + "/api/v1", timeout=timeout_s)
        up = Upload(sid, uuid.uuid4().hex)
        start = time.perf_counter()
        try:
            r = local.client.post(f"/assignments/{hw}/submissions", files={"file": ("pred.csv", payload)},
                                  headers={"Authorization": f"Bearer {tokens[sid]}", "Idempotency-Key": up.key})
            up.http = r.status_code
            body = r.json()
            up.status, up.submission_id = body.get("status", body.get("error", "")), body.get("id")
        except Exception as e:  # noqa: BLE001 - recorded, the rush goes on
            up.status = f"error: {type(e).__name__}: {e}"
        up.latency_s = time.perf_counter() - start
        with lock:
            report.uploads.append(up)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, plan))
    report.wall_s = time.monotonic() - t0
    return report
