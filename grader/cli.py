"""`grade`: click commands only — parse options, call one function in `grader.api`, print."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from . import api
from .errors import GradeError
from .ui import board_table, console, dict_table, err, fmt, print_json, progress_bar

course_opt = click.option("--course", "course_dir", type=click.Path(file_okay=False), default=None,
                          help="Course directory (default: $GRADE_COURSE, else the current directory or a parent).")
json_opt = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
jobs_opt = click.option("--jobs", "-j", default=2, show_default=True, help="Runs in parallel.")


class Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GradeError as e:
            err.print(f"[red]error:[/red] {e}", markup=True, soft_wrap=True)
            sys.exit(2)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="grader")
def main():
    """Homework autograder and Kaggle-style leaderboards for ML2022 (NTU, Hung-yi Lee)."""


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--name", default="ML2022 Spring", show_default=True)
@click.option("--timezone", "tz", default="Asia/Taipei", show_default=True)
@click.option("--store", default=None, help="SQLAlchemy URL of the store (default: SQLite inside the course), "
              "e.g. postgresql+psycopg://user:pw@host/db")
def init(directory, name, tz, store):
    """Create a course directory (course.yaml, instructor secret, store)."""
    c = api.init_course(Path(directory), name, tz, store)
    console.print(f"created course [bold]{c.config.name}[/bold] in {c.root}\n"
                  f"  instructor secret: {c.root / 'secret.key'} (never released; keep it private)")


@main.command("assignments")
@json_opt
def list_assignments(as_json):
    """List the assignments this installation knows."""
    rows = api.list_assignments()
    print_json(rows) if as_json else console.print(dict_table(rows, columns=["id", "names", "title", "metric", "problem"]))


@main.command()
@click.argument("hw")
@click.option("--force", is_flag=True, help="Rebuild even if the cached data is current.")
@course_opt
@json_opt
def prepare(hw, force, course_dir, as_json):
    """Build the homework's released files and hidden answers from the course secret."""
    m = api.prepare(api.open_course(course_dir), hw, force)
    print_json(m) if as_json else console.print(f"{hw}: {m['rows']} test rows ({m['public_rows']} public), "
                                                f"source {m['source']} {m['edition']}, fingerprint {m['fingerprint'][:16]}…")


@main.command()
@click.argument("hw")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder to write the bundle into.")
@course_opt
def release(hw, out, course_dir):
    """Write the student bundle (starter notebook, data, tests, handout) after a leak scan."""
    dest = api.release(api.open_course(course_dir), hw, Path(out))
    console.print(f"released {hw} to {dest} (scan: no hidden material)")


def _remote(course_dir):
    """The course server, when this command goes there: logged in (`grade login`) and no local course
    named by --course or GRADE_COURSE."""
    from . import client

    if course_dir or os.environ.get("GRADE_COURSE") or not client.saved_login():
        return None
    return client.Client.from_login()


@main.command()
@click.argument("hw")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--student", default=None, help="Your student id (on a local course; the server knows you by your token).")
@course_opt
@json_opt
def submit(hw, file, student, course_dir, as_json):
    """Submit a prediction file: validated, scored on the public board, recorded."""
    remote = _remote(course_dir)
    if remote is not None:
        path = Path(file) if file else None
        if path is None:
            raise GradeError("name the file to submit: grade submit HW FILE")
        view = remote.submit(hw, path)
    else:
        if not student:
            raise GradeError("--student is needed on a local course (or `grade login URL` to submit to the server)")
        spec = api.assignment(hw)
        r = api.submit(api.open_course(course_dir), hw, Path(file or spec.submission.filename), student)
        view = {**r.public_view(), "calibrated": r.calibrated}
    if as_json:
        print_json(view)
    elif view["status"] == "scored" and view["public_score"] is None:
        console.print(f"#{view['id']} {view['hw']}: {view['message']} ({view['used_today']}/{view['daily_limit']} today)")
    elif view["status"] == "scored":
        console.print(f"#{view['id']} {view['hw']}: public score [bold]{fmt(view['public_score'])}[/bold]  "
                      f"({view['used_today']}/{view['daily_limit']} today)")
        if view.get("calibrated") is False:
            console.print("  baselines are not calibrated yet (the instructor runs `grade calibrate`)")
        else:
            console.print("  public baselines passed: " + (", ".join(view["public_baselines_passed"]) or "none yet"))
        console.print("  the private score stays hidden until the deadline")
    elif view["status"] == "queued":
        console.print(f"#{view['id']} {view['hw']}: accepted and queued for grading"
                      + (f" (position {view['queue_position']})" if view.get("queue_position") else "")
                      + "; see `grade status`")
    else:
        err.print(f"#{view['id']} {view['hw']}: [red]{view['status']}[/red]\n{view['message']}", markup=True, soft_wrap=True)
    sys.exit(0 if view["status"] in ("scored", "queued") else 1)


