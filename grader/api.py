"""One function per user-facing action. The CLI, the demo and the tests all come through here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from . import catalog, jobs, worker
from . import data as datamod
from .course import Course
from .errors import GradeError, NotFound, Refused
from .scoring import metrics
from .scoring.score import board_extra, check_submission, levels_passed
from .scoring.validate import Invalid
from .spec import AssignmentSpec
from .store import Final, Submission
from .submission import read_bounded, store_blob


# ---- course and assignments -------------------------------------------------------------------

def init_course(root: Path, name: str, timezone_name: str, store: str | None = None) -> Course:
    return Course.init(root, name=name, timezone_name=timezone_name, store=store)


def add_student(course: Course, student_id: str, name: str = "", alias: str = "") -> None:
    with course.store.session() as s:
        st = course.store.ensure_student(s, student_id, name, alias)
        st.name, st.alias = name or st.name, alias or st.alias
        course.store.log(s, "student", actor="instructor", student_id=student_id)


def open_course(path=None) -> Course:
    return Course.find(path)


def assignment(name: str) -> AssignmentSpec:
    return catalog.resolve(name)


def list_assignments() -> list[dict]:
    """Every assignment folder: the loaded ones, and those whose assignment.yaml is broken (with why)."""
    rows = [{"id": s.id, "names": " ".join(sorted(s.aliases - {s.id})), "title": s.title, "metric": s.metric.name,
             "problem": ""} for s in catalog.all_specs()]
    rows += [{"id": folder, "names": "", "title": "", "metric": "", "problem": str(e)}
             for folder, e in catalog.problems().items()]
    return sorted(rows, key=lambda r: r["id"])


def prepare(course: Course, hw: str, force: bool = False) -> dict:
    return datamod.prepare(course, assignment(hw), force=force)


def release(course: Course, hw: str, out: Path) -> Path:
    from . import release as rel

    return rel.release(course, assignment(hw), out)


def _laddered(hw: str) -> AssignmentSpec:
    spec = assignment(hw)
    if not spec.leaderboard:
        raise GradeError(f"{spec.short} has no leaderboard and no ladder: its answer keys come from its data.py "
                         "(`grade prepare`), and its points are the score of each student's latest submission")
    return spec


def calibrate(course: Course, hw: str, jobs: int = 2, progress=None, with_starter: bool = False):
    from . import calibrate as calib

    return calib.calibrate(course, _laddered(hw), jobs=jobs, progress=progress, with_starter=with_starter)


def verify(course: Course, hw: str, jobs: int = 2, progress=None):
    from . import calibrate as calib

    return calib.verify(course, _laddered(hw), jobs=jobs, progress=progress)


@dataclass
class LadderCheck:
    hw: str
    mode: str  # verified: against the recorded thresholds | calibrated: first pass, recorded now | failed
    seconds: float
    report: object | None = None  # the LadderReport
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.mode != "failed"


def verify_all(course: Course, jobs: int = 2, progress=None, on_done=None) -> list[LadderCheck]:
    """Every homework with a ladder, in one pass each: `verify` where thresholds are recorded for the
    current data, else `calibrate --with-starter` (references and starter in the same pass, recorded only
    when the whole ladder holds). One homework's failure is its own row; the others still run."""
    import time

    from . import calibrate as calib

    out = []
    for spec in catalog.all_specs():
        if not spec.leaderboard:
            continue
        t0 = time.perf_counter()
        try:
            recorded = course.store.baselines(spec.short)
            current = recorded and {b.fingerprint for b in recorded} == {datamod.prepare(course, spec)["fingerprint"]}
            if current:
                rep, mode = calib.verify(course, spec, jobs=jobs, progress=progress), "verified"
            else:
                rep, mode = calib.calibrate(course, spec, jobs=jobs, progress=progress, with_starter=True), "calibrated"
            row = LadderCheck(spec.short, mode if rep.ok else "failed", time.perf_counter() - t0, rep,
                              list(rep.problems))
        except Exception as e:  # noqa: BLE001 -- a broken homework is its row, not the end of the pass
            msg = str(e) if isinstance(e, GradeError) else f"{type(e).__name__}: {e}"
            row = LadderCheck(spec.short, "failed", time.perf_counter() - t0, None, msg.splitlines())
        out.append(row)
        if on_done:
            on_done(row)
    return out


def compat_board(hw: str, paths: list[Path]):
    """Files in another system's format (HW12: 2022 JudgeBoi action lists), ranked for comparison only."""
    from . import compat

    return compat.board(assignment(hw), paths)


