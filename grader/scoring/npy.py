"""Reading `.npy` files students made, without ever unpickling them in general.

A plain numeric array loads with `np.load(allow_pickle=False)`. The course's own JudgeBoi format for HW12
(`np.save("Action_List.npy", np.array(action_list))` over episodes of different lengths) is an *object*
array, which numpy stores as a pickle stream and will only load with `allow_pickle=True` — executing
whatever the stream says. Here such a stream goes through an unpickler that admits only what numpy needs
to rebuild an array (its `_reconstruct`, `ndarray`, `dtype`, `scalar`) and otherwise only the pickle
protocol's own lists, tuples, ints, floats and strings; any other global (`os.system`, `builtins.eval`,
…) is refused before it is looked up.
"""

from __future__ import annotations

import io
import pickle

import numpy as np

MAX_BYTES = 16 * 2**20
ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}


class UnsafeNpy(ValueError):
    pass


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise UnsafeNpy(f"the file's pickle asks for {module}.{name}, which is not part of an array")
        return super().find_class(module, name)


def load_npy(data: bytes, allow_objects: bool = False):
    """The array in `data`. With `allow_objects`, an object array (lists of numbers in it) is rebuilt
    through the restricted unpickler and returned as nested Python lists; without, it is refused."""
    if len(data) > MAX_BYTES:
        raise UnsafeNpy(f"{len(data):,} bytes, over the {MAX_BYTES:,}-byte cap")
    buf = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buf)
        header = (np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0)
        shape, _fortran, dtype = header(buf)
    except Exception as e:  # noqa: BLE001 - not a .npy at all
        raise UnsafeNpy(f"not a .npy file ({type(e).__name__}: {e})") from None
    if not dtype.hasobject:
        buf.seek(0)
        return np.load(buf, allow_pickle=False)
    if not allow_objects:
        raise UnsafeNpy("an object array (it needs pickle); save plain numbers")
    try:
        obj = _Restricted(buf).load()
    except UnsafeNpy:
        raise
    except Exception as e:  # noqa: BLE001 - a damaged or foreign stream
        raise UnsafeNpy(f"the object array cannot be read ({type(e).__name__}: {e})") from None
    return _plain(obj)


def _plain(x):
    """numpy arrays and scalars inside the object array as Python lists and numbers; anything else refused."""
    if isinstance(x, np.ndarray):
        return [_plain(v) for v in x.tolist()] if x.dtype.hasobject else x.tolist()
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (bool, int, float, np.integer, np.floating)):
        return x.item() if isinstance(x, np.generic) else x
    raise UnsafeNpy(f"the object array holds a {type(x).__name__}, not numbers")
