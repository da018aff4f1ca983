"""Uploaded files: bounded reads, content addressing, and safe unpacking of class archives.

Every uploaded file is kept, byte for byte, under `course/files/<ab>/<sha256>` — rejected ones too, so
a dispute can always be settled from what was actually sent.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from .errors import GradeError


class ArchiveRefused(GradeError):
    pass


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """Read at most max_bytes + 1 bytes: enough to tell the file is too large without reading it all."""
    try:
        with open(path, "rb") as f:
            return f.read(max_bytes + 1)
    except FileNotFoundError:
        raise GradeError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise GradeError(f"{path}: is a folder, expected a file") from None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_blob(files_dir: Path, data: bytes) -> str:
    """Write `data` content-addressed (idempotent, atomic) and return its sha256."""
    digest = sha256_bytes(data)
    dest = Path(files_dir) / digest[:2] / digest
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".up-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o444)
        os.replace(tmp, dest)
    return digest


def blob_path(files_dir: Path, digest: str) -> Path:
    return Path(files_dir) / digest[:2] / digest


def safe_extract(zip_path: Path, dest: Path, max_files: int = 200, max_bytes: int = 200_000_000,
                 max_ratio: float = 200.0) -> list[Path]:
    """Extract a student's zip, refusing anything that could escape `dest` or exhaust the disk.

    Refused: entries with `..`, absolute paths or drive letters, symbolic links, more than `max_files`
    entries, more than `max_bytes` uncompressed, or a member compressed more than `max_ratio`:1
    (a zip bomb). Sizes are checked from the headers first and enforced again while writing, since a
    forged header can lie about the uncompressed size.
    """
    name = Path(zip_path).name
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ArchiveRefused(f"{name}: not a readable zip archive ({e})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > max_files:
            raise ArchiveRefused(f"{name}: {len(infos)} entries, more than the limit of {max_files}")
        total = 0
        for info in infos:
            p = PurePosixPath(info.filename.replace("\\", "/"))
            if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
                raise ArchiveRefused(f"{name}: entry {info.filename!r} points outside the archive folder")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ArchiveRefused(f"{name}: entry {info.filename!r} is a symbolic link")
            total += info.file_size
            if total > max_bytes:
                raise ArchiveRefused(f"{name}: unpacks to more than {max_bytes:,} bytes")
            if info.compress_size and info.file_size / info.compress_size > max_ratio and info.file_size > 1_000_000:
                raise ArchiveRefused(f"{name}: entry {info.filename!r} is compressed {info.file_size // info.compress_size}:1 "
                                     "(looks like a zip bomb)")
        out: list[Path] = []
        written = 0
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        for info in infos:
            target = dest / info.filename.replace("\\", "/")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                for chunk in iter(lambda: src.read(1 << 16), b""):
                    written += len(chunk)
                    if written > max_bytes:
                        raise ArchiveRefused(f"{name}: unpacks to more than {max_bytes:,} bytes")
                    dst.write(chunk)
            out.append(target)
        return out