def thresholds(course: Course, spec: AssignmentSpec) -> dict[tuple, float]:
    """(level, board) → the main metric's threshold; (level, board, metric) → an `also` metric's."""
    return {((b.level, b.board, b.metric) if b.metric else (b.level, b.board)): b.threshold
            for b in course.store.baselines(spec.short)}


# ---- the student flow -------------------------------------------------------------------------

@dataclass
class SubmitResult:
    id: int
    hw: str
    student: str
    status: str  # queued | scored | rejected | refused | error
    message: str
    public: float | None = None
    passed: list[str] = field(default_factory=list)  # public baselines reached
    used_today: int = 0
    daily_limit: int = 0
    calibrated: bool = True
    private: float | None = None  # for TAs and the store; never in public_view()
    queue_position: int | None = None  # while queued: 1 = next to be graded
    replayed: bool = False  # a retried upload (same idempotency key) answered with its first result
    public_extra: dict[str, float] = field(default_factory=dict)  # the `also` metrics on the public board

    def public_view(self) -> dict:
        """What a student may see before the deadline: never the private score."""
        return {"id": self.id, "hw": self.hw, "student": self.student, "status": self.status,
                "message": self.message, "public_score": self.public, "public_scores": self.public_extra,
                "public_baselines_passed": self.passed,
                "used_today": self.used_today, "daily_limit": self.daily_limit,
                "queue_position": self.queue_position, "replayed": self.replayed}


def submit(course: Course, hw: str, path: Path, student: str, now: datetime | None = None,
           origin: str = "submit", data: bytes | None = None, filename: str | None = None,
           idempotency_key: str | None = None, grade: bool = True) -> SubmitResult:
    """Validate, store, score and record one file. Rejections and refusals are recorded, never raised.

    The file is kept (content-addressed) before anything else. With `grade` (CSV and line files score
    in milliseconds) the scores are computed first and recorded in the same transaction that accepts
    the submission: one commit, and nothing is acknowledged before it. Without, the submission is
    committed as queued together with its grading job, and a worker (`grade worker`, the server's
    threads) records the scores. `idempotency_key`: a retried upload with the same key gets the first
    attempt's submission back instead of using another slot.
    """
    spec = assignment(hw)
    now = now or course.now()
    answers = datamod.load_answers(course, spec)
    if data is None:
        data = read_bounded(Path(path), spec.submission.max_bytes)
    filename = filename or Path(path).name
    digest = store_blob(course.files_dir, data)
    checked, problem = None, ""
    try:
        checked = check_submission(spec, answers, data, filename)  # the instant format check
    except Invalid as e:
        problem = str(e)

    limit = course.limit_daily(spec)
    th = thresholds(course, spec)  # read before the write transaction: one lock holder at a time
    start, end = course.day_bounds(now)
    deadline = course.deadline(spec.short, student)
    outcome = worker.score_outcome(course, spec, answers, checked) if grade and checked is not None else None
    with course.store.session() as s:
        course.store.ensure_student(s, student)
        course.store.lock_student(s, student)
        if idempotency_key:
            first = s.scalar(select(Submission).where(Submission.student_id == student,
                                                      Submission.idempotency_key == idempotency_key))
            if first is not None:
                course.store.log(s, "submit-replay", actor=student, hw=first.hw, student_id=student,
                                 submission_id=first.id)
                return _result(course, spec, first, th, course.store.count_counted(s, spec.short, student, start, end),
                               limit, replayed=True, now=now)
        used = course.store.count_counted(s, spec.short, student, start, end)
        sub = Submission(hw=spec.short, student_id=student, sha256=digest, filename=filename, size=len(data),
                         created_at=now, origin=origin, status="queued", counted=False,
                         idempotency_key=idempotency_key)
        dup = s.scalar(select(Submission).where(
            Submission.hw == spec.short, Submission.student_id == student, Submission.sha256 == digest,
            Submission.status.in_(("scored", "queued"))).order_by(Submission.id).limit(1))
        if origin == "batch" and dup is not None:
            # The TA's copy is a file the student already submitted: grade that submission, add no entry.
            course.store.log(s, "batch-match", actor="ta", hw=spec.short, student_id=student, submission_id=dup.id)
            return _result(course, spec, dup, th, used, limit, message=f"same file as submission #{dup.id}", now=now)
        if origin == "submit" and deadline is not None and now > deadline:
            sub.status, sub.message = "refused", f"the deadline passed at {deadline.isoformat()}; late work is not accepted"
        elif problem:
            sub.status, sub.message = "rejected", problem
        elif origin == "submit" and dup is not None:
            sub.status, sub.message = "refused", f"identical to your submission #{dup.id}; no slot used"
        elif origin == "submit" and used >= limit:
            sub.status, sub.message = "refused", (f"daily limit reached: {used} of {limit} submissions used today "
                                                  f"(the quota resets at {end.astimezone(course.tz):%Y-%m-%d %H:%M %Z})")
        else:
            sub.counted = origin == "submit"
            sub.message = "accepted; waiting to be graded"
        s.add(sub)
        s.flush()
        course.store.log(s, "submit", actor=student, hw=spec.short, student_id=student, submission_id=sub.id,
                         status=sub.status, sha256=digest, origin=origin, message=sub.message[:500])
        if sub.status == "queued" and outcome is not None:  # graded inline: recorded in this commit
            for key, value in outcome.items():
                setattr(sub, key, value)
            course.store.log(s, "graded", actor="inline", hw=spec.short, student_id=student, submission_id=sub.id,
                             status=sub.status)
        elif sub.status == "queued":
            jobs.enqueue(course.store, s, sub.id, "score")
        used += int(sub.counted)
    return _result(course, spec, sub, th, used, limit, now=now)