@main.command()
@click.option("--student", default=None, help="Whose submissions (on a local course).")
@click.option("--hw", default=None)
@course_opt
@json_opt
def status(student, hw, course_dir, as_json):
    """Your submissions, scores and finals (private scores after the deadline)."""
    remote = _remote(course_dir)
    if remote is not None:
        rows, student = remote.status(hw), "you"
    elif not student:
        raise GradeError("--student is needed on a local course")
    else:
        rows = api.status(api.open_course(course_dir), student, hw)
    print_json(rows) if as_json else console.print(dict_table(rows, f"submissions of {student}",
                                                              ["id", "hw", "at", "status", "public", "private", "final", "passed", "message"]))


@main.command("select")
@click.argument("hw")
@click.argument("ids", nargs=-1, type=int, required=True)
@click.option("--student", default=None, help="Whose finals (on a local course).")
@course_opt
def select_cmd(hw, ids, student, course_dir):
    """Select your final submissions for the private board (at most 2)."""
    remote = _remote(course_dir)
    if remote is not None:
        chosen, student = remote.select(hw, list(ids))["finals"], "you"
    elif not student:
        raise GradeError("--student is needed on a local course")
    else:
        chosen = api.select_finals(api.open_course(course_dir), hw, student, list(ids))
    console.print(f"{hw}: finals of {student} are " + ", ".join(f"#{i}" for i in chosen))


@main.command()
@click.argument("hw")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--bundle", type=click.Path(file_okay=False), default=".", show_default=True,
              help="The released bundle (holds the sample submission).")
@json_opt
def check(hw, file, bundle, as_json):
    """Check a prediction file's format locally, with no hidden data."""
    spec = api.assignment(hw)
    problems = api.check(hw, Path(file or spec.submission.filename), Path(bundle))
    if as_json:
        print_json({"ok": not problems, "problems": problems})
    elif problems:
        err.print("\n".join(problems), soft_wrap=True)
    else:
        console.print(f"{file or spec.submission.filename}: format OK", soft_wrap=True)
    sys.exit(1 if problems else 0)


@main.command()
@click.argument("hw")
@click.option("--private", is_flag=True, help="The private board (after the deadline).")
@click.option("--force", is_flag=True, help="Instructors: show the private board before the deadline.")
@course_opt
@json_opt
def leaderboard(hw, private, force, course_dir, as_json):
    """Print a leaderboard."""
    remote = _remote(course_dir)
    if remote is not None:
        rows = remote.leaderboard(hw, "private" if private else "public")
        print_json(rows) if as_json else console.print(dict_table(rows, f"{hw} {'private' if private else 'public'} leaderboard"))
        return
    b = api.leaderboard(api.open_course(course_dir), hw, "private" if private else "public", force)
    if as_json:
        print_json([r.as_dict() for r in b.rows])
    else:
        console.print(board_table(b, f"{b.hw} {b.board} leaderboard · {b.metric}"))


