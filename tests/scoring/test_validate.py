import numpy as np
import pytest

from grader.scoring.validate import Invalid, validate, validate_csv
from grader.spec import SubmissionSpec

SUB = SubmissionSpec(filename="pred.csv", id_column="id", columns={"id": "int", "tested_positive": "float"},
                     max_bytes=10_000)
IDS = np.arange(5)


def good(n=5) -> str:
    return "id,tested_positive\n" + "".join(f"{i},{i + 0.5}\n" for i in range(n))


def problems(text, sub=SUB, ids=IDS) -> list[str]:
    data = text if isinstance(text, bytes) else text.encode()
    with pytest.raises(Invalid) as e:
        validate_csv(data, "pred.csv", sub, ids)
    return e.value.problems


def test_valid_file_passes_in_any_order_with_crlf_and_bom():
    c = validate_csv(good().encode(), "pred.csv", SUB, IDS)
    assert c.ids.tolist() == [0, 1, 2, 3, 4] and c.values[4] == 4.5
    lines = good().splitlines()
    shuffled = "\r\n".join([lines[0], *reversed(lines[1:])]) + "\r\n"
    assert validate_csv(b"\xef\xbb\xbf" + shuffled.encode(), "pred.csv", SUB, IDS).ids.tolist() == [4, 3, 2, 1, 0]


def test_empty_and_header_only():
    assert problems("") == ["the file is empty"]
    assert problems("id,tested_positive\n") == ["the file has a header but no rows"]


def test_wrong_header_quotes_both():
    (p,) = problems("Id,TestedPositive\n0,1\n")
    assert p == "line 1: header is 'Id,TestedPositive', expected 'id,tested_positive'"


def test_not_utf8_names_the_line():
    (p,) = problems(b"id,tested_positive\n0,1\n1,\xff\n")
    assert p.startswith("line 3: not UTF-8")


def test_size_limit():
    (p,) = problems("x" * 10_001)
    assert "over the size limit of 10,000 bytes" in p


def test_non_numeric_and_empty_values_have_line_numbers():
    ps = problems("id,tested_positive\n0,1\n1,abc\n2,\n3,4\nfour,5\n")
    assert "line 3: 'abc' in column tested_positive is not a number" in ps
    assert "line 4: an empty value in column tested_positive is not a number" in ps
    assert "line 6: 'four' in column id is not an integer" in ps


def test_wrong_field_count():
    ps = problems("id,tested_positive\n0,1\n1,2,3\n")
    assert ps == ["line 3: 3 fields, expected 2 (id,tested_positive)"]


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "NaN"])
def test_nan_and_inf_with_line_numbers(bad):
    text = good().replace("2,2.5", f"2,{bad}")
    (p,) = problems(text)
    assert "NaN or infinite" in p and "line 4" in p


def test_missing_extra_duplicate_ids_with_examples():
    text = "id,tested_positive\n0,1\n1,1\n1,1\n3,1\n99,1\n"
    ps = problems(text)
    assert "1 duplicate id(s): 1" in ps
    assert "2 expected id(s) are missing: 2, 4" in ps
    assert "1 unknown id(s): 99 (line 6)" in ps
    assert all("rows, expected" not in p for p in ps)  # 5 rows is the right count here


def test_wrong_row_count():
    ps = problems(good(3))
    assert "3 rows, expected 5 (one per test id)" in ps
    assert "2 expected id(s) are missing: 3, 4" in ps


def test_examples_are_capped():
    ids = np.arange(100)
    ps = problems("id,tested_positive\n0,1\n", ids=ids)
    missing = next(p for p in ps if "missing" in p)
    assert missing.endswith("… and 94 more")


def test_string_ids_keep_leading_zeros():
    sub = SubmissionSpec(filename="pred.csv", id_column="Id", columns={"Id": "str", "Category": "int"})
    ids = np.array(["0001", "0002"], dtype=object)
    c = validate_csv(b"Id,Category\n0001,3\n0002,4\n", "pred.csv", sub, ids)
    assert c.ids.tolist() == ["0001", "0002"]
    assert "1 unknown id(s): '1' (line 2)" in problems(b"Id,Category\n1,3\n0002,4\n", sub, ids)


# ---- one prediction per line (HW5's translations) ------------------------------------------------

LINES = SubmissionSpec(kind="lines", filename="prediction.txt", id_column="line",
                       columns={"line": "int", "translation": "str"}, max_bytes=10_000)


def line_problems(text, ids=IDS) -> list[str]:
    data = text if isinstance(text, bytes) else text.encode()
    with pytest.raises(Invalid) as e:
        validate(data, "prediction.txt", LINES, ids)
    return e.value.problems


def test_lines_one_per_test_item_final_newline_optional():
    text = "".join(f"譯文 {i}, 有逗號\n" for i in range(5))
    for data in (text, text.rstrip("\n"), text.replace("\n", "\r\n"), "\ufeff" + text):
        c = validate(data.encode(), "prediction.txt", LINES, IDS)
        assert c.ids.tolist() == [0, 1, 2, 3, 4] and c.values[1] == "譯文 1, 有逗號"


def test_lines_count_empty_lines_and_encoding_are_named():
    assert line_problems("a\nb\nc\n") == ["3 lines, expected 5 (one line per test sentence, in the order of the test file)"]
    assert line_problems("a\n\nc\n  \ne\n") == ["2 empty line(s): line 2, line 4"]
    assert line_problems(b"a\nb\n\xff\nd\ne\n") == ["line 3: not UTF-8 (byte 0xff at offset 4)"]
    assert line_problems("") == ["the file is empty"]
    allowed = LINES.model_copy(update={"allow_empty": True})
    assert validate(b"a\n\nc\n\ne\n", "p.txt", allowed, IDS).values.tolist() == ["a", "", "c", "", "e"]


def test_a_lines_spec_needs_int_ids_and_text_values():
    with pytest.raises(ValueError, match="lines submission"):
        SubmissionSpec(kind="lines", filename="p.txt", id_column="line", columns={"line": "int", "v": "float"})
