"""The student's side of the course server: `grade login URL`, then `grade submit hw5` posts there.

The login (server URL and token) is kept in `$GRADE_CONFIG_DIR/login.json` (default
`~/.config/grader/`, readable by its owner only). Uploads carry an idempotency key and are retried on
network errors, 429 and 5xx answers with the same key, so a flaky connection never spends two slots;
a submission that comes back queued is polled until it is graded.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from .errors import GradeError

RETRIES = 6
POLL_S = 30.0


def config_dir() -> Path:
    env = os.environ.get("GRADE_CONFIG_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "grader"


def login_file() -> Path:
    return config_dir() / "login.json"


def saved_login() -> dict | None:
    try:
        return json.loads(login_file().read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


class RemoteError(GradeError):
    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


class Client:
    def __init__(self, url: str, token: str, timeout: float = 30.0, retries: int = RETRIES) -> None:
        import httpx

        self.url, self.retries = url.rstrip("/"), retries
        self.http = httpx.Client(base_url=self.url + "/api/v1", timeout=timeout,
                                 headers={"Authorization": f"Bearer {token}", "User-Agent": "grade-cli"})

    @classmethod
    def from_login(cls) -> "Client":
        saved = saved_login()
        if not saved:
            raise GradeError("not logged in: run `grade login URL --token TOKEN` first")
        return cls(saved["url"], saved["token"])

    def close(self) -> None:
        self.http.close()

    # ---- transport: retries with backoff, errors as GradeError -----------------------------------
    def _call(self, method: str, path: str, retry: bool = True, **kw):
        import httpx

        delay, attempts = 0.5, self.retries if retry else 1
        for attempt in range(attempts):
            try:
                r = self.http.request(method, path, **kw)
            except httpx.TransportError as e:
                if attempt == attempts - 1:
                    raise GradeError(f"cannot reach {self.url}: {type(e).__name__}: {e}") from None
            else:
                if r.status_code < 400:
                    return r.json()
                if (r.status_code == 429 or r.status_code >= 500) and attempt < attempts - 1:
                    delay = max(delay, float(r.headers.get("Retry-After", 0) or 0))
                else:
                    try:
                        message = r.json().get("error", r.text)
                    except ValueError:
                        message = r.text
                    raise RemoteError(r.status_code, f"{message} (HTTP {r.status_code})")
            time.sleep(delay)
            delay = min(delay * 2, 8.0)
        raise GradeError(f"{self.url}: no answer after {attempts} attempts")

    # ---- what the CLI asks for ---------------------------------------------------------------
    def me(self) -> dict:
        return self._call("GET", "/me", retry=False)

    def submit(self, hw: str, path: Path, wait_s: float = POLL_S) -> dict:
        data = Path(path).read_bytes()
        key = uuid.uuid4().hex  # the same for every retry of this upload
        r = self._call("POST", f"/assignments/{hw}/submissions", headers={"Idempotency-Key": key},
                       files={"file": (Path(path).name, data, "application/octet-stream")})
        deadline = time.monotonic() + wait_s
        while r.get("status") == "queued" and time.monotonic() < deadline:
            time.sleep(0.5)
            r = self._call("GET", f"/submissions/{r['id']}")
        return r

    def status(self, hw: str | None = None) -> list[dict]:
        return self._call("GET", "/submissions", params={"hw": hw} if hw else None)

    def select(self, hw: str, ids: list[int]) -> dict:
        return self._call("PUT", f"/assignments/{hw}/finals", json={"ids": ids})

    def leaderboard(self, hw: str, board: str = "public") -> list[dict]:
        return self._call("GET", f"/assignments/{hw}/leaderboard/{board}")

    def class_submissions(self, hw: str) -> list[dict]:
        return self._call("GET", f"/assignments/{hw}/submissions")


def login(url: str, token: str) -> dict:
    """Check the token against the server, then keep it (owner-only file)."""
    c = Client(url, token)
    try:
        who = c.me()
    finally:
        c.close()
    d = config_dir()
    d.mkdir(parents=True, exist_ok=True)
    fd = os.open(login_file(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url.rstrip("/"), "token": token, **who}, f)
    return who


def logout() -> bool:
    try:
        login_file().unlink()
        return True
    except FileNotFoundError:
        return False
