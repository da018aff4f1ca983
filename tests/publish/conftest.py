"""A small season on the toy homework, published as a site: the deadline has passed, so both boards,
the shake-up and the student pages are there."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from grader import api
from grader.course import Course

from ..conftest import AFTER, BEFORE, at, pred_path


def _variant(course, level: str, k: int, noise: float) -> bytes:
    arr = np.loadtxt(pred_path(course, level), delimiter=",", skiprows=1)
    arr[:, 1] += np.random.default_rng(k).normal(0, noise, len(arr))
    return ("id,y\n" + "".join(f"{int(i)},{v:.6f}\n" for i, v in arr)).encode()


@pytest.fixture
def season(calibrated, tmp_path):
    cfg = yaml.safe_load(calibrated.config_path.read_text())
    cfg["site"] = {"language": "zh-TW", "student_pages": True}
    calibrated.config_path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    course = Course(calibrated.root)
    levels = ["simple", "medium", "strong", "boss"]
    for k in range(12):
        sid = f"b{k:02d}"
        api.add_student(course, sid, name=f"學生 {k}", alias=f"{sid}_alias")
        for j in range(3):
            api.submit(course, "hw99", None, sid, now=at(course, BEFORE), filename="pred.csv",
                       data=_variant(course, levels[k % 4], 100 * k + j, 0.05 + 0.1 * j))
    site = tmp_path / "site"
    files = api.publish(course, site, now=at(course, AFTER))
    return course, site, files
