from pathlib import Path

import pytest
import yaml

from grader import catalog
from grader.errors import ConfigError, NotFound
from grader.spec import LEVELS, load_spec

from .conftest import REPO, TOY_ROOT


def test_hw01_spec_loads_and_is_typed():
    spec = load_spec(REPO / "assignments" / "hw01_regression")
    assert spec.short == "hw01" and spec.metric.name == "mse" and not spec.higher_is_better
    assert list(spec.baselines) == list(LEVELS)
    assert spec.submission.columns == {"id": "int", "tested_positive": "float"}
    assert spec.points.per_level_per_board == 1.0  # HW1: 1 point per level per board
    assert set(spec.data.sources["real"].editions) == {"2021", "2022", "2023"}
    assert spec.data.sources["real"].editions["2021"].layout["states"] == 40


@pytest.mark.parametrize("name", ["hw1", "hw01", "hw01_regression", "HW1", "1"])
def test_names_resolve_to_one_assignment(name):
    assert catalog.resolve(name).id == "hw01_regression"


def test_unknown_assignment_lists_known():
    with pytest.raises(NotFound, match="hw01_regression"):
        catalog.resolve("hw77")


def _broken(tmp_path, mutate) -> Path:
    raw = yaml.safe_load((TOY_ROOT / "hw99_toy" / "assignment.yaml").read_text())
    mutate(raw)
    folder = tmp_path / "hw99_toy"
    folder.mkdir()
    (folder / "assignment.yaml").write_text(yaml.safe_dump(raw))
    return folder


@pytest.mark.parametrize("mutate, key, words", [
    (lambda r: r.update(colour="red"), "colour", "unknown key"),
    (lambda r: r["metric"].update(name="msee"), "metric.name", "unknown metric 'msee'"),
    (lambda r: r["metric"].update(direction="higher"), "metric.direction", "lower-is-better"),
    (lambda r: r["baselines"].pop("boss"), "baselines", "missing levels: ['boss']"),
    (lambda r: r["data"].update(public_fraction=1.5), "data.public_fraction", "less than 1"),
    (lambda r: r["submission"].update(id_column="ID"), "submission", "id_column 'ID'"),
    (lambda r: r.pop("starter"), "starter", "required key is missing"),
])
def test_errors_name_file_and_key(tmp_path, mutate, key, words):
    folder = _broken(tmp_path, mutate)
    with pytest.raises(ConfigError) as e:
        load_spec(folder)
    assert e.value.path.endswith("assignment.yaml")
    assert e.value.key == key
    assert words in str(e.value)


def test_invalid_yaml_names_the_line(tmp_path):
    folder = tmp_path / "hw99_toy"
    folder.mkdir()
    (folder / "assignment.yaml").write_text("id: hw99_toy\nnumber: [1,\n")
    with pytest.raises(ConfigError, match=r"assignment.yaml: line \d+: not valid YAML"):
        load_spec(folder)


def test_a_broken_assignment_is_named_and_does_not_hide_the_others(tmp_path, monkeypatch):
    import shutil

    from grader import api, catalog
    from grader.errors import ConfigError

    root = tmp_path / "assignments"
    shutil.copytree(REPO / "tests/fixtures/assignments/hw99_toy", root / "hw99_toy")
    (root / "hw98_broken").mkdir()
    (root / "hw98_broken" / "assignment.yaml").write_text("id: hw98_broken\nnumber: 98\nmetric: {name: msee}\n")
    monkeypatch.setenv("GRADE_ASSIGNMENTS", str(root))
    catalog._load_all.cache_clear()
    assert [s.id for s in catalog.all_specs()] == ["hw99_toy"]
    with pytest.raises(ConfigError, match="hw98_broken/assignment.yaml"):
        api.assignment("hw98")
    rows = {r["id"]: r for r in api.list_assignments()}
    assert rows["hw99_toy"]["problem"] == "" and "assignment.yaml" in rows["hw98_broken"]["problem"]
