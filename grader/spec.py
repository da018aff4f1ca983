"""AssignmentSpec: the typed, validated form of `assignments/<hw>/assignment.yaml`.

One file describes everything the platform needs about a homework: where its data comes from, what a
valid submission looks like, how it is scored, which reference solutions define the baselines, and how
many points each baseline earns. Every homework folder has the same shape, so learning one teaches all.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from .config import Strict, load_yaml, validate
from .errors import ConfigError

LEVELS = ("simple", "medium", "strong", "boss")
BOARDS = ("public", "private")
DTYPES = ("int", "float", "str")


class DataFileRef(Strict):
    path: str  # relative to the shared data folder (../shared/data)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Edition(Strict):
    files: list[DataFileRef] = []
    layout: dict[str, Any] = {}


class Source(Strict):
    kind: Literal["generated", "files"]
    editions: dict[str, Edition] = {}


class DataSpec(Strict):
    source: str = "generated"
    edition: str = "2022"
    scale: Literal["ci", "full"] = "ci"
    public_fraction: float = Field(0.5, gt=0, lt=1)
    sources: dict[str, Source]
    options: dict[str, Any] = {}

    @model_validator(mode="after")
    def _source_known(self):
        if self.source not in self.sources:
            raise ValueError(f"source {self.source!r} is not one of sources: {sorted(self.sources)}")
        return self


class ImageSpec(Strict):
    width: int = Field(gt=0, le=4096)
    height: int = Field(gt=0, le=4096)
    mode: Literal["RGB", "L", "RGBA"] = "RGB"


class ArchiveSpec(Strict):
    """A `.tgz` of PNG images (HW6's generated faces, HW10's attacked images)."""

    image: ImageSpec
    max_members: int = Field(2000, gt=0)
    max_unpacked_bytes: int = Field(256 * 2**20, gt=0)


class WeightsSpec(Strict):
    """A state dict file (`torch.save(model.state_dict())`): bounds on what it may hold."""

    max_tensors: int = Field(64, gt=0)
    max_numbers: int = Field(1_000_000, gt=0)


class SubmissionSpec(Strict):
    """What a valid submission looks like.

    ``csv``: a header line with exactly ``columns`` (the id and the prediction), one row per test id.
    ``lines``: a plain UTF-8 text file, one prediction per line and no header (HW5's translations);
    the id of a line is its position (0, 1, …), and ``columns`` names the two for the answers file.
    ``archive``: a `.tgz` of PNG images whose member names are the ids (`1.png`, `cat/cat3.png`, …);
    the values are the decoded images. ``columns`` names the id and the answers file's value column.
    ``choices``: a JSON object, question id → the option letters chosen (`"B"` or `["A", "C"]`), as the
    course's multiple-choice homeworks (HW9, HW14); the value is the chosen letters, sorted (`"AC"`).
    ``weights``: a state dict saved with `torch.save` (HW12's policy network), loaded on the host with
    `weights_only=True`; the value is {tensor name: float32 array}. The rows are the answers file's items
    (HW12: episodes on hidden seeds) and the homework's `grading.py` makes each row's number from the
    weights with course code; the file itself has no rows, so there are no ids to check.
    """

    kind: Literal["csv", "lines", "archive", "choices", "weights"] = "csv"
    filename: str
    id_column: str
    columns: dict[str, Literal["int", "float", "str"]]  # ordered: the exact header
    max_bytes: int = Field(10_000_000, gt=0)
    allow_empty: bool = False  # lines: may a line be empty?
    archive: ArchiveSpec | None = None  # archive: what every member must be
    options: str = "ABCDE"  # choices: the letters a question may be answered with
    weights: WeightsSpec = WeightsSpec()  # weights: how many tensors and numbers a file may hold

    @model_validator(mode="after")
    def _id_in_columns(self):
        if self.id_column not in self.columns:
            raise ValueError(f"id_column {self.id_column!r} is not among columns {list(self.columns)}")
        if len(self.columns) != 2:
            raise ValueError("a submission has exactly two columns: the id and the prediction")
        if self.kind == "lines" and (self.columns[self.id_column] != "int" or self.columns[self.value_column] != "str"):
            raise ValueError("columns: a lines submission has an int id (the line number) and a str value")
        if self.kind == "choices" and any(t != "str" for t in self.columns.values()):
            raise ValueError("columns: a choices submission has str question ids and str answers")
        if self.kind == "weights" and self.columns[self.id_column] != "int":
            raise ValueError("columns: a weights submission's rows are numbered items (episodes): an int id")
        if self.kind == "archive" and (self.archive is None or self.columns[self.id_column] != "str"):
            raise ValueError("archive: an archive submission needs `archive:` (the image format) and str ids "
                             "(member names)")
        return self

    @property
    def value_column(self) -> str:
        return next(c for c in self.columns if c != self.id_column)

    @property
    def sample_name(self) -> str:
        """The released example submission: the format to copy, with every expected id."""
        return {"lines": "sample_submission.txt", "archive": "sample_submission.tgz",
                "choices": "sample_submission.json", "weights": "sample_submission.pt"}.get(self.kind,
                                                                                          "sample_submission.csv")


class MetricSpec(Strict):
    name: str
    direction: Literal["higher", "lower"] | None = None  # optional: must agree with the registry
    options: dict[str, Any] = {}
    # Which form of the submission the metric reads: "values" (as validated), or a name that the
    # homework's host-side `grading.py` produces from them (features of a hidden evaluator, …).
    input: str = "values"
    # Unpaired metrics (a distribution against a distribution, e.g. FID) compare the submission with
    # this hidden .npy (relative to the prepared hidden folder) instead of row-by-row answers.
    reference: str | None = None


class BaselineSpec(Strict):
    solution: str  # path relative to the repository root
    args: list[str] = []  # extra command-line arguments for the solution script
    hint: str = ""


class PointsSpec(Strict):
    per_level_per_board: float = 0.5
    code: float = 2.0
    report: float = 4.0
    questions: float = 10.0  # without a leaderboard: what the answer sheet is worth (HW9 10, HW14's quiz 8)


class LimitsSpec(Strict):
    daily: int | None = None  # None: the course's daily limit
    finals: int | None = None
    run_timeout_s: int = 300


class CalibrationSpec(Strict):
    # A threshold is the reference score relaxed by `slack` (relative), the way Kaggle baselines sit a
    # little below what the TA's own run reached: the unchanged starter, which *is* the simple reference,
    # must pass simple even with run-to-run noise.
    slack: float = Field(0.01, ge=0, lt=0.5)
    # Each level must beat the one below by at least this relative margin on every board.
    min_gap: float = Field(0.03, ge=0, lt=1)
    # `grade verify` accepts a re-run whose score differs from the calibrated one by at most this (relative).
    tolerance: float = Field(0.01, ge=0, lt=1)
    timeout_s: int = 120


class ExecutionSpec(Strict):
    """How a submitted notebook is re-executed and probed in the sandbox (the sandbox issue)."""

    output: str = "pred.csv"  # what the notebook writes into its output folder
    # ipython: the cells run in the sandboxed process's own IPython shell (no kernel to start: seconds
    # faster per student); kernel: a Jupyter kernel through nbclient, for notebooks that need one.
    engine: Literal["ipython", "kernel"] = "ipython"
    probe: str | None = None  # hidden probe script, relative to the assignment folder
    checks: str = "tests/hidden"  # host-side pytest checks, relative to the assignment folder
    points: dict[str, float] = {}  # hidden check name -> points
    rerun_tolerance: float = Field(1e-3, ge=0)  # largest |uploaded - regenerated| that still matches
    # Share of rows that may differ and still match: labels from a model trained on a GPU and re-run on
    # a CPU can flip in a few borderline rows (0 by default: every row must be reproduced).
    rerun_max_differing: float = Field(0.0, ge=0, lt=1)
    show_after_deadline: bool = True  # students see hidden check results once the deadline passed
    # Checks whose failure costs the whole homework (HW13: over the parameter budget, 0 points): the
    # gradebook sets the homework's penalty to 0 and names the check; a TA's `grade adjust --penalty` wins.
    gate: list[str] = []
    wall_s: int = Field(600, gt=0)
    memory_mb: int = Field(4096, gt=0)
    cpus: float = Field(1.0, gt=0)
    output_mb: int = Field(64, gt=0)
    gpu: bool = False

    @model_validator(mode="after")
    def _gates_are_checks(self):
        unknown = [g for g in self.gate if g not in self.points]
        if unknown:
            raise ValueError(f"gate: {unknown} are not hidden checks named in execution.points")
        return self


class CompatSpec(Strict):
    """A board in another system's format, kept for comparison only (HW12: the 2022 JudgeBoi action
    lists, replayed open-loop on the public seed). Not a leaderboard: nothing is stored, nothing earns points."""

    title: str  # what the board is, shown above it
    filename: str  # what that system's students uploaded (found by this name in a class folder)
    function: str  # in grading.py: (data: bytes) -> float, ValueError with a message for a bad file
    direction: Literal["higher", "lower"] = "higher"
    note: str = ""  # why it is not this course's board


class StarterSpec(Strict):
    source: str  # percent-format .py inside the assignment folder
    notebook: str  # the released .ipynb name
    output: str = "pred.csv"


class AssignmentSpec(Strict):
    # hwNN_topic; a second part of one course homework adds a letter (hw14q_questions: HW14's quiz)
    id: str = Field(pattern=r"^hw\d\d[a-z]?_[a-z0-9_]+$")
    number: int = Field(ge=1, le=99)
    title: str
    task: str
    data: DataSpec
    submission: SubmissionSpec
    metric: MetricSpec
    # More metrics that must hold too: a level counts only when every one reaches its threshold
    # (HW6: FID and AFD). The board ranks by `metric`.
    also: list[MetricSpec] = []
    # Host-side course code (never released) that turns validated submission values into the inputs
    # metrics read: `represent(values, hidden_dir) -> {name: array}`. Runs hidden models on plain arrays.
    grading: str | None = None
    baselines: dict[Literal["simple", "medium", "strong", "boss"], BaselineSpec] = {}
    # False: graded as the course graded its Gradescope homeworks (HW9, HW14's questions): no boards and
    # no ladder; the points are the score of the latest submission over all items.
    leaderboard: bool = True
    # after_deadline: a submission's score is shown only once the deadline passed (answer keys cannot
    # be probed by resubmitting); immediate: as Kaggle, the public score at once.
    show_scores: Literal["immediate", "after_deadline"] = "immediate"
    course_baselines: dict[str, float] = {}  # the real course's public numbers, for the handout only
    points: PointsSpec = PointsSpec()
    limits: LimitsSpec = LimitsSpec()
    calibration: CalibrationSpec = CalibrationSpec()
    starter: StarterSpec
    execution: ExecutionSpec = ExecutionSpec()
    compat: CompatSpec | None = None

    # Set by `load_spec`, not read from YAML.
    folder: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _all_levels(self):
        if not self.leaderboard:
            if self.baselines:
                raise ValueError("baselines: a homework without a leaderboard has no ladder to calibrate")
            from .scoring.metrics import METRICS

            if self.metric.name in METRICS and not METRICS[self.metric.name].additive:
                raise ValueError(f"metric.name: without a leaderboard the points are the score over all items, "
                                 f"so the metric must add up over the two halves ({self.metric.name} does not)")
            return self
        missing = [lv for lv in LEVELS if lv not in self.baselines]
        if missing:
            raise ValueError(f"baselines: missing levels: {missing}")
        self.baselines = {lv: self.baselines[lv] for lv in LEVELS}
        return self

    @model_validator(mode="after")
    def _compat_needs_grading(self):
        if self.compat and not self.grading:
            raise ValueError(f"compat.function: {self.compat.function!r} lives in grading.py, but `grading:` is not set")
        return self

    @model_validator(mode="after")
    def _metric_known(self):
        from .scoring.metrics import METRICS

        for key, ms in [("metric", self.metric)] + [(f"also.{k}", a) for k, a in enumerate(self.also)]:
            m = METRICS.get(ms.name)
            if m is None:
                raise ValueError(f"{key}.name: unknown metric {ms.name!r} (known: {', '.join(sorted(METRICS))})")
            if ms.direction and ms.direction != m.direction:
                raise ValueError(f"{key}.direction: {ms.name} is {m.direction}-is-better, not {ms.direction}")
            if not m.paired and not ms.reference and m.needs_reference:
                raise ValueError(f"{key}.reference: {ms.name} compares with a hidden reference file; name it")
            if ms.input == "values" and self.submission.kind == "weights":
                raise ValueError(f"{key}.input: a weights submission has no per-row values; name what "
                                 "grading.py's represent() makes of the weights")
            if ms.input != "values" and not self.grading:
                raise ValueError(f"{key}.input: {ms.input!r} comes from grading.py, but `grading:` is not set")
        if len({a.name for a in self.also} | {self.metric.name}) != len(self.also) + 1:
            raise ValueError("also: each metric may appear once")
        return self

    @property
    def short(self) -> str:
        """`hw01`: the name used for folders and store rows."""
        return self.id.split("_", 1)[0]

    @property
    def part(self) -> str:
        """"" for a homework, its letter for a second part of one (`hw14q`: HW14's questions)."""
        return self.short[4:]

    @property
    def aliases(self) -> set[str]:
        if self.part:  # the number alone names the homework itself, never its part
            return {self.id, self.short, f"hw{self.number}{self.part}", f"{self.number}{self.part}"}
        return {self.id, self.short, f"hw{self.number}", str(self.number)}

    @property
    def higher_is_better(self) -> bool:
        from .scoring.metrics import METRICS

        return METRICS[self.metric.name].direction == "higher"


def load_spec(folder: Path) -> AssignmentSpec:
    path = Path(folder) / "assignment.yaml"
    raw = load_yaml(path)
    try:
        spec = validate(AssignmentSpec, raw, path)
    except ConfigError as e:
        # Validators that raise "key: message" name a nested key themselves.
        m = re.match(r"Value error, (\w[\w.]*): (.*)", e.problem)
        if m:
            raise ConfigError(path, m.group(1), m.group(2)) from None
        raise
    if spec.id != Path(folder).name:
        raise ConfigError(path, "id", f"{spec.id!r} does not match the folder name {Path(folder).name!r}")
    spec.folder = Path(folder).resolve()
    return spec
