"""Bubblewrap backend: the default on Linux when no Docker daemon is around.

The sandbox sees a tmpfs root holding only the OS runtime (/usr and friends,
a few /etc files), the Python environment (read-only, at /opt/venv), the job's
mounts and the output folder.  Namespaces: all unshared (so no network: a new
net namespace has only a loopback), a non-zero uid, no capabilities, its own
session (no TIOCSTI into our terminal) and it dies with us.

Limits: as root with writable cgroup v1, a per-run cgroup caps memory (+swap),
pids and CPU share, and tells OOM kills apart.  Otherwise bubblewrap itself runs
as a fresh unprivileged host uid (setpriv) under rlimits (prlimit): RLIMIT_AS,
RLIMIT_NPROC (per uid, hence the fresh uid), RLIMIT_CPU.  Both modes cap file
size with RLIMIT_FSIZE and watch the output folder's total size.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

from . import cgroups
from .base import (Job, Limits, RunResult, Stopwatch, check_output_cap, sandbox_env, tail)
from .outdir import capped_output, scratch_dir
from .proc import kill_group, run_watched, signal_name

SANDBOX_UID = 1000  # the uid the student's code sees
VENV_IN_SANDBOX = "/opt/venv"
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl/certs",
             "ca-certificates", "fonts", "localtime", "mime.types")
TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
OOM_MARKERS = ("MemoryError", "std::bad_alloc", "DefaultCPUAllocator: can't allocate",
               "Cannot allocate memory")


class BwrapSandbox:
    """``python_prefix``: the Python environment exposed in the sandbox (a venv or an
    install prefix; default: the one running the grader).  ``use_cgroups``: None = auto."""

    name = "bwrap"

    def __init__(self, python_prefix: str | None = None, use_cgroups: bool | None = None) -> None:
        self.python_prefix = Path(python_prefix or sys.prefix)
        self.use_cgroups = use_cgroups
        self._binds: list[tuple[str, str]] | None = None

    # ----------------------------------------------------------------- checks
    def _mode(self) -> str:
        """'cgroup' (root + writable cgroup v1) or 'rlimit' (setpriv + prlimit)."""
        if self.use_cgroups is False or os.geteuid() != 0:
            return "rlimit"
        ok, _ = cgroups.usable()
        if self.use_cgroups and not ok:
            return "unusable"
        return "cgroup" if ok else "rlimit"

    def available(self) -> tuple[bool, str]:
        if not sys.platform.startswith("linux"):
            return False, "bubblewrap needs Linux"
        if not shutil.which("bwrap"):
            return False, "bwrap not installed (apt-get install bubblewrap)"
        mode = self._mode()
        if mode == "unusable":
            return False, f"cgroups requested but unusable: {cgroups.usable()[1]}"
        if mode == "rlimit":
            for tool in ("prlimit", "setpriv"):
                if os.geteuid() == 0 and not shutil.which(tool):
                    return False, f"{tool} not installed (util-linux)"
            if os.geteuid() == 0:
                for p in self._python_binds():
                    if not _world_readable_path(Path(p[0])):
                        return False, (f"{p[0]} is not reachable by an unprivileged uid; "
                                       "pass a python_prefix outside /root or enable cgroups")
        out = Path(tempfile.mkdtemp(prefix="grader-probe-"))
        try:  # namespaces may be forbidden (e.g. inside an unprivileged container)
            res = self.run(Job(command=["/bin/true"], output_dir=out,
                               limits=Limits(wall_s=20, memory_mb=256)))
        finally:
            shutil.rmtree(out, ignore_errors=True)
        if res.status != "ok":
            return False, f"bwrap probe failed: {res.message} {res.stderr_tail[-300:]}".strip()
        return True, f"bubblewrap works ({mode} limits)"

    # ----------------------------------------------------------------- layout
    def _python_binds(self) -> list[tuple[str, str]]:
        """(host, sandbox) read-only binds for the Python environment (fixed per instance:
        worked out once, not on every run)."""
        if self._binds is None:
            self._binds = self._find_python_binds()
        return list(self._binds)

    def _find_python_binds(self) -> list[tuple[str, str]]:
        prefix = self.python_prefix
        cfg = prefix / "pyvenv.cfg"
        if cfg.exists():
            binds = [(str(prefix), VENV_IN_SANDBOX)]
            for line in cfg.read_text().splitlines():
                key, _, val = line.partition("=")
                if key.strip() == "home":
                    base = Path(val.strip()).parent
                    if not _under(base, "/usr"):
                        binds.append((str(base), str(base)))
            return binds
        return [] if _under(prefix, "/usr") else [(str(prefix), str(prefix))]

    def _bwrap_args(self, job: Job, etc_dir: Path, out_host: Path) -> list[str]:
        a = ["bwrap", "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID),
             "--gid", str(SANDBOX_UID), "--cap-drop", "ALL", "--die-with-parent",
             "--new-session", "--hostname", "sandbox", "--clearenv",
             "--ro-bind", "/usr", "/usr"]
        for name in TOP_LEVEL:
            p = Path("/") / name
            if p.is_symlink():
                a += ["--symlink", os.readlink(p), str(p)]
            elif p.is_dir():
                a += ["--ro-bind", str(p), str(p)]
        for name in ETC_FILES:
            if (Path("/etc") / name).exists():
                a += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        for name in ("passwd", "group", "hostname"):
            a += ["--ro-bind", str(etc_dir / name), f"/etc/{name}"]
        for host, inside in self._python_binds():
            a += ["--ro-bind", host, inside]
        tmp_bytes = str(max(16, min(job.limits.memory_mb // 2, 2048)) * 2**20)
        # /proc/sys read-only: if bwrap runs as host root, the sandbox's uid maps to kuid 0
        # and could otherwise write host-wide sysctls (vm.*, kernel.*).
        a += ["--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys", "--dev", "/dev",
              "--size", tmp_bytes, "--tmpfs", "/tmp",
              "--size", tmp_bytes, "--tmpfs", "/dev/shm"]
        gpu_env = {}
        if job.limits.gpu:
            binds, gpu_env = gpu_args(job.limits.gpu_ids)
            a += binds
        for m in job.mounts:
            a += ["--ro-bind" if m.read_only else "--bind", str(m.host), m.sandbox]
        a += ["--bind", str(out_host), job.output_mount]
        if not any(m.sandbox == job.workdir for m in job.mounts) and job.workdir != job.output_mount:
            a += ["--dir", job.workdir]
        a += ["--remount-ro", "/", "--disable-userns", "--chdir", job.workdir]
        env = sandbox_env(job) | gpu_env
        if (self.python_prefix / "pyvenv.cfg").exists():
            env["VIRTUAL_ENV"] = VENV_IN_SANDBOX
        else:
            env["PATH"] = f"{self.python_prefix}/bin:{env['PATH']}"
        for k, v in env.items():
            a += ["--setenv", k, v]
        return a + ["--", *job.command]

    # -------------------------------------------------------------------- run
    def run(self, job: Job) -> RunResult:
        clock = Stopwatch()
        try:
            return self._run(job)
        except Exception as e:  # failures are data
            return RunResult("error", None, "", "", clock.elapsed, job.output_dir,
                             f"bwrap backend failed: {type(e).__name__}: {e}")

    def _run(self, job: Job) -> RunResult:
        lim = job.limits
        if lim.gpu and not gpu_nodes():
            return RunResult("no-gpu-runtime", None, "", "", 0.0, job.output_dir,
                             "a GPU was asked for, but this machine has no NVIDIA device nodes (/dev/nvidia*)")
        mode = self._mode()
        if mode == "unusable":
            return RunResult("error", None, "", "", 0.0, job.output_dir, cgroups.usable()[1])
        if mode == "rlimit" and os.geteuid() == 0:
            blocked = [str(m.host) for m in job.mounts if not _world_readable_path(Path(m.host))]
            if blocked:
                return RunResult("error", None, "", "", 0.0, job.output_dir,
                                 "bwrap runs as an unprivileged uid here (no writable cgroups), "
                                 "so mounts must be world-readable (o+rx up the tree): "
                                 + ", ".join(blocked))
        job.output_dir.mkdir(parents=True, exist_ok=True)
        cap = lim.output_mb * 2**20
        host_uid: int | None = None
        if os.geteuid() == 0 and (mode == "rlimit" or self._reachable_unprivileged(job)):
            # A fresh host uid: RLIMIT_NPROC is per uid, and without it the sandbox's uid
            # maps to kuid 0 (no capabilities, but still the owner of root's files).
            host_uid = random.randint(200_000, 299_999)
        owner = host_uid if host_uid is not None else os.geteuid()
        with contextlib.ExitStack() as stack:
            etc_dir = Path(tempfile.mkdtemp(prefix="grader-etc-", dir=scratch_dir()))
            stack.callback(shutil.rmtree, etc_dir, ignore_errors=True)
            os.chmod(etc_dir, 0o755)
            _write_etc(etc_dir)
            if host_uid is not None:  # after the copy-out, hand files back to us
                stack.callback(_chown_tree, job.output_dir, os.geteuid(), os.getegid())
            out = stack.enter_context(capped_output(job.output_dir, cap, owner, owner))
            out_host = out.path
            if host_uid is not None:
                os.chown(out_host, host_uid, host_uid)
                stack.callback(_kill_uid, host_uid)  # runs before the copy-out
            cg = cgroups.CgroupSet(lim) if mode == "cgroup" else None
            if cg:
                stack.callback(cg.close)
            argv, env = self._launcher(job, self._bwrap_args(job, etc_dir, out_host), cg, host_uid)

            def kill(proc) -> None:
                if cg:
                    cg.kill_all()
                if host_uid is not None:
                    _kill_uid(host_uid)
                kill_group(proc)

            fin = run_watched(argv, env, lim.wall_s, out_host, cap, kill=kill, interact=job.interact)
            oom = cg.oom_killed() if cg else False
        return check_output_cap(job, _classify(fin, oom, job), out.hit_cap)


    def _reachable_unprivileged(self, job: Job) -> bool:
        """Whether a fresh unprivileged uid can reach the Python runtime and the mounts."""
        paths = [h for h, _ in self._python_binds()] + [str(m.host) for m in job.mounts]
        return all(_world_readable_path(Path(p)) for p in paths)

    @staticmethod
    def _launcher(job: Job, inner: list[str], cg: cgroups.CgroupSet | None,
                  host_uid: int | None) -> tuple[list[str], dict[str, str]]:
        """The host-side command that applies the limits and then execs bubblewrap."""
        lim = job.limits
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        rl = ["prlimit", f"--fsize={lim.output_mb * 2**20}", "--core=0", "--nofile=4096"]
        drop = ([] if host_uid is None else
                ["setpriv", f"--reuid={host_uid}", f"--regid={host_uid}", "--clear-groups",
                 "--no-new-privs", "--inh-caps=-all", "--"])
        if cg:  # join the cgroups first, so everything bwrap forks is inside them
            # The same rlimits as prlimit, set by shell builtins (POSIX: -f counts 512-byte
            # blocks; soft and hard both) rather than by one more exec.  "echo 0 > tasks"
            # (the shell moves itself; it has one thread), not "echo $$ > cgroup.procs":
            # the same move without a global lock that costs ~10 ms (see tasks_files).
            env["GRADER_CG_TASKS"] = " ".join(cg.tasks_files)
            script = (f"ulimit -f {lim.output_mb * 2048} && ulimit -c 0 && ulimit -n 4096 "
                      "|| { echo 'grader: cannot set the rlimits' >&2; exit 125; }; "
                      'for f in $GRADER_CG_TASKS; do echo 0 > "$f" || exit 125; done; exec "$@"')
            return ["/bin/sh", "-c", script, "sh", *drop, *inner], env
        if host_uid is not None:
            cpu_s = int(lim.wall_s * max(1.0, lim.cpus)) + 1
            return [*rl, f"--as={lim.memory_mb * 2**20}", f"--nproc={lim.pids}",
                    f"--cpu={cpu_s}", "--", *drop, *inner], env
        return [*rl, f"--as={lim.memory_mb * 2**20}", "--", *inner], env  # unprivileged


def _classify(fin, oom: bool, job: Job) -> RunResult:
    out, err = tail(fin.stdout), tail(fin.stderr)
    code = fin.exit_code
    sig = signal_name(code)
    if fin.outcome == "timeout":
        status, msg = "timeout", f"wall-clock limit of {job.limits.wall_s:g}s reached; process tree killed"
    elif fin.outcome == "over-cap":
        status, msg = "error", f"output folder exceeded the {job.limits.output_mb} MB cap; killed"
    elif oom or (code not in (0, None) and any(m in err[-4096:] for m in OOM_MARKERS)):
        status, msg = "oom", f"memory limit of {job.limits.memory_mb} MB exceeded"
    elif code == 0:
        status, msg = "ok", ""
    elif sig in ("SIGXCPU",):
        status, msg = "timeout", "CPU-time limit reached"
    elif sig in ("SIGXFSZ",):
        status, msg = "error", f"file size limit ({job.limits.output_mb} MB) exceeded"
    elif sig:
        status, msg = "killed", f"killed by {sig}"
    elif code == 125 and not out and "cgroup" in err:
        status, msg = "error", "could not join the sandbox cgroup"
    else:
        status, msg = "error", f"exited with code {code}"
    return RunResult(status, code if code is None or code >= 0 else 128 - code, out, err,
                     fin.duration_s, job.output_dir, msg)


def _write_etc(d: Path) -> None:
    (d / "passwd").write_text(f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
                              f"student:x:{SANDBOX_UID}:{SANDBOX_UID}:student:/tmp:/bin/sh\n"
                              "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    (d / "group").write_text(f"root:x:0:\nstudent:x:{SANDBOX_UID}:\nnogroup:x:65534:\n")
    (d / "hostname").write_text("sandbox\n")
    for f in d.iterdir():
        f.chmod(0o644)


def _under(p: Path, root: str) -> bool:
    return p.resolve().is_relative_to(root)


def _world_readable_path(p: Path) -> bool:
    """Every ancestor searchable by others and ``p`` itself readable by others."""
    p = p.resolve()
    for anc in [p, *p.parents]:
        try:
            mode = anc.stat().st_mode
        except OSError:
            return False
        if not mode & 0o001:
            return False
    return bool(p.stat().st_mode & 0o004)


def _kill_uid(uid: int) -> None:
    """SIGKILL every process owned by ``uid`` (the fresh per-run uid): the whole tree."""
    for _ in range(50):
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid == uid:
                    found = True
                    os.kill(int(entry.name), 9)
            except (OSError, ProcessLookupError):
                pass
        if not found:
            return


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    for dirpath, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            try:
                os.lchown(os.path.join(dirpath, name), uid, gid)
            except OSError:
                pass
    os.lchown(root, uid, gid)


GPU_SHARED_NODES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset")


def gpu_nodes() -> list[str]:
    """The NVIDIA device nodes of this machine, one per GPU (/dev/nvidia0 …)."""
    import glob
    import re

    return sorted((p for p in glob.glob("/dev/nvidia*") if re.fullmatch(r"/dev/nvidia\d+", p)),
                  key=lambda p: int(p[len("/dev/nvidia"):]))


def gpu_args(gpu_ids: list[str] | None) -> tuple[list[str], dict[str, str]]:
    """bwrap arguments and environment for a GPU job: the driver's device nodes bound in, and
    CUDA_VISIBLE_DEVICES narrowed to the GPUs the scheduler assigned (every one when none were).
    All per-GPU nodes are bound because CUDA numbers devices by enumerating them; the assignment is
    enforced through CUDA_VISIBLE_DEVICES, as Slurm and Ray do on shared nodes."""
    nodes = gpu_nodes()
    args = []
    for node in [n for n in GPU_SHARED_NODES if os.path.exists(n)] + nodes:
        args += ["--dev-bind", node, node]
    ids = list(gpu_ids) if gpu_ids else [n[len("/dev/nvidia"):] for n in nodes]
    return args, {"CUDA_VISIBLE_DEVICES": ",".join(ids), "NVIDIA_VISIBLE_DEVICES": ",".join(ids)}