def scores_hidden(course: Course, spec: AssignmentSpec, now: datetime | None = None) -> bool:
    """True while this homework's scores wait for the deadline (`show_scores: after_deadline`)."""
    return spec.show_scores == "after_deadline" and not course.is_past_deadline(spec.short, now or course.now())


def _result(course: Course, spec: AssignmentSpec, sub: Submission, th: dict, used: int, limit: int,
            message: str | None = None, replayed: bool = False, now: datetime | None = None) -> SubmitResult:
    scored = sub.status == "scored"
    if scored and scores_hidden(course, spec, now):
        return SubmitResult(sub.id, spec.short, sub.student_id, sub.status,
                            "recorded; scores are shown after the deadline", None, [], used, limit,
                            calibrated=bool(th), private=sub.private_score, replayed=replayed)
    public, note = (shown_public(course, spec, sub) if scored else (None, ""))
    extra = board_extra(sub.extra_scores, "public") if scored else {}
    return SubmitResult(sub.id, spec.short, sub.student_id, sub.status, note or message or sub.message, public,
                        levels_passed(spec, th, "public", public, extra) if public is not None else [],
                        used, limit, calibrated=bool(th), private=sub.private_score if scored else None,
                        queue_position=jobs.position(course.store, sub.id) if sub.status == "queued" else None,
                        replayed=replayed, public_extra=board_extra(sub.extra_scores, "public") if scored else {})


def _shown_scores(course: Course, spec: AssignmentSpec, subs: list[Submission]) -> dict[int, float | None]:
    """Submission id → the public score its student is shown (rounded, and held back by the Ladder when
    it does not beat their best shown score by the course's margin); see grader/probing.py."""
    from .probing import ladder

    ps = course.config.public_scores
    if ps.digits is None and ps.ladder_margin is None:
        return {s.id: s.public_score for s in subs if s.status == "scored"}
    higher = spec.higher_is_better
    by_student: dict[str, list[Submission]] = {}
    for s in subs:
        if s.status == "scored":
            by_student.setdefault(s.student_id, []).append(s)
    out: dict[int, float | None] = {}
    for mine in by_student.values():
        mine.sort(key=lambda s: (s.created_at, s.id))
        out.update(zip((s.id for s in mine), ladder([s.public_score for s in mine], higher, ps.ladder_margin, ps.digits)))
    return out


def shown_public(course: Course, spec: AssignmentSpec, sub: Submission) -> tuple[float | None, str]:
    """The public score this submission shows its student, and why it shows none."""
    ps = course.config.public_scores
    if ps.digits is None and ps.ladder_margin is None:
        return sub.public_score, ""
    shown = _shown_scores(course, spec, course.store.submissions(spec.short, sub.student_id))
    value = shown.get(sub.id)
    if value is None:
        best = [v for v in shown.values() if v is not None]
        top = (max(best) if spec.higher_is_better else min(best)) if best else None
        return None, (f"scored; the public score is held back: it does not beat your best shown public score "
                      f"({top:g}) by more than {ps.ladder_margin:g} (the course's Ladder rule)")
    return value, ""


