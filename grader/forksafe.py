"""What a forked child must do before it computes: the grading worker forks (a local batch's process
pool, the hidden checks' child), and a copy of a process whose torch already ran an OpenMP parallel
region waits forever in its first parallel region for pool threads that were not copied."""

from __future__ import annotations

import sys


def single_threaded_torch() -> None:
    """In a forked child: torch (if the parent imported it) computes on the calling thread only."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
