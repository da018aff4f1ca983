"""A hard size cap on the sandbox's writable output folder.

A per-file RLIMIT_FSIZE plus polling the folder's size still lets a fast writer
overshoot by whatever it writes between two polls.  Where we are root we instead
bind a size- and inode-limited tmpfs as the output folder, so the kernel says
ENOSPC at the cap; after the run its regular files (and symlinks, as symlinks,
so the artifact collector can refuse them) are copied to the real output folder
and the tmpfs is unmounted.  Elsewhere the staging folder is the output folder
itself and the polling guard in :mod:`.proc` is the cap.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .proc import MAX_OUTPUT_FILES


def can_mount() -> bool:
    return os.geteuid() == 0 and sys.platform.startswith("linux")


_TMPFS_MAGIC = 0x01021994
_scratch: list[str | None] = []


def scratch_dir() -> str | None:
    """Where per-run scratch folders go: /dev/shm when it is a writable tmpfs, else None
    (the default temp folder).  Creating and removing a folder on a disk file system can
    cost milliseconds (a journal commit, online discard): 4 ms per rmdir on an ext4
    mounted with ``discard`` here, several times per run; on tmpfs it is microseconds."""
    if not _scratch:
        path = "/dev/shm"
        try:
            ok = (os.path.isdir(path) and not os.path.islink(path) and os.access(path, os.W_OK | os.X_OK)
                  and _fs_type(path) == _TMPFS_MAGIC)
        except OSError:
            ok = False
        _scratch.append(path if ok else None)
    return _scratch[0]


def _fs_type(path: str) -> int | None:
    """f_type of statfs(2) (os.statvfs does not report it)."""
    class StatFs(ctypes.Structure):
        _fields_ = [("f_type", ctypes.c_long), ("rest", ctypes.c_byte * 256)]

    buf = StatFs()
    try:
        if _libc().statfs(os.fsencode(path), ctypes.byref(buf)) != 0:
            return None
    except (OSError, AttributeError):
        return None
    return buf.f_type


class OutputDir:
    """The host folder to bind (``path``); ``hit_cap`` is set on exit when the
    capped tmpfs was full (out of blocks or inodes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hit_cap = False


@contextlib.contextmanager
def capped_output(output_dir: Path, cap_bytes: int, uid: int, gid: int) -> Iterator[OutputDir]:
    """Yield the host folder to bind as the sandbox's output, owned by ``uid:gid``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    if not can_mount():
        yield OutputDir(output_dir)
        return
    stage = Path(tempfile.mkdtemp(prefix="grader-out-", dir=scratch_dir()))
    opts = (f"size={max(cap_bytes, 4096)},nr_inodes={MAX_OUTPUT_FILES + 16},mode=0755,"
            f"uid={uid},gid={gid}")
    if not _mount_tmpfs(stage, opts):  # e.g. in a container without CAP_SYS_ADMIN: poll instead
        stage.rmdir()
        yield OutputDir(output_dir)
        return
    handle = OutputDir(stage)
    try:
        yield handle
    finally:
        try:
            st = os.statvfs(stage)
            handle.hit_cap = st.f_bavail * st.f_frsize < 256 * 1024 or st.f_favail < 4
            _copy_out(stage, output_dir)
        finally:
            _umount(stage)
            try:
                stage.rmdir()
            except OSError:
                pass


_MS_NOSUID, _MS_NODEV, _MNT_DETACH = 2, 4, 2


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _mount_tmpfs(target: Path, opts: str) -> bool:
    """mount(2) directly: the mount(8) binary would cost a few ms per run."""
    try:
        rc = _libc().mount(b"grader-out", os.fsencode(target), b"tmpfs",
                           _MS_NOSUID | _MS_NODEV, opts.encode())
    except (OSError, AttributeError):
        rc = -1
    if rc != 0:
        rc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "grader-out", str(target)],
                            capture_output=True).returncode
    return rc == 0


def _umount(target: Path) -> None:
    try:
        if _libc().umount2(os.fsencode(target), _MNT_DETACH) == 0:
            return
    except (OSError, AttributeError):
        pass
    subprocess.run(["umount", "-l", str(target)], capture_output=True)


def _copy_out(src: Path, dst: Path) -> None:
    """Copy regular files and directories; recreate symlinks verbatim (never followed);
    drop FIFOs/sockets (the sandbox cannot make devices).  Owned by the grader."""
    for dirpath, dirs, files in os.walk(src, followlinks=False):
        rel = Path(dirpath).relative_to(src)
        target_dir = dst / rel
        target_dir.mkdir(parents=True, exist_ok=True)
        for name in dirs + files:
            s, d = Path(dirpath) / name, target_dir / name
            st = os.lstat(s)
            if stat.S_ISLNK(st.st_mode):
                if d.is_symlink() or d.exists():
                    d.unlink()
                os.symlink(os.readlink(s), d)
            elif stat.S_ISREG(st.st_mode):
                if d.is_symlink():
                    d.unlink()
                fd = os.open(s, os.O_RDONLY | os.O_NOFOLLOW)
                with os.fdopen(fd, "rb") as fin, open(d, "wb") as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