def submission_result(course: Course, submission_id: int) -> SubmitResult:
    """A recorded submission as its submitter sees it now (e.g. polled while it is queued)."""
    with course.store.reading() as s:
        sub = s.get(Submission, submission_id)
    if sub is None:
        raise NotFound(f"no submission #{submission_id}")
    spec = assignment(sub.hw)
    start, end = course.day_bounds(sub.created_at)
    with course.store.reading() as s:
        used = course.store.count_counted(s, spec.short, sub.student_id, start, end)
    return _result(course, spec, sub, thresholds(course, spec), used, course.limit_daily(spec))


def class_submissions(course: Course, hw: str) -> list[dict]:
    """Every submission of a homework with both scores and its queue state: the TA's view."""
    spec = assignment(hw)
    finals = course.store.finals(spec.short)
    out = []
    for sub in course.store.submissions(hw=spec.short):
        out.append({"id": sub.id, "student": sub.student_id, "at": sub.created_at.astimezone(course.tz).isoformat(
            timespec="seconds"), "origin": sub.origin, "status": sub.status, "public": sub.public_score,
            "private": sub.private_score, "final": sub.id in finals.get(sub.student_id, []),
            "message": sub.message if sub.status != "scored" else ""})
    return out


def select_finals(course: Course, hw: str, student: str, ids: list[int], now: datetime | None = None) -> list[int]:
    spec = assignment(hw)
    now = now or course.now()
    n = course.limit_finals(spec)
    if len(ids) > n:
        raise Refused(f"at most {n} final submissions may be selected, got {len(ids)}")
    deadline = course.deadline(spec.short, student)
    if deadline is not None and now > deadline:
        raise Refused(f"finals cannot change after the deadline ({deadline.isoformat()})")
    with course.store.session() as s:
        for i in ids:
            sub = s.get(Submission, i)
            if sub is None or sub.student_id != student or sub.hw != spec.short:
                raise NotFound(f"submission #{i} is not one of {student}'s {spec.short} submissions")
            if sub.status != "scored":
                raise Refused(f"submission #{i} was {sub.status}, only scored submissions can be finals")
        for f in s.scalars(select(Final).where(Final.hw == spec.short, Final.student_id == student)):
            s.delete(f)
        s.flush()
        for i in ids:
            s.add(Final(hw=spec.short, student_id=student, submission_id=i, selected_at=now))
        course.store.log(s, "select", actor=student, hw=spec.short, student_id=student, finals=ids)
    return ids


def status(course: Course, student: str, hw: str | None = None, now: datetime | None = None) -> list[dict]:
    """A student's submissions; private scores only once that homework's deadline has passed."""
    now = now or course.now()
    spec_by_short = {s.short: s for s in catalog.all_specs()}
    finals, ths, public_of = {}, {}, {}
    out = []
    for sub in course.store.submissions(hw=assignment(hw).short if hw else None, student_id=student):
        if sub.hw not in finals:
            finals[sub.hw] = set(course.store.finals(sub.hw).get(student, []))
            ths[sub.hw] = thresholds(course, spec_by_short[sub.hw]) if sub.hw in spec_by_short else {}
        past = course.is_past_deadline(sub.hw, now)
        spec = spec_by_short.get(sub.hw)
        shown = past or spec is None or spec.show_scores == "immediate"
        if sub.hw not in public_of and spec is not None:
            public_of[sub.hw] = _shown_scores(course, spec, course.store.submissions(sub.hw, student))
        public = public_of.get(sub.hw, {}).get(sub.id, sub.public_score) if shown else None
        row = {"id": sub.id, "hw": sub.hw, "at": sub.created_at.astimezone(course.tz).isoformat(timespec="seconds"),
               "status": sub.status, "public": public,
               "private": sub.private_score if past else None,
               "final": sub.id in finals[sub.hw], "message": sub.message if sub.status != "scored" else "",
               "passed": levels_passed(spec, ths[sub.hw], "public", public,
                                       board_extra(sub.extra_scores, "public")) if spec and public is not None else []}
        out.append(row)
    for h in sorted({r["hw"] for r in out}):
        spec = spec_by_short.get(h)
        if spec and spec.execution.show_after_deadline and course.is_past_deadline(h, now):
            for c in course.store.checks(h, student):
                out.append({"id": "", "hw": h, "at": "", "status": f"check {c.status}", "public": None,
                            "private": None, "final": False, "passed": [],
                            "message": f"{c.test}: {c.points:g}/{c.max_points:g} {c.message[:200]}".strip()})
    return out


