"""`grade serve`: the course server, a FastAPI app over the same course directory and store as the CLI.

Every rule lives in `grader.api` (deadlines, daily limits, finals, what a student may see); this module
only maps HTTP to it: who is asking (a bearer token, `grader.auth`), what they may ask for, and errors as
JSON with the same messages the CLI prints. A CSV upload is scored in its request and recorded in
one commit before the answer goes out; with `grading: queue` (and for work that needs a sandbox) the
submission is committed with a grading job, and worker threads or `grade worker` processes take it.
"""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, File, Header, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from .. import api, auth, catalog, jobs, worker
from ..errors import GradeError, NotFound, Refused
from .limits import BodyLimit, RateLimiter

API = "/api/v1"
UPLOAD_SLACK = 64 * 1024  # multipart framing around the file itself


MAX_ROW_ID = 2**63 - 1  # the store's ids are 64-bit integers
ROW_ID = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]


class FinalsBody(BaseModel):
    ids: list[ROW_ID] = Field(max_length=10)


class Settings(BaseModel):
    # inline: a CSV upload is scored in its request and recorded in one commit (milliseconds);
    # queue: every upload is committed as queued and graded by the workers (the answer says queued)
    grading: Literal["inline", "queue"] = "inline"
    workers: int = 1  # grading threads beside the web server (0: leave the queue to `grade worker`)
    rate: float = 5.0  # requests per second per token, on average
    burst: int = 30
    lease_s: float = 30.0  # how long a grader may hold a job before another takes it over
    poll_s: float = 0.5


