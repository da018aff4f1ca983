"""Archive submissions (HW6's faces, HW10's attacked images): unpacked in memory, every unsafe or
malformed member named, images decoded with their size checked first."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest

from grader.scoring.archive import validate_archive, write_archive
from grader.scoring.validate import Invalid
from grader.spec import SubmissionSpec

SUB = SubmissionSpec(kind="archive", filename="images.tgz", id_column="file", columns={"file": "str", "slot": "int"},
                     max_bytes=200_000, archive={"image": {"width": 8, "height": 8, "mode": "RGB"}, "max_members": 10})
IDS = np.array([f"{k}.png" for k in range(1, 5)], dtype=object)


def images(n=4, names=None, shape=(8, 8, 3)):
    rng = np.random.default_rng(0)
    names = names or [f"{k}.png" for k in range(1, n + 1)]
    return {name: rng.integers(0, 256, size=shape).astype(np.uint8) for name in names}


def problems(data, ids=IDS, sub=SUB) -> list[str]:
    with pytest.raises(Invalid) as e:
        validate_archive(data, "images.tgz", sub, ids)
    return e.value.problems


def tar_with(add) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        add(tar)
    return out.getvalue()


def member(tar, name, data=b"x", **kw):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for k, v in kw.items():
        setattr(info, k, v)
    tar.addfile(info, io.BytesIO(data))


def test_a_valid_archive_gives_the_images_in_id_order():
    imgs = images()
    c = validate_archive(write_archive(dict(reversed(imgs.items()))), "images.tgz", SUB, IDS)
    assert c.ids.tolist() == IDS.tolist() and c.values.shape == (4, 8, 8, 3) and c.values.dtype == np.uint8
    np.testing.assert_array_equal(c.values[2], imgs["3.png"])
    # a ./ prefix and folder entries are harmless (tar czf x.tgz -C dir .)
    def add(tar):
        info = tarfile.TarInfo("./")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        for name, img in imgs.items():
            png = write_archive({name: img})
            with tarfile.open(fileobj=io.BytesIO(png)) as t:
                m = t.getmembers()[0]
                member(tar, "./" + name, t.extractfile(m).read())
    assert validate_archive(tar_with(add), "images.tgz", SUB, IDS).values.shape == (4, 8, 8, 3)


def test_missing_extra_and_misnamed_members_are_listed():
    assert problems(write_archive(images(3))) == ["1 expected image(s) are missing: 4.png"]
    extra = images(4) | images(names=["notes.png"])
    assert problems(write_archive(extra)) == ["1 unexpected file(s): notes.png"]
    wrapped = {f"out/{k}": v for k, v in images().items()}
    p = problems(write_archive(wrapped))
    assert "archive the files, not the folder that holds them" in p[-1]


def test_wrong_size_mode_and_undecodable_images_are_named():
    imgs = images()
    imgs["2.png"] = np.zeros((9, 8, 3), dtype=np.uint8)
    imgs["3.png"] = np.zeros((8, 8), dtype=np.uint8)
    (p,) = problems(write_archive(imgs))
    assert "2.png is 8x9 RGB, expected 8x8 RGB" in p and "3.png is 8x8 L" in p

    def add(tar):
        for name, img in images().items():
            member(tar, name, b"not a png" if name == "4.png" else _png(img))
    (p,) = problems(tar_with(add))
    assert "4.png: not a readable PNG" in p


def _png(img) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def test_links_escapes_and_bombs_are_refused_before_reading():
    assert problems(tar_with(lambda t: member(t, "../1.png"))) == ["entry '../1.png' points outside the archive"]
    assert problems(tar_with(lambda t: member(t, "/etc/1.png"))) == ["entry '/etc/1.png' points outside the archive"]

    def link(tar):
        info = tarfile.TarInfo("1.png")
        info.type, info.linkname = tarfile.SYMTYPE, "/work/course/data/hw06/hidden/answers.csv"
        tar.addfile(info)
    assert problems(tar_with(link)) == ["entry '1.png' is a link"]
    many = tar_with(lambda t: [member(t, f"{k}.png") for k in range(12)])
    assert problems(many) == ["more than 10 files"]
    small = SUB.model_copy(update={"archive": SUB.archive.model_copy(update={"max_unpacked_bytes": 1000})})
    assert problems(tar_with(lambda t: member(t, "1.png", b"\0" * 5000)), sub=small) == ["unpacks to more than 1,000 bytes"]
    from PIL import Image
    big = io.BytesIO()
    Image.new("RGB", (4000, 4000)).save(big, format="PNG")  # compresses to a few kB
    imgs = {k: _png(v) for k, v in images().items()} | {"1.png": big.getvalue()}
    (p,) = problems(tar_with(lambda t: [member(t, n, d) for n, d in imgs.items()]))
    assert "1.png: decompression bomb" in p  # refused on its declared size, before decoding
    assert problems(b"\x1f\x8b garbage")[0].startswith("not a .tgz")
    assert problems(b"")[0] == "the file is empty"
