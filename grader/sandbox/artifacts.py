"""Host-side, safe reading of what a sandboxed run left in its output folder.

The folder was written by untrusted code, so nothing in it is followed or
trusted: symlinks and hard links could point at host files (the answers),
device nodes and FIFOs could block or leak, and a file can be a pickle payload,
a JSON nesting bomb or a PNG that decompresses to gigabytes.  Every loader here
opens with O_NOFOLLOW, re-checks the opened file, reads a bounded number of bytes
and parses with the safe option of its library (no pickle, weights only,
pixel caps).
"""

from __future__ import annotations

import io
import json
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_FILES = 1000
MAX_TOTAL_BYTES = 256 * 2**20
MAX_FILE_BYTES = 256 * 2**20
MAX_PIXELS = 50_000_000  # ~7000x7000; a PNG declaring more is refused before decoding


class UnsafeArtifact(ValueError):
    """An output file that must not be read (link, device, too big, unsafe content)."""


@dataclass(frozen=True)
class Artifact:
    relpath: str
    path: Path
    size: int


def collect(root: Path, max_files: int = MAX_FILES, max_total: int = MAX_TOTAL_BYTES) -> list[Artifact]:
    """All regular files under ``root``; raises ``UnsafeArtifact`` on the first symlink,
    hard link, device/FIFO/socket, or when the count or total size is over the caps."""
    root = Path(root)
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeArtifact(f"{root} is not a plain directory")
    found: list[Artifact] = []
    total = 0
    for dirpath, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                raise UnsafeArtifact(f"{rel}: symlinks are not allowed in the output")
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode):
                raise UnsafeArtifact(f"{rel}: not a regular file (device, FIFO or socket)")
            if st.st_nlink > 1:
                raise UnsafeArtifact(f"{rel}: hard links are not allowed in the output")
            total += st.st_size
            found.append(Artifact(rel, p, st.st_size))
            if len(found) > max_files:
                raise UnsafeArtifact(f"more than {max_files} files in the output")
            if total > max_total:
                raise UnsafeArtifact(f"output is larger than {max_total} bytes")
    return sorted(found, key=lambda a: a.relpath)


def read_bytes(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """Read a regular, singly linked file without following a final symlink.
    (Parent directories are checked by ``collect``; use it first for a whole folder.)"""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise UnsafeArtifact(f"{path}: cannot open safely ({e.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeArtifact(f"{path}: not a regular file")
        if st.st_nlink > 1:
            raise UnsafeArtifact(f"{path}: hard links are not allowed")
        if st.st_size > max_bytes:
            raise UnsafeArtifact(f"{path}: {st.st_size} bytes, over the {max_bytes} byte cap")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise UnsafeArtifact(f"{path}: grew past the {max_bytes} byte cap while reading")
        return data
    finally:
        os.close(fd)


def load_npy(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """A .npy array (or .npz mapping, fully loaded); object arrays (pickles) are refused."""
    import numpy as np
    data = read_bytes(path, max_bytes)
    try:
        obj = np.load(io.BytesIO(data), allow_pickle=False)
        if isinstance(obj, np.lib.npyio.NpzFile):
            with obj:
                return {k: obj[k] for k in obj.files}
        return obj
    except ValueError as e:  # "Object arrays cannot be loaded when allow_pickle=False"
        raise UnsafeArtifact(f"{path}: not a plain numeric array ({e})") from None
    except (OSError, EOFError) as e:
        raise UnsafeArtifact(f"{path}: not a .npy/.npz file ({e})") from None


def load_json(path: Path, max_bytes: int = 16 * 2**20) -> Any:
    data = read_bytes(path, max_bytes)
    try:
        return json.loads(data)
    except RecursionError:
        raise UnsafeArtifact(f"{path}: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise UnsafeArtifact(f"{path}: invalid JSON ({e})") from None


def load_state_dict(path: Path, max_bytes: int = MAX_FILE_BYTES) -> dict[str, Any]:
    """A torch checkpoint loaded with ``weights_only=True`` (tensors and plain containers
    only: no arbitrary pickled objects, so no code execution) onto the CPU."""
    import torch
    data = read_bytes(path, max_bytes)
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError for anything not on the allow list
        raise UnsafeArtifact(f"{path}: not a weights-only checkpoint ({type(e).__name__}: "
                             f"{str(e)[:200]})") from None
    if not isinstance(obj, dict):
        raise UnsafeArtifact(f"{path}: expected a state dict, got {type(obj).__name__}")
    return obj


def open_png(path: Path, max_pixels: int = MAX_PIXELS, max_bytes: int = 64 * 2**20):
    """A decoded PIL image, after checking the declared size against ``max_pixels``
    (PIL's own bomb check is only a warning below 2x its limit)."""
    return decode_png(read_bytes(path, max_bytes), str(path), max_pixels)


def decode_png(data: bytes, path: str, max_pixels: int = MAX_PIXELS):
    """`open_png` for bytes already in memory (a member of an uploaded archive); `path` names it in errors."""
    from PIL import Image
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            img = Image.open(io.BytesIO(data), formats=["PNG"])  # header only
            w, h = img.size
            if w * h > max_pixels:
                raise UnsafeArtifact(f"{path}: {w}x{h} pixels, over the {max_pixels} cap")
            img.load()
            return img
        except UnsafeArtifact:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise UnsafeArtifact(f"{path}: decompression bomb ({e})") from None
        except Exception as e:  # UnidentifiedImageError, truncated data, ...
            raise UnsafeArtifact(f"{path}: not a readable PNG ({type(e).__name__}: {e})") from None
        finally:
            Image.MAX_IMAGE_PIXELS = old
