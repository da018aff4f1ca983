"""Markers and the parametrized ``backend`` fixtures for the sandbox security suite."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "sandbox"))
import _backends  # noqa: E402


def pytest_configure(config) -> None:
    _backends.register_markers(config)


@pytest.fixture(params=_backends.params(_backends.ISOLATED))
def isolated_backend(request):
    """Backends that must isolate: (name, sandbox)."""
    return _backends.backend_fixture(request)


@pytest.fixture
def world_dir():
    """A fresh folder every uid may traverse (pytest's tmp_path is 0700 under root), for
    mounts: bubblewrap's rlimit mode runs as an unprivileged uid that must reach them."""
    import shutil
    import tempfile
    d = Path(tempfile.mkdtemp(prefix="grader-test-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)