@main.command()
@click.option("--site", "--out", "out", type=click.Path(file_okay=False), default="leaderboards", show_default=True)
@click.option("--force", is_flag=True, help="Publish private boards before the deadline.")
@course_opt
def publish(out, force, course_dir):
    """Write leaderboards/<hw>/{public,private}.{csv,json,md,html} and an index."""
    files = api.publish(api.open_course(course_dir), Path(out), force)
    console.print(f"wrote {len(files)} files to {out}")


@main.command()
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="CSV file to write.")
@course_opt
@json_opt
@click.option("--format", "fmt", type=click.Choice(["csv", "canvas", "cool"]), default="csv", show_default=True,
              help="csv: every column; canvas / cool: the Canvas (NTU COOL) gradebook import.")
def gradebook(out, course_dir, as_json, fmt):
    """Points per student per homework: leaderboard, code, report, bonus, penalty, totals."""
    table = api.gradebook(api.open_course(course_dir), Path(out) if out else None, fmt=fmt)
    if as_json:
        print_json(table)
    elif not out:
        console.print(dict_table(table, "gradebook"))
    else:
        console.print(f"wrote {len(table)} students to {out}")


@main.command()
@click.argument("hw")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@jobs_opt
@click.option("--rerun", is_flag=True, help="Re-execute each notebook in the sandbox and compare its predictions.")
@click.option("--backend", type=click.Choice(["docker", "bwrap"]), default=None,
              help="Sandbox backend for --rerun (default: the most isolated that works here).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where the work runs: a local process pool, or a Ray cluster.")
