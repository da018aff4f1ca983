"""Who may do what on the course server: API tokens, roles and the class roster.

A token is 32 random bytes (URL-safe text, `gr_` prefix), shown once when issued and stored only as its
sha256 — a copied store file gives nobody a working token. Roles:

    student     submit as themselves, see their own submissions, select their finals, public boards
    ta          also every submission of every student, and private boards before the deadline
    instructor  what a TA may do (issuing tokens is done on the course machine: `grade roster`, `grade token`)
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from .errors import ConfigError
from .store import Token, utcnow

ROLES = ("student", "ta", "instructor")
STAFF = ("ta", "instructor")
PREFIX = "gr_"


@dataclass(frozen=True)
class Identity:
    subject: str  # the student id, or a staff member's name
    role: str

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(store, subject: str, role: str = "student") -> str:
    """A new token for `subject`; only its hash is kept."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    token = PREFIX + secrets.token_urlsafe(32)
    with store.session() as s:
        s.add(Token(hash=token_hash(token), subject=subject, role=role))
        store.log(s, "token", actor="instructor", student_id=subject if role == "student" else "", role=role,
                  subject=subject)
    return token


def revoke(store, subject: str) -> int:
    with store.session() as s:
        rows = list(s.scalars(select(Token).where(Token.subject == subject, Token.revoked_at.is_(None))))
        for t in rows:
            t.revoked_at = utcnow()
        store.log(s, "revoke", actor="instructor", subject=subject, tokens=len(rows))
    return len(rows)


def identify(store, token: str | None) -> Identity | None:
    """The holder of a valid, unrevoked token; None otherwise (looked up by its hash)."""
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None
    with store.reading() as s:
        row = s.get(Token, token_hash(token))
    if row is None or row.revoked_at is not None:
        return None
    return Identity(row.subject, row.role)


def read_roster(path: Path) -> list[dict]:
    """`id,name,alias` rows (name and alias optional; a header line is required)."""
    text = Path(path).read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    cols = [c.strip().lower() for c in (reader.fieldnames or [])]
    if "id" not in cols:
        raise ConfigError(path, "line 1", f"the header needs an 'id' column (got {','.join(reader.fieldnames or [])!r})")
    rows, seen = [], set()
    for n, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        sid = row.get("id", "")
        if not sid:
            raise ConfigError(path, f"line {n}", "empty student id")
        if not all(c.isalnum() or c in "-_." for c in sid) or len(sid) > 64:
            raise ConfigError(path, f"line {n}", f"student id {sid!r} may hold only letters, digits, '-', '_', '.'")
        if sid in seen:
            raise ConfigError(path, f"line {n}", f"student id {sid!r} appears twice")
        seen.add(sid)
        rows.append({"id": sid, "name": row.get("name", ""), "alias": row.get("alias", "")})
    return rows


def write_tokens(rows: list[tuple[str, str, str]], out: Path) -> None:
    """subject,role,token lines in a file only its owner can read."""
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["subject", "role", "token"])
        w.writerows(rows)