def check(hw: str, path: Path, bundle: Path | None = None) -> list[str]:
    """A student's own check, no hidden data: the format against the released sample submission, then
    the bundle's public tests, run on their own file with the local (no-isolation) sandbox backend."""
    import sys
    import tempfile

    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from .sandbox.base import Job, Limits
    from .sandbox.local import LocalSandbox
    from .scoring.validate import validate

    spec = assignment(hw)
    sample = (Path(bundle) / spec.submission.sample_name) if bundle else None
    if sample is None or not sample.is_file():
        raise GradeError(f"need the released bundle (its {spec.submission.sample_name}): pass --bundle DIR")
    if spec.submission.kind == "lines":
        ids = np.arange(len(sample.read_text(encoding="utf-8").splitlines()))
    elif spec.submission.kind == "archive":
        from .scoring.archive import read_members

        ids = np.array(sorted(read_members(sample.read_bytes(), sample.name, spec.submission)), dtype=object)
    elif spec.submission.kind == "weights":  # the rows (episodes) are the course's: nothing to match here
        ids = np.arange(0)
    elif spec.submission.kind == "choices":
        import json

        ids = np.array(list(json.loads(sample.read_text(encoding="utf-8"))), dtype=object)
    else:
        ids = pacsv.read_csv(sample, convert_options=pacsv.ConvertOptions(
            column_types={spec.submission.id_column: pa.string() if spec.submission.columns[spec.submission.id_column] == "str"
                          else pa.int64()})).column(spec.submission.id_column).to_numpy(zero_copy_only=False)
    data = read_bounded(Path(path), spec.submission.max_bytes)
    try:
        validate(data, Path(path).name, spec.submission, np.asarray(ids))
    except Invalid as e:
        return e.problems
    public = Path(bundle) / "tests" / "public"
    if not public.is_dir():
        return []
    with tempfile.TemporaryDirectory(prefix="grade-check-") as out:
        r = LocalSandbox().run(Job(
            command=[sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(public.resolve())],
            output_dir=Path(out), workdir="/out", limits=Limits(wall_s=120, memory_mb=4096),
            env={"GRADE_PRED": str(Path(path).resolve())}))
    if r.ok:
        return []
    lines = [ln for ln in (r.stdout_tail + r.stderr_tail).splitlines() if ln.strip()]
    return [f"public tests: {r.status} ({r.message})", *lines[-15:]]


# ---- boards and exports -----------------------------------------------------------------------

def names(course: Course) -> dict[str, str]:
    show = course.config.show
    return {sid: (st.alias if show == "alias" else st.name if show == "name" else sid)
            for sid, st in course.store.students().items()}


def leaderboard(course: Course, hw: str, board: str = "public", force: bool = False,
                now: datetime | None = None, shown: bool = True):
    """A board as the class sees it. The public board ranks the scores students are shown (rounded, the
    Ladder's releases) unless `shown=False`: the true scores, which points and the gradebook use."""
    from . import leaderboard as lb

    spec = assignment(hw)
    if not spec.leaderboard:
        raise Refused(f"{spec.short} is graded without a leaderboard; see `grade gradebook` after the deadline")
    if board == "private" and not force and not course.is_past_deadline(spec.short, now or course.now()):
        raise Refused(f"the private board of {spec.short} stays hidden until the deadline "
                      f"({course.deadline(spec.short)}); instructors may pass --force")
    subs = course.store.submissions(hw=spec.short)
    finals, limits, who = course.store.finals(spec.short), thresholds(course, spec), names(course)

    def build(rows):
        return lb.build(spec, rows, finals, limits, who, board=board, n_fallback=course.limit_finals(spec))

    b = build(subs)
    if board == "public" and shown:
        # Ranked by what students are shown; the levels and points stay those of the true scores
        # (a boss score rounded up past the threshold still earns boss).
        values = _shown_scores(course, spec, subs)
        true = {r.student_id: r for r in b.rows}
        b = build([_with_public(s, values.get(s.id)) if s.status == "scored" else s for s in subs])
        for r in b.rows:
            if r.student_id in true:
                r.levels, r.points = true[r.student_id].levels, true[r.student_id].points
    for r in b.rows:  # boards speak the course's local time
        r.last = r.last.astimezone(course.tz) if r.last else None
    return b


