"""Students' .npy files: plain arrays load without pickle; the course's JudgeBoi object array (HW12's
Action_List.npy) loads through a restricted unpickler; a crafted pickle that calls anything else is refused."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

from grader import catalog
from grader.scoring.npy import UnsafeNpy, load_npy

SHARED = catalog.shared_data_dir()
REAL = SHARED / "hw12_rl" / "Action_List.npy" if SHARED else None


def saved(arr, **kw) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, **kw)
    return buf.getvalue()


def test_plain_arrays_load_and_object_arrays_need_permission():
    assert load_npy(saved(np.arange(6).reshape(2, 3))).tolist() == [[0, 1, 2], [3, 4, 5]]
    episodes = np.empty(3, dtype=object)
    episodes[:] = [[0, 1, 2], [3, 3], [1]]
    data = saved(episodes, allow_pickle=True)
    with pytest.raises(UnsafeNpy, match="object array"):
        load_npy(data)
    assert load_npy(data, allow_objects=True) == [[0, 1, 2], [3, 3], [1]]


@pytest.mark.skipif(REAL is None or not REAL.is_file(), reason="the real HW12 submission (../shared/data/hw12_rl) is absent")
def test_the_real_2022_judgeboi_submission_loads():
    actions = load_npy(REAL.read_bytes(), allow_objects=True)
    assert [len(a) for a in actions] == [563, 223, 533, 1000, 313]
    assert {x for a in actions for x in a} <= {0, 1, 2, 3}


class _Boom:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_pickle_is_refused_before_anything_runs(tmp_path):
    marker = tmp_path / "pwned"
    data = _npy_prefix() + pickle.dumps(_Boom(str(marker)), protocol=2)
    with pytest.raises(UnsafeNpy, match=r"asks for (posix|os)\.system"):
        load_npy(data, allow_objects=True)
    assert not marker.exists(), "nothing ran"
    evil = _npy_prefix() + pickle.dumps(eval, protocol=2)
    with pytest.raises(UnsafeNpy, match=r"asks for (__builtin__|builtins)\.eval"):
        load_npy(evil, allow_objects=True)


def _npy_prefix() -> bytes:
    """A valid .npy header announcing a 1-element object array (what precedes numpy's pickle stream)."""
    full = saved(np.array([None], dtype=object), allow_pickle=True)
    buf = io.BytesIO(full)
    np.lib.format.read_magic(buf)
    np.lib.format.read_array_header_1_0(buf)
    return full[: buf.tell()]
