"""Request limits of the course server: a per-token rate limit and a cap on upload bodies.

The rate limit is a token bucket per identity (per client address before authentication): `rate`
requests per second on average, bursts of `burst`. The body cap is enforced while the upload streams in
(the multipart parser spools it to disk), so an endless or oversized body is cut off at the cap with a
413 instead of filling the disk; a declared Content-Length over the cap is refused before reading.
"""

from __future__ import annotations

import json
import threading
import time

from fastapi import HTTPException


class RateLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = float(rate), int(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def allow(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds to wait before the next one would."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


class BodyTooLarge(HTTPException):
    """An HTTPException, so that FastAPI's body parsing passes it on as a 413 rather than a generic 400."""

    def __init__(self, cap: int) -> None:
        super().__init__(413, f"the upload is larger than the server's limit of {cap:,} bytes")


class BodyLimit:
    """ASGI middleware: request bodies larger than `max_bytes` end in 413 Payload Too Large."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await _too_large(send, self.max_bytes)
        seen = 0
        started = False

        async def capped_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _too_large(send, self.max_bytes)


async def _too_large(send, cap: int) -> None:
    body = json.dumps({"error": f"the upload is larger than the server's limit of {cap:,} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
