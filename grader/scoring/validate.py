"""Strict validation of a CSV prediction file, with messages a student can act on.

The fast path parses the whole file with pyarrow into typed columns and checks everything with numpy,
so validating HW2's 646,268-row file costs little more than reading it (see benchmarks/). Only when
pyarrow refuses the file do we walk it line by line with the csv module, to say exactly which line and
which value is wrong.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..spec import SubmissionSpec

MAX_EXAMPLES = 5
_ARROW_TYPES = {"int": pa.int64(), "float": pa.float64(), "str": pa.string()}


@dataclass
class Checked:
    """A file that passed validation: ids and values as numpy arrays, in file order."""

    ids: np.ndarray
    values: np.ndarray


@dataclass
class Invalid(Exception):
    filename: str
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(f"{self.filename}: {p}" for p in self.problems)


def _examples(items, fmt=str) -> str:
    items = items.tolist() if isinstance(items, np.ndarray) else list(items)
    shown = ", ".join(fmt(x) for x in items[:MAX_EXAMPLES])
    more = f" … and {len(items) - MAX_EXAMPLES} more" if len(items) > MAX_EXAMPLES else ""
    return shown + more


def validate(data: bytes, filename: str, sub: SubmissionSpec, expected_ids: np.ndarray) -> Checked:
    """Any submission kind: the parsed file, or `Invalid` listing every problem found."""
    if sub.kind == "archive":
        from .archive import validate_archive

        return validate_archive(data, filename, sub, expected_ids)
    if sub.kind == "weights":
        from .weights import validate_weights

        return validate_weights(data, filename, sub, expected_ids)
    kinds = {"lines": validate_lines, "choices": validate_choices}
    return kinds.get(sub.kind, validate_csv)(data, filename, sub, expected_ids)


def validate_choices(data: bytes, filename: str, sub: SubmissionSpec, expected_ids: np.ndarray) -> Checked:
    """A JSON object: every question id once, each answered with option letters (a letter, a string of
    letters or a list of them; none at all is allowed, and scores nothing)."""
    import json

    bad = Invalid(filename)
    text = _utf8_text(data, sub, bad).decode("utf-8")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        bad.problems.append(f"line {e.lineno}: not valid JSON ({e.msg})")
        raise bad from None
    except RecursionError:
        bad.problems.append("nested too deeply to be an answer sheet")
        raise bad from None
    if not isinstance(obj, dict):
        bad.problems.append(f"expected a JSON object of question → answer, got a {type(obj).__name__}")
        raise bad
    expected = [str(i) for i in expected_ids.tolist()]
    missing, extra = [q for q in expected if q not in obj], sorted(set(obj) - set(expected))
    if missing:
        bad.problems.append(f"{len(missing)} question(s) unanswered: " + _examples(missing))
    if extra:
        bad.problems.append(f"{len(extra)} unknown question(s): " + _examples(extra))
    allowed, values, wrong = set(sub.options), [], []
    for q in expected:
        a = obj.get(q, "")
        letters = list(a) if isinstance(a, str) else a if isinstance(a, list) else None
        if letters is None or not all(isinstance(x, str) and x.strip().upper() in allowed for x in letters):
            wrong.append(f"{q}: {json.dumps(a)[:40]}")
            continue
        values.append("".join(sorted({x.strip().upper() for x in letters})))
    if wrong:
        bad.problems.append(f"{len(wrong)} answer(s) are not options {', '.join(sub.options)} (a letter or a list "
                            f"of letters): " + _examples(wrong))
    if bad.problems:
        raise bad
    return Checked(np.array(expected, dtype=object), np.array(values, dtype=object))


def _utf8_text(data: bytes, sub: SubmissionSpec, bad: "Invalid") -> bytes:
    """The file's bytes without a byte-order mark, after the size, emptiness and encoding checks."""
    if len(data) == 0:
        bad.problems.append("the file is empty")
        raise bad
    if len(data) > sub.max_bytes:
        bad.problems.append(f"{len(data):,} bytes is over the size limit of {sub.max_bytes:,} bytes")
        raise bad
    if data.startswith(b"\xef\xbb\xbf"):  # Excel's UTF-8 byte-order mark is harmless
        data = data[3:]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        bad.problems.append(f"line {line}: not UTF-8 (byte {data[e.start]:#04x} at offset {e.start})")
        raise bad from None
    return data