@click.option("--address", default=None, help="Ray cluster address (default: start a local one).")
@course_opt
@json_opt
def batch(hw, folder, jobs, rerun, backend, executor, address, course_dir, as_json):
    """Grade a class folder (<student>/… or COOL-style <student>_hwN.zip), resumable."""
    course = api.open_course(course_dir)
    with progress_bar(f"grading {hw}", enabled=not as_json) as bar:
        outcomes = api.batch(course, hw, Path(folder), jobs, progress=bar, rerun=rerun, backend=backend,
                             executor=executor, address=address)
    rows = [vars(o) for o in outcomes]
    if as_json:
        print_json(rows)
        return
    cols = ["student", "status", "public", "private", "message"] + (["rerun", "hidden_points", "rerun_message"] if rerun else [])
    console.print(dict_table(rows, f"batch {hw}", cols))
    counts = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    console.print(" · ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    flagged = [o for o in outcomes if o.rerun and o.rerun != "match"]
    if rerun:
        console.print(f"re-execution: {sum(o.rerun == 'match' for o in outcomes)} reproduce their file, "
                      f"{len(flagged)} flagged: " + (", ".join(f"{o.student} ({o.rerun})" for o in flagged) or "none"))
    failed = [o for o in outcomes if o.status in ("rejected", "error")]
    for o in failed:
        err.print(f"  {o.student}: {o.status} — {o.message[:160]}", soft_wrap=True)


def _ladder_cmd(fn, hw, jobs, course_dir, as_json, verb, **options):
    course = api.open_course(course_dir)
    total = 5 if verb == "verify" or options.get("with_starter") else 4
    with progress_bar(f"{verb} {hw}", enabled=not as_json, total=total) as bar:
        rep = fn(course, hw, jobs, progress=lambda name, r: bar.advance(name), **options)
    rows = [{"run": n, "public": r.public, "private": r.private,
             **{f"{k} (public/private)": f"{a:.4g} / {b:.4g}" for k, (a, b) in r.extra.items()},
             "seconds": f"{r.seconds:.1f}", "error": r.error[:80]} for n, r in rep.runs.items()]
    if as_json:
        print_json({"ok": rep.ok, "runs": rows, "problems": rep.problems,
                    "thresholds": {"/".join(k): t for k, t in rep.thresholds.items()}})
    else:
        console.print(dict_table(rows, f"{verb} {rep.hw}"))
        for p in rep.problems:
            err.print(f"[red]✗[/red] {p}", markup=True)
        if rep.ok:
            console.print(f"[green]✓[/green] ladder holds for {rep.hw}", markup=True)
    sys.exit(0 if rep.ok else 1)


@main.command()
@click.argument("hw")
@jobs_opt
@click.option("--with-starter", is_flag=True,
              help="Also run the unchanged starter; record nothing unless it reaches simple and not medium.")
@course_opt
@json_opt
def calibrate(hw, jobs, with_starter, course_dir, as_json):
    """Run the reference solutions and record the baseline thresholds."""
    _ladder_cmd(api.calibrate, hw, jobs, course_dir, as_json, "calibrate", with_starter=with_starter)


@main.command()
@click.argument("hw")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@json_opt
def compat(hw, paths, as_json):
    """Score files in another system's format (HW12: JudgeBoi action lists), for comparison only."""
    spec = api.assignment(hw)
    rows = api.compat_board(hw, [Path(p) for p in paths])
    if as_json:
        print_json({"title": spec.compat.title, "note": spec.compat.note,
                    "rows": [r.__dict__ for r in rows]})
        return
    console.print(dict_table([{"rank": r.rank or "", "student": r.student,
                               "score": "" if r.score is None else f"{r.score:.2f}", "message": r.message}
                              for r in rows], spec.compat.title))
    if spec.compat.note:
        console.print(spec.compat.note)


@main.command()
@click.argument("hw", required=False)
@click.option("--all", "every", is_flag=True,
              help="Every homework with a ladder: verify where calibrated for the current data, else calibrate "
                   "with the starter in the same pass.")
@jobs_opt
@course_opt
@json_opt
def verify(hw, every, jobs, course_dir, as_json):
    """Re-run references and the starter; check the ladder and reproducibility."""
    if bool(hw) == every:
        raise click.UsageError("name one homework, or pass --all")
    if hw:
        _ladder_cmd(api.verify, hw, jobs, course_dir, as_json, "verify")
    course = api.open_course(course_dir)

    def done(row) -> None:
        if not as_json:
            mark = "[green]✓[/green]" if row.ok else "[red]✗[/red]"
            console.print(f"{mark} {row.hw}: {row.mode} in {row.seconds:.0f} s", markup=True)
            for problem in row.problems:
                err.print(f"    {problem}")

    rows = api.verify_all(course, jobs, on_done=done)
    summary = [{"hw": r.hw, "mode": r.mode, "seconds": round(r.seconds, 1), "problems": r.problems} for r in rows]
    if as_json:
        print_json({"ok": all(r.ok for r in rows), "homeworks": summary,
                    "seconds": round(sum(r.seconds for r in rows), 1)})
    else:
        console.print(f"{sum(r.ok for r in rows)} of {len(rows)} ladders hold; "
                      f"{sum(r.seconds for r in rows) / 60:.1f} min in all")
    sys.exit(0 if all(r.ok for r in rows) else 1)


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=".demo", show_default=True,
              help="Throwaway course directory (recreated).")
@click.option("--site", type=click.Path(file_okay=False), default="leaderboards", show_default=True)
@click.option("--students", default=36, show_default=True)
@click.option("--source", type=click.Choice(["generated", "real"]), default="generated", show_default=True)
@click.option("--hw", default="hw1", show_default=True, help="Homeworks to run: a name, a comma list, or all.")
@jobs_opt
@json_opt
def demo(directory, site, students, source, hw, jobs, as_json):
    """A whole course in minutes: prepare, calibrate, a simulated class, batch, boards."""
    from . import demo as demomod

    summary = demomod.run(Path(directory), Path(site), students, source, jobs, quiet=as_json, hw=hw)
    if as_json:
        print_json(summary)


@main.command()
@click.argument("hw")
@course_opt
@json_opt
def submissions(hw, course_dir, as_json):
    """Every submission of a homework, both scores and queue state (TAs and instructors)."""
    remote = _remote(course_dir)
    rows = remote.class_submissions(hw) if remote is not None else api.class_submissions(api.open_course(course_dir), hw)
    print_json(rows) if as_json else console.print(dict_table(rows, f"{hw} submissions",
                                                              ["id", "student", "at", "origin", "status", "public",
                                                               "private", "final", "message"]))


