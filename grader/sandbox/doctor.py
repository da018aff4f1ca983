"""``grade sandbox doctor``: which backends work on this machine, and why not.

The answer is data (a list of rows) so the CLI can print it as a table and CI
can assert on it."""

from __future__ import annotations

from typing import NamedTuple

from .registry import BACKENDS, get_backend


class Check(NamedTuple):
    backend: str
    ok: bool
    reason: str


def doctor() -> list[Check]:
    """One row per backend, plus ``docker-gpu`` for the NVIDIA runtime."""
    rows: list[Check] = []
    for name in BACKENDS:
        try:
            backend = get_backend(name)
            ok, reason = backend.available()
        except Exception as e:  # doctor must never crash: that is what it diagnoses
            backend, ok, reason = None, False, f"{type(e).__name__}: {e}"
        rows.append(Check(name, ok, reason))
        if name == "docker":
            if backend is not None and rows[-1].ok:
                try:
                    gok, greason = backend.gpu_runtime()  # type: ignore[attr-defined]
                except Exception as e:
                    gok, greason = False, f"{type(e).__name__}: {e}"
            else:
                gok, greason = False, "docker backend unavailable"
            rows.append(Check("docker-gpu", gok, greason))
    return rows


if __name__ == "__main__":  # python -m grader.sandbox.doctor
    for row in doctor():
        print(f"{row.backend:12} {'ok' if row.ok else 'NO':3} {row.reason}")