def _with_public(sub: Submission, value: float | None) -> Submission:
    """A detached copy of a submission row carrying the public score its student is shown."""
    if value == sub.public_score:
        return sub
    copy = Submission(**{c: getattr(sub, c) for c in Submission.__table__.columns.keys()})
    copy.public_score = value
    return copy


def publish(course: Course, out: Path, force: bool = False, now: datetime | None = None) -> list[Path]:
    """The leaderboard site (grader/publish/site.py) and each board's csv/json/md. Private boards only
    after the deadline unless `force`; with `site.student_pages`, a page per student behind a private link,
    the links listed in the course's `site-links.csv` (never in the site)."""
    from .publish import site, writers

    now = now or course.now()
    out = Path(out)
    lang = course.config.site.language
    written, entries = site.copy_assets(out), []
    shown_names = names(course)
    for spec in catalog.all_specs():
        if not spec.leaderboard or not course.store.submissions(hw=spec.short):
            continue
        boards = {"public": leaderboard(course, spec.short, "public", now=now)}
        if force or course.is_past_deadline(spec.short, now):
            boards["private"] = leaderboard(course, spec.short, "private", force=True, now=now)
        for b in boards.values():
            written += writers.write_board(b, spec, out / spec.short)
        subs = course.store.submissions(hw=spec.short)
        times = [s.created_at for s in subs if s.counted]
        deadline = course.deadline(spec.short)
        written += site.write_homework(spec, boards, times, deadline, course.config.name, lang, shown_names,
                                       out / spec.short)
        entries.append((spec, boards, deadline))
    written += [writers.write_index_md(entries, out, course.config.name, now),
                site.write_index(entries, out, course.config.name, lang, now)]
    if course.config.site.student_pages:
        written += _student_pages(course, entries, out, lang, now)
    with course.store.session() as s:
        course.store.log(s, "publish", actor="instructor", out=str(out), files=len(written))
    return written


def _student_pages(course: Course, entries, out: Path, lang: str, now: datetime) -> list[Path]:
    import csv

    from .publish import site

    links, written = [], []
    for sid, st in course.store.students().items():
        sections = []
        for spec, boards, _ in entries:
            mine = {b: next((r for r in board.students if r.student_id == sid), None) for b, board in boards.items()}
            sections.append((spec, mine, status(course, sid, spec.short, now=now)))
        key = site.student_key(course.secret, sid)
        written.append(site.write_student(sid, st.name, sections, key, course.config.name, lang, out / "students"))
        links.append((sid, st.name, f"students/{key}.html"))
    with open(course.root / "site-links.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student_id", "name", "link"])
        w.writerows(links)
    return written


def gradebook(course: Course, out: Path | None = None, now: datetime | None = None, fmt: str = "csv") -> list[dict]:
    """Points per student per homework (grader/gradebook.py): leaderboard points on boards that are final
    (deadline passed), hidden-check and hand-given code, report, bonus and penalty columns, totals; for a
    homework without a leaderboard, the score of the student's latest submission over all items.
    `fmt`: csv, canvas or cool (NTU COOL's Canvas import)."""
    from . import gradebook as gb

    now = now or course.now()
    rows: dict[str, dict] = {sid: {"student_id": sid, "name": st.name} for sid, st in course.store.students().items()}
    specs = []
    for spec in catalog.all_specs():
        if not course.store.submissions(hw=spec.short) and not course.store.adjustments(spec.short):
            continue
        specs.append(spec)
        final = course.is_past_deadline(spec.short, now)
        if not spec.leaderboard:
            if final:  # Gradescope's rule: the latest answer counts
                latest: dict[str, Submission] = {}
                for sub in course.store.submissions(hw=spec.short):
                    if sub.status == "scored":
                        latest[sub.student_id] = sub
                for sid, sub in latest.items():
                    rows[sid][f"{spec.short}_points"] = round(sub.public_score + sub.private_score, 3)
        else:
            for board_name in ("public", "private"):
                if board_name == "private" and not final:
                    continue
                for r in leaderboard(course, spec.short, board_name, force=True, now=now, shown=False).students:
                    rows[r.student_id][f"{spec.short}_{board_name}"] = r.points
            for r in rows.values():
                r[f"{spec.short}_leaderboard"] = round(r.get(f"{spec.short}_public", 0) + r.get(f"{spec.short}_private", 0), 3)
        for b in course.store.batch_results(spec.short):  # hidden checks count with or without a leaderboard
            if b.rerun_status and b.student_id in rows:
                # A mismatch is flagged with its evidence; what it costs is the course's decision.
                rows[b.student_id][f"{spec.short}_rerun"] = b.rerun_status
                rows[b.student_id][f"{spec.short}_rerun_evidence"] = b.rerun_message if b.rerun_status != "match" else ""
                rows[b.student_id][f"{spec.short}_hidden"] = b.hidden_points
        for sid, why in gb.gate_failures(spec, course.store.batch_results(spec.short),
                                         course.store.checks(spec.short)).items():
            if sid in rows:  # the course's rule: this check failed, the homework earns nothing
                rows[sid][f"{spec.short}_gate"] = why
    gb.add_totals(rows, specs, course.store.adjustments())
    table = sorted(rows.values(), key=lambda r: r["student_id"])
    if out:
        gb.write(table, specs, Path(out), fmt)
    return table


