"""Weights submissions: a state dict file (`torch.save(model.state_dict())`), checked before any number
is used.

The file was made by student code, so it is loaded only with `torch.load(weights_only=True)` (tensors
and plain containers; anything else pickled is refused without running it), after its size is capped.
It must be a flat {name: floating tensor} mapping within the homework's bounds, every number finite.
The value handed on is {name: float32 array}: course code (the homework's `grading.py`) turns it into
one number per row of the answers file, e.g. HW12's policy played on hidden episodes on the host.
"""

from __future__ import annotations

import io

import numpy as np

from ..spec import SubmissionSpec
from .validate import Checked, Invalid, _examples


def read_weights(data: bytes, filename: str, sub: SubmissionSpec) -> dict[str, np.ndarray]:
    """The state dict as float32 arrays, in the file's order, or `Invalid` naming every problem."""
    import torch

    bad = Invalid(filename)
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- torch's loader fails in many ways on foreign bytes (IndexError, KeyError…)
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        bad.problems.append("not a weights-only state dict saved with torch.save(model.state_dict()) "
                            f"({type(e).__name__}: {first})")
        raise bad from None
    if not isinstance(obj, dict):
        bad.problems.append(f"expected a state dict (name → tensor), got a {type(obj).__name__}; "
                            "save model.state_dict(), not the model")
        raise bad
    lim = sub.weights
    if len(obj) > lim.max_tensors:
        bad.problems.append(f"{len(obj)} tensors, at most {lim.max_tensors} allowed")
        raise bad
    not_tensors = [str(k) for k, v in obj.items() if not (isinstance(k, str) and isinstance(v, torch.Tensor))]
    if not_tensors:
        bad.problems.append(f"entries that are not name → tensor: {_examples(not_tensors)}")
        raise bad
    not_float = [k for k, v in obj.items() if not v.is_floating_point()]
    if not_float:
        bad.problems.append(f"tensors that are not floating point: {_examples(not_float)}")
    total = sum(v.numel() for v in obj.values())
    if total > lim.max_numbers:
        bad.problems.append(f"{total:,} numbers in all, at most {lim.max_numbers:,} allowed")
    if bad.problems:
        raise bad
    out = {k: v.detach().to(torch.float32).contiguous().numpy().copy() for k, v in obj.items()}
    nonfinite = [k for k, a in out.items() if not np.isfinite(a).all()]
    if nonfinite:
        bad.problems.append(f"tensors holding NaN or infinity: {_examples(nonfinite)}")
        raise bad
    return out


def validate_weights(data: bytes, filename: str, sub: SubmissionSpec, expected_ids: np.ndarray) -> Checked:
    """A weights file covers every row at once: the ids are the expected ones, the value is the weights."""
    if len(data) > sub.max_bytes:
        raise Invalid(filename, [f"{len(data):,} bytes is over the size limit of {sub.max_bytes:,} bytes"])
    return Checked(ids=np.asarray(expected_ids).copy(), values=read_weights(data, filename, sub))


def write_weights(weights: dict[str, np.ndarray]) -> bytes:
    """Bytes of a state dict file holding `weights` (what `torch.save(model.state_dict())` writes)."""
    import torch

    buf = io.BytesIO()
    torch.save({k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in weights.items()}, buf)
    return buf.getvalue()
