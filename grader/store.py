"""The store: SQLAlchemy tables and the queries the platform needs (SQLite by default, any URL works).

Submissions are immutable rows (the file itself lives content-addressed under `course/files`); every
action also leaves an `events` row, the audit log. The one write that races — "may this student use
another slot today?" — runs in a single serialised transaction (`BEGIN IMMEDIATE` on SQLite, a row lock
on the student elsewhere), so twenty concurrent `grade submit` processes never exceed the daily limit.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, TypeDecorator,
                        UniqueConstraint, create_engine, event, func, select)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class UTC(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out; stored naive-UTC so SQLite and Postgres agree."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Student(Base):
    __tablename__ = "students"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    alias: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20), default="student")
    created_at: Mapped[datetime] = mapped_column(UTC, default=utcnow)


class Submission(Base):
    __tablename__ = "submissions"
    # A retried upload carries the same key: it finds its first submission instead of using a second slot.
    __table_args__ = (UniqueConstraint("student_id", "idempotency_key", name="uq_submission_retry"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hw: Mapped[str] = mapped_column(String(16), index=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTC, index=True)
    # queued (accepted, being graded) | scored | rejected (invalid file) | refused (rules: late, limit,
    # duplicate) | error (grading failed for good; see the job)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    public_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    private_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    counted: Mapped[bool] = mapped_column(Boolean, default=False)  # used one of the day's slots
    origin: Mapped[str] = mapped_column(String(16), default="submit")  # submit | batch | demo
    idempotency_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    extra_scores: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # `also` metrics: {name: [public, private]}


class Job(Base):
    """A grading job: the durable queue between accepting a submission and recording its scores.

    queued → running (a worker holds a lease until `lease_until`) → done; a failed attempt goes back to
    queued after a backoff (`not_before`), and after the last attempt to dead, with the reason. A lease
    that runs out (the worker died) makes the job claimable again; only the lease holder can finish it.
    """

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="score")
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued | running | done | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str] = mapped_column(String(80), default="")
    lease_until: Mapped[datetime | None] = mapped_column(UTC, nullable=True)
    not_before: Mapped[datetime] = mapped_column(UTC, default=utcnow)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTC, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTC, nullable=True)


class Token(Base):
    """An API token of the course server, stored as its sha256 only (the token itself is shown once)."""

    __tablename__ = "tokens"
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)  # a student id, or a TA's / instructor's name
    role: Mapped[str] = mapped_column(String(16))  # student | ta | instructor
    created_at: Mapped[datetime] = mapped_column(UTC, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTC, nullable=True)


class Final(Base):
    __tablename__ = "finals"
    hw: Mapped[str] = mapped_column(String(16), primary_key=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.id"), primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    selected_at: Mapped[datetime] = mapped_column(UTC, default=utcnow)


class Baseline(Base):
    __tablename__ = "baselines"
    hw: Mapped[str] = mapped_column(String(16), primary_key=True)
    level: Mapped[str] = mapped_column(String(16), primary_key=True)
    board: Mapped[str] = mapped_column(String(16), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True, default="")  # "": the main metric
    score: Mapped[float] = mapped_column(Float)  # what the reference solution reached
    threshold: Mapped[float] = mapped_column(Float)  # what a student must reach
    fingerprint: Mapped[str] = mapped_column(String(64))  # of the data it was calibrated on
    created_at: Mapped[datetime] = mapped_column(UTC, default=utcnow)


class BatchResult(Base):
    """One student's graded content in a TA batch; the sha256 makes a re-run skip unchanged work."""

    __tablename__ = "batch_results"
    hw: Mapped[str] = mapped_column(String(16), primary_key=True)
    student_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    submission_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    graded_at: Mapped[datetime] = mapped_column(UTC, default=utcnow)
    # Re-execution of the submitted notebook (`grade batch --rerun`): match | mismatch | missing | error
    rerun_status: Mapped[str] = mapped_column(String(16), default="")
    rerun_message: Mapped[str] = mapped_column(Text, default="")
    hidden_points: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(Text, default="")  # the entry it was graded from (for `grade regrade`)


class Adjustment(Base):
    """Points given by hand, kept across regrades: code and report points graded elsewhere, a bonus, or a
    penalty multiplier (the course's ×0.9 for a rule broken). hw "course" holds semester-level ones."""

    __tablename__ = "adjustments"
    hw: Mapped[str] = mapped_column(String(16), primary_key=True)
    student_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # code | report | bonus | penalty
    value: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")
    by: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(UTC, default=utcnow)


