"""Errors a user can act on. The CLI prints their message; nothing else is shown to the user."""

from __future__ import annotations


class GradeError(Exception):
    """An error whose message is meant for the person at the terminal (no traceback)."""


class ConfigError(GradeError):
    """A config file is wrong: the message names the file and the key."""

    def __init__(self, path, key: str, problem: str):
        self.path, self.key, self.problem = str(path), key, problem
        where = f"{self.path}: {key}" if key else self.path
        super().__init__(f"{where}: {problem}")


class NotFound(GradeError):
    pass


class Refused(GradeError):
    """A request the rules refuse (deadline passed, daily limit reached, too many finals …)."""
