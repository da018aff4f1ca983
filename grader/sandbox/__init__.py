"""Sandboxed execution of student code: one interface (:mod:`.base`), three backends
(docker, bwrap, local) and a registry to pick one by name."""

from .base import Job, Limits, Mount, RunResult, Sandbox
from .registry import BACKENDS, available_backends, get_backend

__all__ = ["Job", "Limits", "Mount", "RunResult", "Sandbox", "BACKENDS",
           "available_backends", "get_backend"]
