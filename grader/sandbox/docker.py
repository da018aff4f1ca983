"""Docker backend: the strongest isolation we have, and the only one with GPUs.

Each job gets a fresh container from the course image: no network, read-only
root, a size-capped tmpfs /tmp, memory = memory+swap cap, pids cap, CPU quota,
uid 65534, no capabilities, no-new-privileges, capped logs.  Only the output
folder is writable.  The container is removed whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

from .base import Job, RunResult, Stopwatch, check_output_cap, sandbox_env, tail
from .outdir import capped_output
from .proc import watch

DEFAULT_IMAGE = os.environ.get("GRADER_SANDBOX_IMAGE", "grader-sandbox:cpu")
SANDBOX_USER = 65534
GPU_ERROR_HINTS = ("could not select device driver", "nvidia", "gpu", "device_requests",
                   "unknown runtime")


class DockerSandbox:
    name = "docker"

    def __init__(self, image: str = DEFAULT_IMAGE, base_url: str | None = None) -> None:
        self.image = image
        self.base_url = base_url
        self._client: Any = None

    def client(self):
        if self._client is None:
            import docker  # the SDK is optional for bwrap/local users
            self._client = (docker.DockerClient(base_url=self.base_url, timeout=120)
                            if self.base_url else docker.from_env(timeout=120))
        return self._client

    def available(self) -> tuple[bool, str]:
        try:
            import docker  # noqa: F401  (only checking it is installed)
        except ImportError:
            return False, "python package 'docker' not installed"
        try:
            self.client().ping()
        except Exception as e:
            return False, f"no Docker engine reachable ({type(e).__name__}); start dockerd"
        try:
            self.client().images.get(self.image)
        except Exception:
            return False, f"image {self.image} missing; run sandbox/build_cpu_image.sh"
        return True, f"docker engine up, image {self.image} present"

    def gpu_runtime(self) -> tuple[bool, str]:
        """Whether the engine advertises an NVIDIA runtime (a GPU job may still fail at start)."""
        try:
            info = self.client().info()
        except Exception as e:
            return False, f"docker unreachable: {type(e).__name__}"
        runtimes = info.get("Runtimes") or {}
        if "nvidia" in runtimes:
            return True, "nvidia runtime registered"
        return False, f"no nvidia runtime (runtimes: {', '.join(runtimes) or 'none'})"

    # -------------------------------------------------------------------- run
    def run(self, job: Job) -> RunResult:
        clock = Stopwatch()
        try:
            with contextlib.ExitStack() as stack:
                job.output_dir.mkdir(parents=True, exist_ok=True)
                stack.callback(_give_back, job.output_dir)
                out = stack.enter_context(capped_output(
                    job.output_dir, job.limits.output_mb * 2**20, SANDBOX_USER, SANDBOX_USER))
                out_host = out.path
                container = self._create(job, out_host)
                stack.callback(_remove, container)  # runs first: before the copy-out
                result = self._run(job, container, out_host, clock)
            return check_output_cap(job, result, out.hit_cap)  # after the copy-out
        except Exception as e:  # failures are data
            return self._failure(job, e, clock)

    def _create(self, job: Job, out_host: Path):
        import docker
        lim = job.limits
        if os.geteuid() == 0:
            os.chown(out_host, SANDBOX_USER, SANDBOX_USER)
        else:
            os.chmod(out_host, 0o777)
        mounts = [docker.types.Mount(m.sandbox, str(Path(m.host).resolve()), type="bind",
                                     read_only=m.read_only) for m in job.mounts]
        mounts.append(docker.types.Mount(job.output_mount, str(out_host.resolve()),
                                         type="bind", read_only=False))
        tmp_mb = max(64, min(lim.memory_mb, 2048))
        cap = lim.output_mb * 2**20
        kwargs: dict[str, Any] = dict(
            image=self.image, command=job.command, user=f"{SANDBOX_USER}:{SANDBOX_USER}",
            working_dir=job.workdir, environment=sandbox_env(job), hostname="sandbox",
            network_mode="none", read_only=True,
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={tmp_mb}m,mode=1777"},
            shm_size=f"{tmp_mb}m", mounts=mounts,
            mem_limit=f"{lim.memory_mb}m", memswap_limit=f"{lim.memory_mb}m",
            pids_limit=lim.pids, nano_cpus=int(lim.cpus * 1e9),
            cap_drop=["ALL"], security_opt=["no-new-privileges"],
            ulimits=[docker.types.Ulimit(name="fsize", soft=cap, hard=cap),
                     docker.types.Ulimit(name="core", soft=0, hard=0)],
            log_config=docker.types.LogConfig(
                type="json-file", config={"max-size": "1m", "max-file": "2"}),
            labels={"grader.sandbox": "job"}, detach=True, stdin_open=job.interact is not None, tty=False,
        )
        if lim.gpu:
            req = (docker.types.DeviceRequest(device_ids=list(lim.gpu_ids), capabilities=[["gpu"]])
                   if lim.gpu_ids else docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]]))
            kwargs["device_requests"] = [req]
        return self.client().containers.create(**kwargs)

    def _run(self, job: Job, container, out_host: Path, clock: Stopwatch) -> RunResult:
        lim = job.limits
        talk = None
        if job.interact is not None:  # attach before start, so no early output is missed
            sock = container.attach_socket(params={"stdin": 1, "stdout": 1, "stream": 1})
            talk = threading.Thread(target=_converse, args=(job.interact, sock), daemon=True)
        container.start()
        if talk:
            talk.start()
        done = threading.Event()
        talked_out = False
        waited: dict[str, Any] = {}

        def wait() -> None:
            try:
                waited.update(container.wait(timeout=lim.wall_s + 60))
            except Exception as e:
                waited["error"] = e
            done.set()

        threading.Thread(target=wait, daemon=True).start()

        def finished(timeout: float) -> bool:
            # Docker keeps a container's stdin open after the attached client hangs up (the SDK cannot
            # set StdinOnce), so a program reading to EOF would wait forever: once the conversation is
            # over, the program gets a moment to finish and is then stopped, as if its stdin had closed.
            nonlocal talked_out
            if done.wait(timeout):
                return True
            if talk is not None and not talk.is_alive():
                if not done.wait(2.0):
                    talked_out = True
                    try:
                        container.kill()
                    except Exception:
                        pass
                    done.wait(30)
                return True
            return False

        outcome = watch(finished, lim.wall_s, out_host, lim.output_mb * 2**20)
        if outcome != "done":
            try:
                container.kill()
            except Exception:
                pass
            done.wait(30)
        duration = clock.elapsed
        container.reload()
        state = container.attrs.get("State", {})
        code = state.get("ExitCode")
        out = tail(container.logs(stdout=True, stderr=False))
        err = tail(container.logs(stdout=False, stderr=True))
        if outcome == "timeout":
            status, msg = "timeout", f"wall-clock limit of {lim.wall_s:g}s reached; container killed"
        elif outcome == "over-cap":
            status, msg = "error", f"output folder exceeded the {lim.output_mb} MB cap; killed"
        elif talked_out and not state.get("OOMKilled"):
            status, msg = "ok", "stopped when the conversation ended"
        elif state.get("OOMKilled") or (code == 137 and "MemoryError" not in err):
            status, msg = "oom", f"memory limit of {lim.memory_mb} MB exceeded"
        elif code != 0 and "MemoryError" in err[-4096:]:
            status, msg = "oom", f"memory limit of {lim.memory_mb} MB exceeded (MemoryError)"
        elif code == 0:
            status, msg = "ok", ""
        elif code == 153:  # 128 + SIGXFSZ
            status, msg = "error", f"file size limit ({lim.output_mb} MB) exceeded"
        elif code is not None and code > 128:
            status, msg = "killed", f"killed by signal {code - 128}"
        else:
            status, msg = "error", f"exited with code {code}"
        return RunResult(status, code, out, err, duration, job.output_dir, msg)

    def _failure(self, job: Job, e: Exception, clock: Stopwatch) -> RunResult:
        text = str(e)
        if job.limits.gpu and any(h in text.lower() for h in GPU_ERROR_HINTS):
            return RunResult("no-gpu-runtime", None, "", "", clock.elapsed, job.output_dir,
                             f"GPU requested but the Docker engine has no GPU runtime: {text[:300]}")
        if "No such image" in text or type(e).__name__ == "ImageNotFound":
            text = f"image {self.image} missing; run sandbox/build_cpu_image.sh ({text[:200]})"
        return RunResult("error", None, "", "", clock.elapsed, job.output_dir,
                         f"docker backend failed: {type(e).__name__}: {text[:500]}")


def _remove(container) -> None:
    try:
        container.remove(force=True, v=True)
    except Exception:
        pass


def _give_back(output_dir: Path) -> None:
    """Return the output folder to the grader's uid (files stay unfollowed: lchown)."""
    if os.geteuid() != 0 or not output_dir.exists():
        return
    for dirpath, dirs, files in os.walk(output_dir, followlinks=False):
        for name in dirs + files:
            try:
                os.lchown(os.path.join(dirpath, name), 0, 0)
            except OSError:
                pass
    os.lchown(output_dir, 0, 0)