def adjust(course: Course, hw: str, student: str, values: dict[str, float], reason: str = "",
           by: str = "instructor") -> dict[str, float]:
    """Set hand-given points (code, report, bonus) or a penalty multiplier for one student on one homework
    (`hw` "course" for a semester-level penalty). They are kept across regrades."""
    from .gradebook import KINDS
    from .store import Adjustment, utcnow

    short = "course" if hw == "course" else assignment(hw).short
    if student not in course.store.students():
        raise NotFound(f"{student} is not a student of this course")
    for kind, value in values.items():
        if kind not in KINDS:
            raise GradeError(f"unknown adjustment {kind!r}: {', '.join(KINDS)}")
        if kind == "penalty" and not 0 <= value <= 1:
            raise GradeError(f"a penalty is a multiplier between 0 and 1 (the course's rule: 0.9), not {value}")
    with course.store.session() as s:
        for kind, value in values.items():
            s.merge(Adjustment(hw=short, student_id=student, kind=kind, value=float(value), reason=reason, by=by,
                               at=utcnow()))
        course.store.log(s, "adjust", actor=by, hw=short, student_id=student, values=values, reason=reason)
    return values


def import_scores(course: Course, hw: str, path: Path, kind: str = "report") -> int:
    """Points graded elsewhere (Gradescope's report grades): a CSV with student_id and points (or score)
    columns; each row becomes an adjustment of `kind`."""
    import csv

    rows = list(csv.DictReader(Path(path).read_text(encoding="utf-8-sig").splitlines()))
    if not rows:
        return 0
    cols = {c.lower().strip(): c for c in rows[0]}
    sid_col = next((cols[c] for c in ("student_id", "sid", "id", "student id") if c in cols), None)
    pts_col = next((cols[c] for c in ("points", "score", "total score") if c in cols), None)
    if sid_col is None or pts_col is None:
        raise GradeError(f"{path}: needs a student_id and a points (or score) column; got {', '.join(rows[0])}")
    for n, r in enumerate(rows, start=2):
        try:
            value = float(r[pts_col])
        except ValueError:
            raise GradeError(f"{path}: line {n}: {r[pts_col]!r} is not a number") from None
        adjust(course, hw, r[sid_col].strip(), {kind: value}, reason=f"imported from {Path(path).name}", by="import")
    return len(rows)


def gradescope_export(course: Course, hw: str, out: Path, now: datetime | None = None) -> list[Path]:
    """Gradescope `results.json` per student (their final submission) for courses that upload there."""
    from . import gradebook as gb

    spec = assignment(hw)
    private = {r.student_id: r for r in leaderboard(course, spec.short, "private", force=True, now=now).students}
    public = {r.student_id: r for r in leaderboard(course, spec.short, "public", force=True, now=now, shown=False).students}
    by_id = {s.id: s for s in course.store.submissions(spec.short)}
    results = {}
    for sid in sorted(set(public) | set(private)):
        row = private.get(sid) or public[sid]
        sub = by_id[row.submission_id]
        passed = {"public": public[sid].levels if sid in public else [], "private": private[sid].levels if sid in private else []}
        results[sid] = gb.gradescope_results(spec, sub, course.store.checks(spec.short, sid), passed)
    return gb.write_gradescope(results, Path(out))


