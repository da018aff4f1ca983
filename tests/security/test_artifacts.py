"""Host-side loading of sandbox output: unsafe files are refused, not parsed."""

from __future__ import annotations

import json
import os
import pickle
import struct
import zlib

import numpy as np
import pytest
import torch

from grader.sandbox.artifacts import (UnsafeArtifact, collect, load_json, load_npy,
                                      load_state_dict, open_png, read_bytes)


class Boom:
    def __reduce__(self):
        return (os.system, ("touch /tmp/grader-pwned",))


def test_plain_artifacts_load(tmp_path):
    np.save(tmp_path / "pred.npy", np.arange(5))
    (tmp_path / "m.json").write_text(json.dumps({"acc": 1}))
    torch.save({"w": torch.ones(2)}, tmp_path / "model.pt")
    from PIL import Image
    Image.new("RGB", (8, 8)).save(tmp_path / "img.png")
    assert [a.relpath for a in collect(tmp_path)] == ["img.png", "m.json", "model.pt", "pred.npy"]
    assert load_npy(tmp_path / "pred.npy").tolist() == [0, 1, 2, 3, 4]
    assert load_json(tmp_path / "m.json") == {"acc": 1}
    assert torch.equal(load_state_dict(tmp_path / "model.pt")["w"], torch.ones(2))
    assert open_png(tmp_path / "img.png").size == (8, 8)


def test_pickle_npy_refused(tmp_path):
    np.save(tmp_path / "evil.npy", np.array([Boom()], dtype=object), allow_pickle=True)
    with pytest.raises(UnsafeArtifact, match="plain numeric"):
        load_npy(tmp_path / "evil.npy")
    assert not os.path.exists("/tmp/grader-pwned")


def test_pickle_checkpoint_refused(tmp_path):
    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"w": Boom()}))
    torch.save({"w": Boom()}, tmp_path / "evil2.pt")
    for name in ("evil.pt", "evil2.pt"):
        with pytest.raises(UnsafeArtifact):
            load_state_dict(tmp_path / name)
    assert not os.path.exists("/tmp/grader-pwned")


def test_symlink_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("answers")
    out = tmp_path / "out"
    out.mkdir()
    (out / "pred.json").symlink_to(secret)
    with pytest.raises(UnsafeArtifact, match="symlink"):
        collect(out)
    with pytest.raises(UnsafeArtifact):
        load_json(out / "pred.json")


def test_hardlink_and_fifo_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "host.txt").write_text("x")
    os.link(tmp_path / "host.txt", out / "hard.txt")
    with pytest.raises(UnsafeArtifact, match="hard link"):
        collect(out)
    os.unlink(out / "hard.txt")
    os.mkfifo(out / "pipe")
    with pytest.raises(UnsafeArtifact, match="regular"):
        collect(out)
    with pytest.raises(UnsafeArtifact):
        read_bytes(out / "pipe")  # O_NONBLOCK: must not hang


def test_oversized_refused(tmp_path):
    (tmp_path / "big.npy").write_bytes(b"\0" * 2048)
    with pytest.raises(UnsafeArtifact, match="cap"):
        load_npy(tmp_path / "big.npy", max_bytes=1024)
    for i in range(5):
        (tmp_path / f"f{i}").write_bytes(b"x" * 100)
    with pytest.raises(UnsafeArtifact, match="files"):
        collect(tmp_path, max_files=3)
    with pytest.raises(UnsafeArtifact, match="larger"):
        collect(tmp_path, max_total=300)


def test_png_bomb_refused_before_decoding(tmp_path):
    # A valid PNG header declaring 100000 x 100000 pixels; the pixel data is never decoded.
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) \
        + chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(png)
    with pytest.raises(UnsafeArtifact, match="pixels|bomb"):
        open_png(tmp_path / "bomb.png")


def test_json_nesting_bomb_refused(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(UnsafeArtifact):
        load_json(tmp_path / "deep.json")
