"""The course directory: `course.yaml`, the instructor secret, the store and the course's files.

    course/
      course.yaml         name, time zone, limits, per-homework deadlines and data sources
      secret.key          instructor secret (0600); seeds data and splits; never released
      store.sqlite        SQLAlchemy store (or any URL in course.yaml `store`)
      data/<hw>/          prepared data: release/ (student files) and hidden/ (answers, split)
      files/<ab>/<sha256> submitted files, content-addressed and immutable
      calibration/<hw>/   reference-solution outputs and thresholds from `grade calibrate`

A command finds its course through `--course`, then `GRADE_COURSE`, then the current directory.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from .config import Strict, dump_yaml, load_model
from .errors import ConfigError, GradeError, NotFound

COURSE_FILE = "course.yaml"
SECRET_FILE = "secret.key"


class HomeworkSettings(Strict):
    deadline: datetime | None = None  # naive = course time zone
    opens: datetime | None = None
    source: str | None = None  # data source override (e.g. "real")
    edition: str | None = None
    extensions: dict[str, datetime] = {}  # student id -> personal deadline


class PublicScores(Strict):
    """What students are shown of public scores; see grader/probing.py."""

    digits: int | None = Field(None, ge=0, le=12)  # round shown public scores (Kaggle shows 5)
    ladder_margin: float | None = Field(None, gt=0)  # show a new score only if it beats the best shown by this
    suspicious_gap: float = Field(3.0, gt=0)  # robust z-score that flags a public-vs-private gap


class SiteConfig(Strict):
    """The published leaderboard site (`grade publish`)."""

    language: Literal["en", "zh-TW"] = "en"  # headings and labels
    student_pages: bool = False  # a page per student, reachable only by its private link


class CourseConfig(Strict):
    name: str
    timezone: str = "Asia/Taipei"
    daily_limit: int = Field(5, ge=1)
    finals: int = Field(2, ge=1)
    # Kaggle resets the daily quota at 00:00 UTC, JudgeBoi at local midnight.
    day_boundary: Literal["course", "utc"] = "course"
    show: Literal["alias", "id", "name"] = "alias"
    store: str | None = None  # SQLAlchemy URL; default: sqlite file inside the course
    public_scores: PublicScores = PublicScores()
    site: SiteConfig = SiteConfig()
    homeworks: dict[str, HomeworkSettings] = {}

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v):
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v


class Course:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.config_path = self.root / COURSE_FILE
        self.config: CourseConfig = load_model(CourseConfig, self.config_path)
        self.tz = ZoneInfo(self.config.timezone)
        self._store = None

    # ---- locating -------------------------------------------------------------------------------
    @classmethod
    def find(cls, explicit: str | Path | None = None) -> "Course":
        cand = explicit or os.environ.get("GRADE_COURSE")
        if cand:
            p = Path(cand)
            if not (p / COURSE_FILE).is_file():
                raise NotFound(f"{p}: not a course directory (no {COURSE_FILE}); create one with `grade init {p}`")
            return cls(p)
        here = Path.cwd()
        for d in (here, *here.parents):
            if (d / COURSE_FILE).is_file():
                return cls(d)
        raise NotFound("no course found: pass --course DIR, set GRADE_COURSE, or run inside a course directory "
                       "(create one with `grade init DIR`)")

    @classmethod
    def init(cls, root: Path, name: str = "ML2022 Spring", timezone_name: str = "Asia/Taipei",
             homeworks: dict | None = None, store: str | None = None) -> "Course":
        root = Path(root)
        if (root / COURSE_FILE).exists():
            raise GradeError(f"{root / COURSE_FILE} already exists")
        root.mkdir(parents=True, exist_ok=True)
        cfg = {"name": name, "timezone": timezone_name, "daily_limit": 5, "finals": 2,
               "day_boundary": "course", "show": "alias", "store": store,
               "homeworks": homeworks if homeworks is not None else {"hw01": {"deadline": "2022-02-23T23:59:00"}}}
        dump_yaml(cfg, root / COURSE_FILE)
        secret_path = root / SECRET_FILE
        # The secret is created with 0600 from the start, never world-readable even for an instant.
        fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        for sub in ("data", "files", "calibration"):
            (root / sub).mkdir(exist_ok=True)
        (root / ".gitignore").write_text(f"{SECRET_FILE}\nstore.sqlite*\ndata/\nfiles/\n")
        course = cls(root)
        course.store.create_all()
        return course

    # ---- paths and secrets ----------------------------------------------------------------------
    @property
    def secret(self) -> str:
        try:
            return (self.root / SECRET_FILE).read_text().strip()
        except FileNotFoundError:
            raise ConfigError(self.root / SECRET_FILE, "", "the instructor secret is missing") from None

    def seed_for(self, *parts: str) -> int:
        """A 63-bit seed derived from the secret: data and splits differ per course but are reproducible."""
        h = hashlib.sha256("|".join((self.secret, *parts)).encode()).digest()
        return int.from_bytes(h[:8], "big") >> 1

    def data_dir(self, short: str) -> Path:
        return self.root / "data" / short

    def calibration_dir(self, short: str) -> Path:
        return self.root / "calibration" / short

    @property
    def files_dir(self) -> Path:
        return self.root / "files"

    @property
    def store_url(self) -> str:
        return self.config.store or f"sqlite:///{self.root / 'store.sqlite'}"

    @property
    def store(self):
        if self._store is None:
            from .store import Store

            self._store = Store(self.store_url)
            self._store.ensure_tables()  # a course made by an older version gains the newer tables
        return self._store

    # ---- per-homework settings and the clock ----------------------------------------------------
    def hw(self, short: str) -> HomeworkSettings:
        return self.config.homeworks.get(short, HomeworkSettings())

    def aware(self, dt: datetime) -> datetime:
        return dt.replace(tzinfo=self.tz) if dt.tzinfo is None else dt

    def now(self) -> datetime:
        """Now, timezone-aware. `GRADE_NOW` (ISO time) pins the clock for simulations and tests."""
        pinned = os.environ.get("GRADE_NOW")
        if pinned:
            return self.aware(datetime.fromisoformat(pinned))
        return datetime.now(timezone.utc)

    def deadline(self, short: str, student: str | None = None) -> datetime | None:
        s = self.hw(short)
        if student and student in s.extensions:
            return self.aware(s.extensions[student])
        return self.aware(s.deadline) if s.deadline else None

    def is_past_deadline(self, short: str, when: datetime | None = None) -> bool:
        d = self.deadline(short)
        return d is not None and (when or self.now()) > d

    def day_of(self, when: datetime) -> date:
        tz = timezone.utc if self.config.day_boundary == "utc" else self.tz
        return when.astimezone(tz).date()

    def day_bounds(self, when: datetime) -> tuple[datetime, datetime]:
        """The [start, end) of the quota day containing `when`, as UTC instants."""
        tz = timezone.utc if self.config.day_boundary == "utc" else self.tz
        d = self.day_of(when)
        start = datetime(d.year, d.month, d.day, tzinfo=tz)
        return start.astimezone(timezone.utc), (start + timedelta(days=1)).astimezone(timezone.utc)

    def limit_daily(self, spec) -> int:
        return spec.limits.daily or self.config.daily_limit

    def limit_finals(self, spec) -> int:
        return spec.limits.finals or self.config.finals
