"""HW6 public format checks: run them next to your images.tgz before you submit.

    pytest tests/public                          # checks ./images.tgz
    GRADE_PRED=path/to/images.tgz pytest tests/public

The expected names and image size are read from sample_submission.tgz, looked up in this order:
$GRADE_SAMPLE, the folder of your archive, the current folder, and the homework folder (two levels above
this file).
"""

import io
import os
import tarfile
from pathlib import Path

import pytest
from PIL import Image

PRED = Path(os.environ.get("GRADE_PRED", "images.tgz"))
MAX_BYTES = 2_000_000  # the course's rule: *.tgz < 2 MB


def _sample_path():
    candidates = [os.environ.get("GRADE_SAMPLE"), PRED.parent / "sample_submission.tgz",
                  Path("sample_submission.tgz"), Path(__file__).resolve().parents[2] / "sample_submission.tgz"]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    pytest.fail("sample_submission.tgz not found: set GRADE_SAMPLE or put it next to your images.tgz")


def _members(path):
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: (m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}


@pytest.fixture(scope="module")
def archive():
    if not PRED.is_file():
        pytest.fail(f"{PRED} not found: write images.tgz first, or set GRADE_PRED")
    try:
        return _members(PRED)
    except (tarfile.TarError, OSError, EOFError) as e:
        pytest.fail(f"{PRED} is not a .tgz (tar + gzip) archive: {e}")


@pytest.fixture(scope="module")
def sample():
    members = _members(_sample_path())
    first = Image.open(io.BytesIO(next(iter(members.values()))[1]))
    return sorted(members), first.size, first.mode


def test_size_under_the_limit():
    assert PRED.stat().st_size < MAX_BYTES, f"{PRED} is {PRED.stat().st_size:,} bytes; the limit is {MAX_BYTES:,}"


def test_files_at_the_top_without_a_folder(archive):
    nested = [n for n in archive if "/" in n.lstrip("./")]
    assert not nested, (f"archive the images themselves, not the folder that holds them "
                        f"(tar -zcf ../images.tgz *.png inside output/); found {nested[:3]}")


def test_every_image_once(archive, sample):
    names = {n.lstrip("./") if n.startswith("./") else n for n, (m, _) in archive.items() if m.isfile()}
    missing, extra = sorted(set(sample[0]) - names), sorted(names - set(sample[0]))
    assert not missing and not extra, (f"expected exactly {len(sample[0])} images {sample[0][0]} … "
                                       f"{sample[0][-1]}: missing {missing[:5]}, unexpected {extra[:5]}")


def test_images_are_png_of_the_right_size(archive, sample):
    _, size, mode = sample
    bad = []
    for name, (m, data) in archive.items():
        if not m.isfile():
            continue
        try:
            img = Image.open(io.BytesIO(data), formats=["PNG"])
            ok = img.size == size and img.mode == mode
        except Exception:
            ok = False
        if not ok:
            bad.append(name)
    assert not bad, f"every image must be a {size[0]}x{size[1]} {mode} PNG; these are not: {sorted(bad)[:5]}"
