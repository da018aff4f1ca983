import os


def test_rows():
    with open(os.environ.get("GRADE_PRED", "pred.csv")) as f:
        assert sum(1 for _ in f) == 1001
