"""The course image is rebuilt only when its recipe or package list changes."""

from __future__ import annotations

import time

import pytest
from _backends import availability

from grader.sandbox.image import DEFAULT_TAG, build_image, image_label, input_hash


@pytest.mark.docker
def test_cached_image_is_not_rebuilt():
    ok, why = availability("docker")
    if not ok:
        pytest.skip(f"docker backend unavailable here: {why}")
    assert image_label(DEFAULT_TAG) == input_hash(), "image is stale: run sandbox/build_cpu_image.sh"
    t = time.monotonic()
    assert build_image() == (DEFAULT_TAG, False)
    assert time.monotonic() - t < 10


def test_input_hash_is_stable():
    assert input_hash() == input_hash() and len(input_hash()) == 32