def create_app(course_dir: str | Path, settings: Settings | None = None) -> FastAPI:
    cfg = settings or Settings()
    course = api.open_course(course_dir)
    course.store.ensure_tables()
    limiter = RateLimiter(cfg.rate, cfg.burst)
    stop = threading.Event()
    max_upload = max((s.submission.max_bytes for s in catalog.all_specs()), default=10_000_000) + UPLOAD_SLACK

    @asynccontextmanager
    async def lifespan(_app):
        _warm(course)  # the first upload after a (re)start must not pay for imports and answer loading
        threads = [threading.Thread(target=worker.run, args=(api.open_course(course.root), stop),
                                    kwargs={"poll_s": cfg.poll_s, "lease_s": cfg.lease_s}, daemon=True,
                                    name=f"grade-worker-{i}") for i in range(cfg.workers)]
        for t in threads:
            t.start()
        yield
        stop.set()
        for t in threads:
            t.join(timeout=10)

    app = FastAPI(title="grader course server", version="1", lifespan=lifespan,
                  description=f"Submissions and leaderboards of {course.config.name}.")
    app.add_middleware(BodyLimit, max_bytes=max_upload)
    bearer = HTTPBearer(auto_error=False, description="The token from `grade roster import` or `grade token issue`.")

    # ---- errors: JSON with the CLI's messages ----------------------------------------------------------
    def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @app.exception_handler(GradeError)
    async def _grade_error(_req, e: GradeError):
        return error(404 if isinstance(e, NotFound) else 409 if isinstance(e, Refused) else 400, str(e))

    @app.exception_handler(HTTPException)
    async def _http_error(_req, e: HTTPException):
        return error(e.status_code, str(e.detail), getattr(e, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error(422, f"{where}: {first.get('msg', 'invalid request')}".strip(": "))

    # ---- who is asking -------------------------------------------------------------------------------
    def identity(request: Request, cred: HTTPAuthorizationCredentials | None = Depends(bearer)) -> auth.Identity:
        who = auth.identify(course.store, cred.credentials if cred else None)
        wait = limiter.allow(f"id:{who.subject}" if who else f"ip:{request.client.host if request.client else '?'}")
        if wait:
            raise HTTPException(429, f"too many requests; retry in {wait:.1f} s",
                                headers={"Retry-After": str(max(1, round(wait)))})
        if who is None:
            raise HTTPException(401, "a valid token is needed (Authorization: Bearer …); see `grade login`",
                                headers={"WWW-Authenticate": "Bearer"})
        return who

    def staff(who: auth.Identity = Depends(identity)) -> auth.Identity:
        if not who.is_staff:
            raise HTTPException(403, "only TAs and instructors may do this")
        return who

    def spec_of(hw: str):
        return api.assignment(hw)  # NotFound → 404 with the known names

    def owned(who: auth.Identity, submission_id: int) -> api.SubmitResult:
        r = api.submission_result(course, submission_id)
        if not who.is_staff and r.student != who.subject:
            raise NotFound(f"no submission #{submission_id}")  # not 403: ids of others are not confirmed
        return r

    # ---- endpoints ---------------------------------------------------------------------------------
    @app.get(f"{API}/health")
    def health() -> dict:
        """Liveness, and how much grading work is waiting."""
        return {"status": "ok", "course": course.config.name, "time": course.now().isoformat(),
                "queue": jobs.counts(course.store)}

    @app.get(f"{API}/me")
    def me(who: auth.Identity = Depends(identity)) -> dict:
        return {"subject": who.subject, "role": who.role}

    @app.get(f"{API}/assignments")
    def assignments(who: auth.Identity = Depends(identity)) -> list[dict]:
        out = []
        for s in catalog.all_specs():
            deadline = course.deadline(s.short, who.subject)
            out.append({"id": s.id, "short": s.short, "title": s.title, "metric": s.metric.name,
                        "submission": s.submission.model_dump(), "daily_limit": course.limit_daily(s),
                        "finals": course.limit_finals(s), "deadline": deadline.isoformat() if deadline else None})
        return out

    @app.post(f"{API}/assignments/{{hw}}/submissions")
    def submit(hw: str, file: UploadFile = File(...), who: auth.Identity = Depends(identity),
               idempotency_key: str | None = Header(None, max_length=100)) -> dict:
        """Upload a prediction file. The answer says what became of it: scored (with the public score and
        baselines passed), queued, rejected (why, with line numbers) or refused (deadline, limit)."""
        if who.role != "student":
            raise HTTPException(403, "only students submit; TAs grade class folders with `grade batch`")
        spec = spec_of(hw)
        data = file.file.read(spec.submission.max_bytes + 1)
        r = api.submit(course, spec.short, Path(spec.submission.filename), who.subject, data=data,
                       filename=_safe_name(file.filename, spec.submission.filename),
                       idempotency_key=idempotency_key, grade=cfg.grading == "inline")
        return r.public_view()

    @app.get(f"{API}/submissions")
    def my_submissions(hw: str | None = Query(None, max_length=40),
                       who: auth.Identity = Depends(identity)) -> list[dict]:
        """Your submissions (private scores only after the deadline)."""
        if hw:
            spec_of(hw)
        return api.status(course, who.subject, hw)

    @app.get(f"{API}/submissions/{{submission_id}}")
    def submission(submission_id: int = PathParam(ge=1, le=MAX_ROW_ID), who: auth.Identity = Depends(identity)) -> dict:
        """One submission; while queued, its place in the queue."""
        r = owned(who, submission_id)
        view = r.public_view()
        if who.is_staff:
            view["private_score"] = r.private
        return view

    @app.put(f"{API}/assignments/{{hw}}/finals")
    def finals(hw: str, body: FinalsBody, who: auth.Identity = Depends(identity)) -> dict:
        if who.role != "student":
            raise HTTPException(403, "finals are chosen by the student")
        spec = spec_of(hw)
        return {"hw": spec.short, "finals": api.select_finals(course, spec.short, who.subject, body.ids)}

    @app.get(f"{API}/assignments/{{hw}}/leaderboard/{{board}}")
    def leaderboard(hw: str, board: str, who: auth.Identity = Depends(identity)) -> list[dict]:
        """The public board; the private one for TAs and instructors, and for everyone after the deadline."""
        if board not in ("public", "private"):
            raise NotFound(f"no board {board!r}: public or private")
        spec = spec_of(hw)
        try:
            b = api.leaderboard(course, spec.short, board, force=who.is_staff)
        except Refused as e:  # the private board before the deadline
            raise HTTPException(403, str(e)) from None
        return [r.as_dict() for r in b.rows]

    @app.get(f"{API}/assignments/{{hw}}/submissions")
    def class_submissions(hw: str, who: auth.Identity = Depends(staff)) -> list[dict]:
        """Every submission of a homework, for TAs and instructors (the batch view)."""
        return api.class_submissions(course, spec_of(hw).short)

    return app


def _warm(course) -> None:
    from ..data import MANIFEST, load_answers
    from ..scoring import metrics

    for spec in catalog.all_specs():
        metrics.get(spec.metric.name).warm()
        if (course.data_dir(spec.short) / MANIFEST).is_file():  # prepared here: load its answers once
            load_answers(course, spec)


def _safe_name(name: str | None, default: str) -> str:
    """The upload's own name, reduced to a plain file name (it is only recorded: files are stored by hash)."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    base = "".join(c for c in base if c.isprintable() and c not in '<>:"|?*')[:255].strip(". ")
    return base or default
