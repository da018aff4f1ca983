import numpy as np
import pytest
import sacrebleu
from sklearn import metrics as skm

from grader.scoring.metrics import METRICS, get


def test_registry_wraps_libraries():
    t, p = np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.0])
    assert get("mse")(t, p) == pytest.approx(skm.mean_squared_error(t, p))
    assert get("mae")(t, p) == pytest.approx(skm.mean_absolute_error(t, p))
    assert get("accuracy")(np.array([1, 2, 3]), np.array([1, 2, 0])) == pytest.approx(2 / 3)
    assert get("auc")(np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.8, 0.3])) == 1.0


def test_bleu_uses_sacrebleu_zh():
    refs = ["今天天氣很好", "我們去公園散步"]
    hyps = ["今天天氣很好", "我們去散步"]
    expected = sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh").score
    assert get("bleu")(np.array(refs, dtype=object), np.array(hyps, dtype=object)) == pytest.approx(expected)


def test_directions_and_reaching():
    assert METRICS["mse"].direction == "lower" and METRICS["accuracy"].direction == "higher"
    assert get("mse").reaches(1.0, 1.0) and not get("mse").reaches(1.01, 1.0)
    assert get("accuracy").reaches(0.8, 0.8) and not get("accuracy").reaches(0.79, 0.8)
    assert get("mse").better(0.5, 0.6) and not get("accuracy").better(0.5, 0.6)


def test_every_metric_can_load_its_library_ahead_of_use():
    from grader.scoring.metrics import METRICS

    for m in METRICS.values():
        m.warm()