def regrade(course: Course, hw: str, student: str | None = None, jobs: int = 2, backend: str | None = None,
            executor: str = "local", address: str | None = None) -> list[dict]:
    """Grade a homework again (one student, or everyone) after a fix: every stored file rescored, every
    re-executed batch entry re-executed; hand-given points kept (grader/regrade.py)."""
    from . import regrade as rg

    spec = assignment(hw)
    if student is not None and student not in course.store.students():
        raise NotFound(f"{student} is not a student of this course")
    changes = rg.rescore(course, spec, student)
    changes += rg.rerun(course, spec, student, jobs, backend, executor, address)
    return [vars(c) for c in changes]


def similarity(course: Course, hw: str, folder: Path, report: Path, threshold: float = 0.5) -> list[dict]:
    """Pairs of students whose submitted code shares more than `threshold` (beyond the starter), most
    similar first; `report` gets copydetect's HTML with the shared regions highlighted."""
    from . import similarity as sim

    spec = assignment(hw)
    pairs = sim.compare(course, spec, Path(folder), Path(report), threshold)
    with course.store.session() as s:
        course.store.log(s, "similarity", actor="ta", hw=spec.short, pairs=len(pairs), report=str(report))
    return [{**vars(p), "score": p.score} for p in pairs]


def probing_report(course: Course, hw: str, force: bool = False, now: datetime | None = None) -> list[dict]:
    """Students whose best public score beats their private one by far more than the class's usual gap:
    the trace a leaderboard-probing attack leaves (grader/probing.py). After the deadline, for staff."""
    from .probing import suspicious

    spec = assignment(hw)
    if not force and not course.is_past_deadline(spec.short, now or course.now()):
        raise Refused(f"the probing report of {spec.short} compares with private scores: after the deadline")
    public = {r.student_id: r for r in leaderboard(course, spec.short, "public", force=True, now=now, shown=False).students}
    private = {r.student_id: r for r in leaderboard(course, spec.short, "private", force=True, now=now).students}
    rows = [(sid, public[sid].score, private[sid].score, public[sid].entries) for sid in public if sid in private]
    gaps = suspicious(rows, spec.higher_is_better, course.config.public_scores.suspicious_gap)
    return [vars(g) for g in gaps]


def metric_of(hw: str):
    return metrics.get(assignment(hw).metric.name)


# ---- sandbox --------------------------------------------------------------------------------------

def sandbox_doctor() -> list[dict]:
    from .sandbox.doctor import doctor

    return [c._asdict() for c in doctor()]


def sandbox_build(force: bool = False) -> tuple[str, bool]:
    from .sandbox.image import build_image

    return build_image(force=force)


def batch(course: Course, hw: str, folder: Path, jobs: int = 2, progress=None, rerun: bool = False,
          backend: str | None = None, executor: str = "local", address: str | None = None):
    from . import batch as batchmod

    return batchmod.batch(course, hw, folder, jobs, progress=progress, rerun=rerun, backend=backend,
                          executor=executor, address=address)


# ---- the course server ----------------------------------------------------------------------------

def import_roster(course: Course, path: Path, tokens_out: Path | None = None) -> list[tuple[str, str, str]]:
    """Create (or update) the roster's students and issue each a token; the tokens go to `tokens_out`
    (owner-only), since they are never shown again."""
    from . import auth

    rows = auth.read_roster(Path(path))
    issued = []
    for r in rows:
        add_student(course, r["id"], r["name"], r["alias"])
        issued.append((r["id"], "student", auth.issue(course.store, r["id"], "student")))
    if tokens_out:
        auth.write_tokens(issued, Path(tokens_out))
    return issued


def issue_token(course: Course, subject: str, role: str = "student") -> str:
    from . import auth

    if role == "student" and subject not in course.store.students():
        raise NotFound(f"{subject} is not on the roster (import it with `grade roster import`)")
    return auth.issue(course.store, subject, role)


def revoke_tokens(course: Course, subject: str) -> int:
    from . import auth

    return auth.revoke(course.store, subject)


def serve(course_dir, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, lease_s: float = 30.0,
          grading: str = "inline") -> None:
    import uvicorn

    from .server.app import Settings, create_app

    app = create_app(Course.find(course_dir).root, Settings(workers=workers, lease_s=lease_s, grading=grading))
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=10)


def work(course: Course, once: bool = False, poll_s: float = 0.5, lease_s: float = jobs.LEASE_S) -> int:
    """`grade worker`: grade queued jobs until interrupted (or, with `once`, until the queue is empty)."""
    import signal
    import threading

    if once:
        n = 0
        while worker.run_once(course, lease_s=lease_s) is not None:
            n += 1
        return n
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return worker.run(course, stop, poll_s=poll_s, lease_s=lease_s)
