"""Archive submissions: a `.tgz` of PNG images, unpacked in memory and checked before any pixel is used.

The archive was made by the student, so nothing in it is trusted: members are never written to disk,
links, devices and paths that climb out (`..`, absolute) are refused, member count and unpacked size are
capped before reading (a header's declared size is checked before its bytes are), and every PNG's declared
size is checked before decoding (decompression bombs). The member names must be exactly the expected ids
— `1.png … 1000.png` for HW6, `airplane/airplane1.png …` for HW10 — and every image must have the
homework's size and colour mode. The values handed to scoring are one uint8 array (N, H, W, C).
"""

from __future__ import annotations

import io
import posixpath
import tarfile

import numpy as np

from ..spec import SubmissionSpec
from .validate import Checked, Invalid, _examples


def member_name(raw: str) -> str | None:
    """The normalised relative name of a member, or None when it points outside the archive."""
    name = raw.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    if not name or name.startswith("/") or (":" in name.split("/")[0]):
        return None
    norm = posixpath.normpath(name)
    if norm.startswith("..") or "/../" in f"/{norm}/":
        return None
    return norm


def read_members(data: bytes, filename: str, sub: SubmissionSpec) -> dict[str, bytes]:
    """Every regular file of the archive by normalised name; `Invalid` for anything unsafe."""
    bad = Invalid(filename)
    cap = sub.archive.max_unpacked_bytes
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
    except (tarfile.TarError, EOFError, OSError) as e:
        bad.problems.append(f"not a .tgz (tar + gzip) archive ({type(e).__name__}: {e})")
        raise bad from None
    files: dict[str, bytes] = {}
    total = 0
    with tar:
        try:
            for m in tar:
                name = member_name(m.name)
                if name is None:
                    bad.problems.append(f"entry {m.name!r} points outside the archive")
                    break
                if m.isdir():
                    continue
                if not m.isfile():
                    what = "a link" if (m.issym() or m.islnk()) else "not a regular file"
                    bad.problems.append(f"entry {m.name!r} is {what}")
                    break
                if len(files) >= sub.archive.max_members:
                    bad.problems.append(f"more than {sub.archive.max_members} files")
                    break
                total += m.size
                if total > cap:
                    bad.problems.append(f"unpacks to more than {cap:,} bytes")
                    break
                if name in files:
                    bad.problems.append(f"{name} appears twice")
                    break
                f = tar.extractfile(m)
                files[name] = f.read(m.size) if f else b""
        except (tarfile.TarError, EOFError, OSError, ValueError) as e:  # truncated or corrupt stream
            bad.problems.append(f"the archive is damaged ({type(e).__name__}: {e})")
    if bad.problems:
        raise bad
    return files


def validate_archive(data: bytes, filename: str, sub: SubmissionSpec, expected_ids: np.ndarray) -> Checked:
    bad = Invalid(filename)
    if len(data) == 0:
        bad.problems.append("the file is empty")
        raise bad
    if len(data) > sub.max_bytes:
        bad.problems.append(f"{len(data):,} bytes is over the size limit of {sub.max_bytes:,} bytes")
        raise bad
    files = read_members(data, filename, sub)
    expected = [str(i) for i in expected_ids.tolist()]
    missing = sorted(set(expected) - set(files))
    extra = sorted(set(files) - set(expected))
    if missing:
        bad.problems.append(f"{len(missing)} expected image(s) are missing: " + _examples(missing))
    if extra:
        bad.problems.append(f"{len(extra)} unexpected file(s): " + _examples(extra))
    if bad.problems:
        if len(files) and not (set(files) & set(expected)):
            bad.problems.append(f"expected names like {expected[0]} at the top of the archive "
                                f"(archive the files, not the folder that holds them)")
        raise bad
    return Checked(np.array(expected, dtype=object), decode_images(files, expected, sub, bad))


def decode_images(files: dict[str, bytes], names: list[str], sub: SubmissionSpec, bad: Invalid) -> np.ndarray:
    from ..sandbox.artifacts import UnsafeArtifact, decode_png

    im = sub.archive.image
    channels = {"RGB": 3, "L": 1, "RGBA": 4}[im.mode]
    out = np.empty((len(names), im.height, im.width, channels), dtype=np.uint8)
    wrong: list[str] = []
    for k, name in enumerate(names):
        try:
            img = decode_png(files[name], name, max_pixels=4 * im.width * im.height)
        except UnsafeArtifact as e:
            wrong.append(str(e))
            continue
        if img.size != (im.width, im.height) or img.mode != im.mode:
            wrong.append(f"{name} is {img.size[0]}x{img.size[1]} {img.mode}, expected {im.width}x{im.height} {im.mode}")
            continue
        out[k] = np.asarray(img, dtype=np.uint8).reshape(im.height, im.width, channels)
    if wrong:
        bad.problems.append(f"{len(wrong)} image(s) are not valid: " + _examples(wrong))
        raise bad
    return out


def write_archive(images: dict[str, np.ndarray]) -> bytes:
    """A .tgz of PNGs named by `images`' keys (folders inside names are created): the course's format,
    for sample submissions and simulated classes."""
    from PIL import Image

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, img in images.items():
            buf = io.BytesIO()
            arr = np.ascontiguousarray(img)
            Image.fromarray(arr[..., 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr).save(buf, format="PNG")
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(buf.getvalue()), 0
            tar.addfile(info, io.BytesIO(buf.getvalue()))
    return out.getvalue()