class _Frames:
    """A docker attach stream (tty off) read as plain stdout bytes: each frame is an 8-byte header
    (stream type, 3 zero bytes, big-endian length) then the payload; only stdout frames are kept."""

    def __init__(self, raw) -> None:
        self.raw, self.buf, self.eof = raw, b"", False

    def _fill(self) -> None:
        header = self._exact(8)
        if header is None:
            self.eof = True
            return
        body = self._exact(int.from_bytes(header[4:8], "big")) or b""
        if header[0] == 1:
            self.buf += body

    def _exact(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            chunk = self.raw.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def readline(self, limit: int = -1) -> bytes:
        while b"\n" not in self.buf and not self.eof and (limit < 0 or len(self.buf) < limit):
            self._fill()
        end = self.buf.find(b"\n") + 1 or len(self.buf)
        if limit >= 0:
            end = min(end, limit)
        line, self.buf = self.buf[:end], self.buf[end:]
        return line

    def read(self, n: int = -1) -> bytes:
        while not self.eof and (n < 0 or len(self.buf) < n):
            self._fill()
        n = len(self.buf) if n < 0 else n
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


class _Writer:
    def __init__(self, raw) -> None:
        self.raw = raw

    def write(self, data: bytes) -> int:
        self.raw.sendall(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        import socket

        try:
            self.raw.shutdown(socket.SHUT_WR)  # end of stdin: the program's cue to finish
        except OSError:
            pass


def _converse(interact, sock) -> None:
    raw = getattr(sock, "_sock", sock)
    writer = _Writer(raw)
    try:
        interact(writer, _Frames(raw))
    except (BrokenPipeError, OSError, ValueError):
        pass
    finally:
        writer.close()
