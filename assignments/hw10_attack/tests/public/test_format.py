"""HW10 public checks: run them on your archive before you submit.

    pytest tests/public                          # checks ./submission.tgz
    GRADE_PRED=path/to/fgsm.tgz pytest tests/public

The benign images are looked up in $GRADE_DATA, else in data/ of the homework folder (two levels
above this file). The same rules are enforced when you submit: the 200 images of data/ under the
same names (`airplane/airplane1.png` ... at the top of the archive, as `cd fgsm && tar zcvf ../fgsm.tgz *`
makes them), 32x32 RGB PNGs, the file under 2 MB, and every pixel within epsilon = 8 (0-255 scale)
of the benign image.
"""

import io
import os
import posixpath
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

PRED = Path(os.environ.get("GRADE_PRED", "submission.tgz"))
DATA = Path(os.environ.get("GRADE_DATA", Path(__file__).resolve().parents[2] / "data"))
EPSILON = 8
MAX_BYTES = 2_000_000


def _name(raw: str) -> str:
    name = raw.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return posixpath.normpath(name)


@pytest.fixture(scope="module")
def members() -> dict:
    if not PRED.is_file():
        pytest.fail(f"{PRED} not found: write your archive first, or set GRADE_PRED")
    try:
        with tarfile.open(PRED, "r:gz") as tar:
            return {_name(m.name): tar.extractfile(m).read() for m in tar if m.isfile()}
    except (tarfile.TarError, OSError, EOFError) as e:
        pytest.fail(f"{PRED} is not a .tgz (tar + gzip) archive: {e}")


@pytest.fixture(scope="module")
def benign() -> dict:
    if not DATA.is_dir():
        pytest.fail(f"the benign images were not found at {DATA}: set GRADE_DATA to the data/ folder")
    return {p.relative_to(DATA).as_posix(): p for p in sorted(DATA.glob("*/*.png"))}


def test_file_is_under_2_mb():
    assert PRED.stat().st_size < MAX_BYTES, f"{PRED} is {PRED.stat().st_size:,} bytes; JudgeBoi takes < 2 MB"


def test_members_are_the_benign_names(members, benign):
    missing, extra = sorted(set(benign) - set(members)), sorted(set(members) - set(benign))
    hint = ""
    if extra and all(n.count("/") >= 2 for n in extra):
        hint = " (archive the class folders, not the folder that holds them: cd fgsm && tar zcvf ../fgsm.tgz *)"
    assert not missing and not extra, f"missing {missing[:5]}, unexpected {extra[:5]}{hint}"


def test_images_are_32x32_rgb_png(members):
    bad = []
    for name, raw in members.items():
        try:
            with Image.open(io.BytesIO(raw), formats=["PNG"]) as im:
                if im.size != (32, 32) or im.mode != "RGB":
                    bad.append(f"{name} is {im.size[0]}x{im.size[1]} {im.mode}")
        except Exception as e:  # noqa: BLE001 - any unreadable file is the student's to fix
            bad.append(f"{name}: not a PNG ({e})")
    assert not bad, "; ".join(bad[:5])


def test_every_pixel_is_within_epsilon(members, benign):
    over = []
    for name, path in benign.items():
        if name not in members:
            continue
        with Image.open(io.BytesIO(members[name])) as im:
            adv = np.asarray(im.convert("RGB"), dtype=np.int16)
        with Image.open(path) as im:
            ref = np.asarray(im.convert("RGB"), dtype=np.int16)
        if adv.shape != ref.shape:
            continue
        diff = np.abs(adv - ref)
        if diff.max() > EPSILON:
            r, c, ch = np.unravel_index(diff.argmax(), diff.shape)
            over.append(f"{name} pixel (row {r}, column {c}, {'RGB'[ch]}) differs by {diff[r, c, ch]}")
    assert not over, f"{len(over)} image(s) go beyond epsilon = {EPSILON}: " + "; ".join(over[:5])