@main.command()
@click.argument("hw")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--report", type=click.Path(dir_okay=False), default="similarity.html", show_default=True)
@click.option("--threshold", default=0.5, show_default=True, help="Share of code shared that is reported.")
@course_opt
@json_opt
def similarity(hw, folder, report, threshold, course_dir, as_json):
    """Copied code across a class folder (copydetect; the starter's code is ignored)."""
    rows = api.similarity(api.open_course(course_dir), hw, Path(folder), Path(report), threshold)
    if as_json:
        print_json(rows)
    else:
        console.print(dict_table(rows, f"{hw}: most similar pairs (report: {report})",
                                 ["a", "b", "similarity_a", "similarity_b", "shared_tokens"]))


@main.command()
@click.argument("hw")
@click.option("--force", is_flag=True, help="Before the deadline too.")
@course_opt
@json_opt
def probing(hw, force, course_dir, as_json):
    """Students whose public score beats their private one suspiciously (leaderboard probing)."""
    rows = api.probing_report(api.open_course(course_dir), hw, force)
    if as_json:
        print_json(rows)
    else:
        console.print(dict_table(rows, f"{hw}: public vs private gaps, largest first",
                                 ["student_id", "public", "private", "gap", "z", "entries", "flagged"]))


@main.command()
@click.argument("hw")
@click.option("--student", default=None, help="One student (default: everyone, which needs --all).")
@click.option("--all", "everyone", is_flag=True, help="Every student of the homework.")
@jobs_opt
@click.option("--backend", type=click.Choice(["docker", "bwrap"]), default=None)
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--address", default=None)
@course_opt
@json_opt
def regrade(hw, student, everyone, jobs, backend, executor, address, course_dir, as_json):
    """Grade again after a fix to the answers or the hidden checks; hand-given points are kept."""
    if not student and not everyone:
        raise GradeError("name a --student, or pass --all")
    rows = api.regrade(api.open_course(course_dir), hw, student, jobs, backend, executor, address)
    print_json(rows) if as_json else console.print(dict_table(rows, f"{hw}: what the regrade changed",
                                                              ["student", "submission_id", "what", "before", "after"]))


@main.command()
@click.argument("hw")
@click.argument("student")
@click.option("--code", type=float, default=None, help="Code points (overrides the hidden checks' points).")
@click.option("--report", type=float, default=None, help="Report points.")
@click.option("--bonus", type=float, default=None, help="Bonus points (e.g. the top-3 method report).")
@click.option("--penalty", type=float, default=None, help="A multiplier: the course's rule is 0.9.")
@click.option("--reason", default="", help="Why (kept with the points, shown in the audit log).")
@course_opt
def adjust(hw, student, code, report, bonus, penalty, reason, course_dir):
    """Hand-given points or a penalty for one student (HW "course" for the semester); kept across regrades."""
    values = {k: v for k, v in dict(code=code, report=report, bonus=bonus, penalty=penalty).items() if v is not None}
    if not values:
        raise GradeError("give at least one of --code, --report, --bonus, --penalty")
    api.adjust(api.open_course(course_dir), hw, student, values, reason)
    console.print(f"{hw} {student}: " + ", ".join(f"{k} {v:g}" for k, v in values.items()))


@main.command("import-scores")
@click.argument("hw")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--kind", type=click.Choice(["report", "code", "bonus"]), default="report", show_default=True)
@course_opt
def import_scores(hw, csv_file, kind, course_dir):
    """Points graded elsewhere (e.g. Gradescope's report scores): a CSV of student_id,points."""
    n = api.import_scores(api.open_course(course_dir), hw, Path(csv_file), kind)
    console.print(f"{hw}: {kind} points of {n} students imported")


@main.command()
@click.argument("hw")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder for <student>/results.json.")
@course_opt
def gradescope(hw, out, course_dir):
    """Gradescope autograder results.json per student, for courses that upload there."""
    files = api.gradescope_export(api.open_course(course_dir), hw, Path(out))
    console.print(f"wrote {len(files)} results.json files to {out}")


