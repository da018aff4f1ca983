"""Backend registry: names to constructors, so config files and the CLI can say
``sandbox: bwrap`` without importing backend modules (the docker SDK is only
imported when the docker backend is used)."""

from __future__ import annotations

from collections.abc import Callable

from .base import Sandbox


def _docker() -> Sandbox:
    from .docker import DockerSandbox
    return DockerSandbox()


def _bwrap() -> Sandbox:
    from .bwrap import BwrapSandbox
    return BwrapSandbox()


def _local() -> Sandbox:
    from .local import LocalSandbox
    return LocalSandbox()


#: In order of preference for grading hidden material.
BACKENDS: dict[str, Callable[[], Sandbox]] = {"docker": _docker, "bwrap": _bwrap, "local": _local}


def get_backend(name: str) -> Sandbox:
    try:
        return BACKENDS[name]()
    except KeyError:
        raise ValueError(f"unknown sandbox backend {name!r}; choose one of {', '.join(BACKENDS)}") from None


def available_backends() -> list[str]:
    """Names of backends that work on this machine, most isolated first."""
    names = []
    for name in BACKENDS:
        try:
            ok, _ = get_backend(name).available()
        except Exception:  # a broken backend is just unavailable
            ok = False
        if ok:
            names.append(name)
    return names