class CheckResult(Base):
    """One hidden check's outcome for one student's graded code."""

    __tablename__ = "check_results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hw: Mapped[str] = mapped_column(String(16), index=True)
    student_id: Mapped[str] = mapped_column(String(64), index=True)
    submission_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    test: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # passed | failed | error | skipped
    message: Mapped[str] = mapped_column(Text, default="")
    points: Mapped[float] = mapped_column(Float, default=0.0)
    max_points: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTC, default=utcnow)

    def __repr__(self) -> str:  # what a failed assertion or a log line shows: the verdict and why
        return f"<{self.test}: {self.status} {self.points:g}/{self.max_points:g} {self.message[:300]!r}>"


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTC, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(32), index=True)
    hw: Mapped[str] = mapped_column(String(16), default="")
    student_id: Mapped[str] = mapped_column(String(64), default="")
    submission_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class Store:
    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs = {"connect_args": {"timeout": 60}} if self.is_sqlite else {"pool_pre_ping": True}
        self.engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _sqlite_serialised_writes(self.engine)
        self._read_engine = self.engine.execution_options(grader_read=True)

    def create_all(self) -> None:
        Base.metadata.create_all(self.engine)

    def ensure_tables(self) -> None:
        """create_all, tolerating another process creating the same table at the same moment."""
        from sqlalchemy.exc import OperationalError, ProgrammingError

        for attempt in range(3):
            try:
                return self.create_all()
            except (OperationalError, ProgrammingError):
                if attempt == 2:
                    raise

    @contextmanager
    def session(self):
        """A write transaction (serialised on SQLite)."""
        with Session(self.engine, expire_on_commit=False) as s:
            with s.begin():
                yield s

    @contextmanager
    def reading(self):
        """A read-only transaction: on SQLite a deferred BEGIN, so readers never queue behind writers."""
        with Session(self._read_engine, expire_on_commit=False) as s:
            with s.begin():
                yield s

    # ---- students -------------------------------------------------------------------------------
    def ensure_student(self, s: Session, student_id: str, name: str = "", alias: str = "") -> Student:
        st = s.get(Student, student_id)
        if st is None and not self.is_sqlite and self.engine.dialect.name == "postgresql":
            # Two first submissions racing: both see no row; ON CONFLICT lets the second wait for and
            # reuse the first's instead of failing (SQLite's BEGIN IMMEDIATE already serialises them).
            from sqlalchemy.dialects.postgresql import insert

            s.execute(insert(Student).values(id=student_id, name=name or student_id, alias=alias or student_id,
                                             role="student", created_at=utcnow()).on_conflict_do_nothing())
            st = s.get(Student, student_id)
        elif st is None:
            st = Student(id=student_id, name=name or student_id, alias=alias or student_id)
            s.add(st)
            s.flush()
        return st

    def lock_student(self, s: Session, student_id: str) -> None:
        """Serialise a student's quota check. SQLite already holds the write lock (BEGIN IMMEDIATE)."""
        if not self.is_sqlite:
            s.execute(select(Student.id).where(Student.id == student_id).with_for_update())

    # ---- queries --------------------------------------------------------------------------------
    def count_counted(self, s: Session, hw: str, student_id: str, start: datetime, end: datetime) -> int:
        q = select(func.count()).select_from(Submission).where(
            Submission.hw == hw, Submission.student_id == student_id, Submission.counted.is_(True),
            Submission.created_at >= start, Submission.created_at < end)
        return s.scalar(q) or 0

    def log(self, s: Session, kind: str, *, actor: str = "", hw: str = "", student_id: str = "",
            submission_id: int | None = None, **detail) -> None:
        s.add(Event(kind=kind, actor=actor, hw=hw, student_id=student_id, submission_id=submission_id,
                    detail=json.loads(json.dumps(detail, default=str))))

    def submissions(self, hw: str | None = None, student_id: str | None = None) -> list[Submission]:
        with self.reading() as s:
            q = select(Submission).order_by(Submission.id)
            if hw:
                q = q.where(Submission.hw == hw)
            if student_id:
                q = q.where(Submission.student_id == student_id)
            return list(s.scalars(q))

    def students(self) -> dict[str, Student]:
        with self.reading() as s:
            return {st.id: st for st in s.scalars(select(Student))}

    def finals(self, hw: str) -> dict[str, list[int]]:
        with self.reading() as s:
            out: dict[str, list[int]] = {}
            for f in s.scalars(select(Final).where(Final.hw == hw)):
                out.setdefault(f.student_id, []).append(f.submission_id)
            return out

    def baselines(self, hw: str) -> list[Baseline]:
        with self.reading() as s:
            return list(s.scalars(select(Baseline).where(Baseline.hw == hw)))

    def checks(self, hw: str, student_id: str | None = None) -> list[CheckResult]:
        with self.reading() as s:
            q = select(CheckResult).where(CheckResult.hw == hw).order_by(CheckResult.id)
            if student_id:
                q = q.where(CheckResult.student_id == student_id)
            return list(s.scalars(q))

    def batch_results(self, hw: str) -> list[BatchResult]:
        with self.reading() as s:
            return list(s.scalars(select(BatchResult).where(BatchResult.hw == hw)))

    def adjustments(self, hw: str | None = None) -> list[Adjustment]:
        with self.reading() as s:
            q = select(Adjustment)
            if hw:
                q = q.where(Adjustment.hw == hw)
            return list(s.scalars(q))

    def events(self, kind: str | None = None) -> list[Event]:
        with self.reading() as s:
            q = select(Event).order_by(Event.id)
            if kind:
                q = q.where(Event.kind == kind)
            return list(s.scalars(q))


def _sqlite_serialised_writes(engine) -> None:
    """WAL for concurrent readers; every transaction starts with BEGIN IMMEDIATE (one writer at a time).

    pysqlite's own transaction handling would start with a deferred BEGIN, which lets two processes both
    read "4 used today" and both insert the fifth; IMMEDIATE takes the write lock before the read.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("grader_read") else "BEGIN IMMEDIATE")