def validate_lines(data: bytes, filename: str, sub: SubmissionSpec, expected_ids: np.ndarray) -> Checked:
    """One prediction per line, no header: line k (from 0) answers id k. A final newline is optional,
    CRLF is accepted; the line count must equal the number of test items."""
    bad = Invalid(filename)
    text = _utf8_text(data, sub, bad).decode("utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    n, want = len(lines), len(expected_ids)
    if n != want:
        hint = " (one line per test sentence, in the order of the test file)"
        bad.problems.append(f"{n:,} lines, expected {want:,}{hint}")
    if not sub.allow_empty:
        empty = [k for k, ln in enumerate(lines) if not ln.strip()]
        if empty:
            bad.problems.append(f"{len(empty)} empty line(s): " + _examples(empty, lambda k: f"line {k + 1}"))
    if bad.problems:
        raise bad
    return Checked(np.arange(n), np.array(lines, dtype=object))


def validate_csv(data: bytes, filename: str, sub: SubmissionSpec, expected_ids: np.ndarray) -> Checked:
    """Return the parsed file or raise `Invalid` listing every problem found."""
    bad = Invalid(filename)
    data = _utf8_text(data, sub, bad)

    end = data.find(b"\n")
    first = (data if end < 0 else data[:end]).rstrip(b"\r").decode()  # slice the line, never copy the file
    header = next(csv.reader([first]), [])
    expected = list(sub.columns)
    if header != expected:
        bad.problems.append(f"line 1: header is {','.join(header)!r}, expected {','.join(expected)!r}")
        raise bad

    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),  # zero-copy over the bytes
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: _ARROW_TYPES[t] for c, t in sub.columns.items()},
                null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        bad.problems.extend(_locate_parse_errors(data, sub))
        raise bad from None

    ids = table.column(sub.id_column).to_numpy(zero_copy_only=False)
    values = table.column(sub.value_column).to_numpy(zero_copy_only=False)
    n = len(ids)
    if n == 0:
        bad.problems.append("the file has a header but no rows")
        raise bad

    if sub.columns[sub.value_column] == "float":
        nonfinite = np.flatnonzero(~np.isfinite(values))
        if nonfinite.size:
            bad.problems.append(
                f"{nonfinite.size} value(s) in column {sub.value_column} are NaN or infinite, at "
                + _examples(nonfinite, lambda i: f"line {i + 2} ({values[i].item()})"))

    # Fast paths: the usual file lists exactly the expected ids, in the expected order or in another.
    if n == len(expected_ids) and (np.array_equal(ids, expected_ids) or _same_ids(ids, expected_ids)):
        if bad.problems:
            raise bad
        return Checked(ids, values)

    # Something is wrong with the ids: say exactly what (np.unique's results are sorted and distinct).
    uniq, first_idx, counts = np.unique(ids, return_index=True, return_counts=True)
    dups = uniq[counts > 1]
    if dups.size:
        bad.problems.append(f"{dups.size} duplicate id(s): " + _examples(dups, repr))
    expected_uniq = _sorted_distinct(expected_ids)
    missing = np.setdiff1d(expected_uniq, uniq, assume_unique=True)
    extra = np.setdiff1d(uniq, expected_uniq, assume_unique=True)
    if missing.size:
        bad.problems.append(f"{missing.size} expected id(s) are missing: " + _examples(missing, repr))
    if extra.size:
        where = dict(zip(uniq.tolist(), first_idx.tolist()))
        bad.problems.append(f"{extra.size} unknown id(s): "
                            + _examples(extra, lambda x: f"{x!r} (line {where[x] + 2})"))
    if n != len(expected_ids):
        bad.problems.append(f"{n:,} rows, expected {len(expected_ids):,} (one per test id)")
    if bad.problems:
        raise bad
    return Checked(ids, values)


def _contiguous_start(ids: np.ndarray) -> int | None:
    """`lo` when `ids` is exactly lo, lo+1, …, lo+n-1 in that order (the usual test ids), else None."""
    if ids.dtype.kind not in "iu" or len(ids) == 0:
        return None
    lo = int(ids[0])
    if int(ids[-1]) - lo != len(ids) - 1 or not np.all(np.diff(ids) == 1):
        return None
    return lo


def _sorted_distinct(a: np.ndarray) -> np.ndarray:
    if len(a) < 2 or np.all(a[1:] > a[:-1]):  # already strictly increasing: the usual answers
        return a
    s = np.sort(a)
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


def _same_ids(ids: np.ndarray, expected: np.ndarray) -> bool:
    """True when `ids` holds every expected id exactly once, in any order (same length assumed).

    Costs one scatter when the expected ids are a contiguous range, a sort otherwise — never
    np.unique, which is far slower on 646k distinct values.
    """
    lo = _contiguous_start(expected)
    if lo is not None and ids.dtype.kind in "iu":
        hi = lo + len(expected) - 1
        if int(ids.min()) < lo or int(ids.max()) > hi:
            return False
        # n ids that land on all n slots are each there once (pigeonhole): a scatter, no count
        seen = np.zeros(len(expected), dtype=bool)
        seen[ids - lo if lo else ids] = True
        return bool(seen.all())
    try:
        s = np.sort(ids)
    except TypeError:  # unorderable mixture: let the diagnostics speak
        return False
    e = _sorted_distinct(expected)
    return len(e) == len(s) and bool(np.array_equal(s, e))


def _locate_parse_errors(data: bytes, sub: SubmissionSpec) -> list[str]:
    """Slow path: walk the file to name the lines pyarrow refused."""
    problems: list[str] = []
    width = len(sub.columns)
    types = list(sub.columns.values())
    names = list(sub.columns)
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    next(reader, None)
    rows = enumerate(reader, start=2)
    while True:
        try:
            lineno, row = next(rows)
        except StopIteration:
            break
        except csv.Error as e:  # e.g. a field over the csv module's size limit: say where, don't crash
            problems.append(f"line {reader.line_num}: {e}")
            break
        if len(problems) >= MAX_EXAMPLES:
            problems.append("… (further problems not listed)")
            break
        if not row:
            problems.append(f"line {lineno}: empty line")
            continue
        if len(row) != width:
            problems.append(f"line {lineno}: {len(row)} fields, expected {width} ({','.join(names)})")
            continue
        for name, typ, val in zip(names, types, row):
            if typ == "str":
                continue
            try:
                num = int(val) if typ == "int" else float(val)
            except ValueError:
                what = "an integer" if typ == "int" else "a number"
                shown = repr(val) if val else "an empty value"
                problems.append(f"line {lineno}: {shown} in column {name} is not {what}")
                continue
            if typ == "float" and not math.isfinite(num):
                problems.append(f"line {lineno}: {val!r} in column {name} is NaN or infinite")
            elif typ == "int" and not -2**63 <= num < 2**63:
                problems.append(f"line {lineno}: {val!r} in column {name} is out of the 64-bit integer range")
    return problems or ["the file could not be parsed as CSV"]
