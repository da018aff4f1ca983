"""Typed YAML loading shared by course.yaml and assignment.yaml.

Both files are declared once as pydantic models and validated on load; any problem becomes a
`ConfigError` that names the file and the dotted key, e.g. ``assignment.yaml: metric.name: unknown
metric 'msee' (known: accuracy, auc, bleu, mae, mse)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base for config models: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=False)


def _dotted(loc: tuple) -> str:
    return ".".join(str(p) for p in loc)


def load_yaml(path: Path) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise ConfigError(path, where, f"not valid YAML ({getattr(e, 'problem', e)})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, "", "expected a mapping at the top level")
    return data


def validate(model: type[M], data: dict, path: Path) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        raise ConfigError(path, _dotted(err["loc"]), msg) from None


def load_model(model: type[M], path: Path) -> M:
    return validate(model, load_yaml(path), path)


def dump_yaml(data: dict, path: Path) -> None:
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