# ---- the course server ------------------------------------------------------------------------------

@main.command()
@course_opt
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (put TLS in front).")
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", default=1, show_default=True, help="Grading threads in the server (0: only `grade worker`).")
@click.option("--lease", "lease_s", default=30.0, show_default=True,
              help="Seconds a grader holds a job before another may take it over.")
@click.option("--grading", type=click.Choice(["inline", "queue"]), default="inline", show_default=True,
              help="inline: score CSV uploads in the request; queue: leave every upload to the workers.")
def serve(course_dir, host, port, workers, lease_s, grading):
    """Run the course server: remote submissions, status, finals and boards over HTTP (OpenAPI at /docs)."""
    api.serve(course_dir, host, port, workers, lease_s, grading)


@main.command("worker")
@course_opt
@click.option("--once", is_flag=True, help="Grade what is queued now, then stop.")
@click.option("--poll", "poll_s", default=0.5, show_default=True)
@click.option("--lease", "lease_s", default=30.0, show_default=True)
def worker_cmd(course_dir, once, poll_s, lease_s):
    """Take grading jobs from the course's queue (beside or instead of the server's own threads)."""
    n = api.work(api.open_course(course_dir), once=once, poll_s=poll_s, lease_s=lease_s)
    console.print(f"graded {n} job(s)")


@main.group()
def roster():
    """The class list and its tokens."""


@roster.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--tokens-out", type=click.Path(dir_okay=False), required=True,
              help="Where to write the new tokens (owner-only); they are not shown again.")
@course_opt
def roster_import(csv_file, tokens_out, course_dir):
    """Add students from an id,name,alias CSV and issue each a token."""
    issued = api.import_roster(api.open_course(course_dir), Path(csv_file), Path(tokens_out))
    console.print(f"{len(issued)} students; tokens in {tokens_out} (hand each student their own)")


@main.group()
def token():
    """Issue and revoke server tokens."""


@token.command("issue")
@click.argument("subject")
@click.option("--role", type=click.Choice(["student", "ta", "instructor"]), default="student", show_default=True)
@course_opt
def token_issue(subject, role, course_dir):
    """A new token for a student (by id) or a TA / instructor (by name); printed once."""
    click.echo(api.issue_token(api.open_course(course_dir), subject, role))


@token.command("revoke")
@click.argument("subject")
@course_opt
def token_revoke(subject, course_dir):
    """Revoke every token of a subject."""
    console.print(f"revoked {api.revoke_tokens(api.open_course(course_dir), subject)} token(s) of {subject}")


@main.command()
@click.argument("url")
@click.option("--token", "token_value", prompt=True, hide_input=True, help="Your token from the course staff.")
def login(url, token_value):
    """Log in to a course server; `grade submit/status/select/leaderboard` then go there."""
    from . import client

    who = client.login(url, token_value)
    console.print(f"logged in to {url} as {who['subject']} ({who['role']}); saved in {client.login_file()}")


@main.command()
def logout():
    """Forget the saved server login."""
    from . import client

    console.print("logged out" if client.logout() else "was not logged in")


@main.group()
def sandbox():
    """Sandbox backends and the course image."""


@sandbox.command()
@json_opt
def doctor(as_json):
    """Which sandbox backends work on this machine, and why not."""
    rows = api.sandbox_doctor()
    if as_json:
        print_json(rows)
    else:
        console.print(dict_table([{**r, "ok": "yes" if r["ok"] else "no"} for r in rows], "sandbox backends"))


@sandbox.command()
@click.option("--force", is_flag=True, help="Rebuild even when the recipe is unchanged.")
def build(force):
    """Build the offline CPU course image (skipped when its inputs are unchanged)."""
    tag, built = api.sandbox_build(force)
    console.print(f"{tag}: {'built' if built else 'up to date (inputs unchanged)'}")


if __name__ == "__main__":
    main()
