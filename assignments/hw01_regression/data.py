"""HW1 (COVID-19 regression) dataset builder.

``build(ctx)`` writes the student release (``covid.train.csv``, ``covid.test.csv``,
``sample_submission.csv``) to ``ctx.release_dir`` and the hidden answers
(``answers.csv``: ``id,tested_positive``) to ``ctx.hidden_dir``.

Two sources:

* ``real``: the course's own labelled file (``<shared_data>/hw01_covid/<edition>/``),
  checked against its sha256 and split by ``ctx.seed`` into a released train set and a
  hidden test set (``test_fraction`` of the rows, default 0.3). The course's own test file
  has no labels, so it cannot be graded and is not used.
* ``generated`` (default): a simulated survey data set with the exact ML2022 layout
  (id + 37 state one-hots + 5 days x 16 features; 2,699 train rows, 1,078 test rows).

How the simulation is built (so that the course hints matter):

* A latent %positive ``L`` per row = state level x a national wave over the survey date
  x a daily log-growth. The growth is a saturating (tanh) function of three behaviours
  (work outside home, large events, masks) plus noise.
* ``tested_positive`` of each day is ``L`` plus binomial-like noise (its variance grows
  with the level, as in the real data). The target is day 5's value, so about 0.4 MSE
  is irreducible.
* ``cli``/``ili``/``hh_cmnty_cli``/``nohh_cmnty_cli`` are noisy, concave (power 0.6-0.7),
  state-biased readings of the *next* day's ``L`` (symptoms come before positive tests):
  they know about day 5's growth, which the tested_positive history does not.
* The other behaviours and the mental-health items are state profiles plus noise: weak,
  partly confounded with the state level, or pure noise. Every feature comes as five
  strongly correlated daily copies.
* Rows are stored in date order, as in the course files, where the id correlates with the
  target (r ~ 0.26; here ~0.33). Train and test rows are each re-numbered from 0, so a
  model that leans on the id column (the sample code does) is misled on the test set.

What each level gains: medium drops id, the states and the large-valued survey columns,
so the unscaled SGD can fit the tested_positive history; strong fits that history
properly (normalised inputs, Adam, a wider net); boss adds the CLI-type columns, twenty
noisy, correlated, non-linear readings that only pay with L2 and averaging.
"""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np

STATES = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "FL", "GA", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "MD", "MA", "MI", "MN", "MS", "MO", "NE", "NV", "NJ", "NM",
    "NY", "NC", "OH", "OK", "OR", "RI", "SC", "TX", "UT", "VA", "WA",
]
FEATURES = [
    "cli", "ili", "hh_cmnty_cli", "nohh_cmnty_cli",
    "wearing_mask", "travel_outside_state", "work_outside_home", "shop", "restaurant",
    "spent_time", "large_event", "public_transit",
    "anxious", "depressed", "worried_finances",
    "tested_positive",
]
N_DAYS = 5
# As in the real file the daily names repeat; pandas reads them as cli, ..., cli.1, ..., cli.4, ...
HEADER = ["id"] + STATES + FEATURES * N_DAYS
TARGET = "tested_positive"

# (mean, sd) of the behaviour / mental-health items in the real ML2022 train file
BEHAVIOURS = {
    "wearing_mask": (51.8, 16.0), "travel_outside_state": (15.9, 4.6),
    "work_outside_home": (33.1, 3.8), "shop": (66.4, 2.6), "restaurant": (34.7, 4.2),
    "spent_time": (44.8, 3.7), "large_event": (19.9, 3.6), "public_transit": (4.7, 2.1),
    "anxious": (11.9, 2.2), "depressed": (10.0, 1.6), "worried_finances": (34.8, 3.6),
}

N_TRAIN, N_TEST = 2699, 1078          # the ML2022 sizes
DEFAULT_TEST_FRACTION = 0.3           # share of the real labelled rows kept hidden

# labelled course files, see shared/data/MANIFEST.md
REAL_FILES = {
    "2021": ("covid.train.csv", "e074c2226c9aff09ed8c24cdbeee91488e6ac119268568e9cad1c6f78e85fdd4"),
    "2022": ("covid.train.csv", "e812bde2705d52f97babd166cfe09dbed7e157fd1f92d3ea529daa69a542e5a1"),
    "2023": ("covid_train.csv", "c983dff31c12e67e751f37d98044b516e59d7d40d7c21f491066be2b8fb017fc"),
}


def build(ctx) -> None:
    release_dir, hidden_dir = Path(ctx.release_dir), Path(ctx.hidden_dir)
    release_dir.mkdir(parents=True, exist_ok=True)
    hidden_dir.mkdir(parents=True, exist_ok=True)
    options = dict(getattr(ctx, "options", None) or {})
    rng = np.random.default_rng(ctx.seed)

    if ctx.source == "real":
        header, train_rows, test_rows = _split_real(ctx, rng, options)
    elif ctx.source == "generated":
        if str(ctx.edition) != "2022":
            raise ValueError(
                f"hw1: source 'generated' only has the 2022 layout, got edition {ctx.edition!r}; "
                "use edition '2022' or source 'real'"
            )
        header, train_rows, test_rows = _generate(rng)
    else:
        raise ValueError(f"hw1: unknown source {ctx.source!r} (expected 'generated' or 'real')")

    # Course layout: ids 0..n-1 in each file; the test file has no target column.
    train_rows = [[str(i)] + row[1:] for i, row in enumerate(train_rows)]
    test_rows = [[str(i)] + row[1:] for i, row in enumerate(test_rows)]
    _write_csv(release_dir / "covid.train.csv", header, train_rows)
    _write_csv(release_dir / "covid.test.csv", header[:-1], [row[:-1] for row in test_rows])
    _write_csv(release_dir / "sample_submission.csv", ["id", TARGET],
               [[row[0], "0"] for row in test_rows])
    _write_csv(hidden_dir / "answers.csv", ["id", TARGET], [[row[0], row[-1]] for row in test_rows])
    _write_probe_inputs(Path(ctx.hidden_inputs_dir), header[:-1], test_rows, rng)


def _write_probe_inputs(folder: Path, header: list[str], test_rows: list[list[str]], rng, n: int = 200) -> None:
    """Rows no student has seen, for the hidden probe: each feature column drawn from the test rows
    independently, so values are realistic but the combinations are new. Inputs only, no target."""
    folder.mkdir(parents=True, exist_ok=True)
    features = np.array([row[1:-1] for row in test_rows], dtype=object)
    picks = rng.integers(0, len(features), size=(n, features.shape[1]))
    rows = [[str(i)] + [features[picks[i, j], j] for j in range(features.shape[1])] for i in range(n)]
    _write_csv(folder / "probe.csv", header, rows)


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


# ---------------------------------------------------------------------------- real

def _split_real(ctx, rng, options):
    edition = str(ctx.edition)
    if edition not in REAL_FILES:
        raise ValueError(f"hw1: no real data for edition {edition!r}; known: {sorted(REAL_FILES)}")
    if ctx.shared_data is None:
        raise FileNotFoundError("hw1: source 'real' needs the shared data folder, but ctx.shared_data is None")
    name, sha256 = REAL_FILES[edition]
    path = Path(ctx.shared_data) / "hw01_covid" / edition / name
    if not path.is_file():
        raise FileNotFoundError(f"hw1: real data file not found: {path}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise ValueError(f"hw1: sha256 of {path} is {digest}, expected {sha256}")

    with open(path, newline="") as f:
        header, *rows = list(csv.reader(f))
    if header[0] != "id" or not header[-1].startswith(TARGET):
        raise ValueError(f"hw1: unexpected header in {path}: {header[:3]} ... {header[-2:]}")

    fraction = float(options.get("test_fraction", DEFAULT_TEST_FRACTION))
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"hw1: test_fraction must be in (0, 1), got {fraction}")
    n_test = round(fraction * len(rows))
    is_test = np.zeros(len(rows), dtype=bool)
    is_test[rng.permutation(len(rows))[:n_test]] = True
    # Values are kept as the original strings; rows keep their original order.
    train = [row for row, t in zip(rows, is_test) if not t]
    test = [row for row, t in zip(rows, is_test) if t]
    return header, train, test


# ----------------------------------------------------------------------- generated

def _generate(rng):
    n = N_TRAIN + N_TEST
    n_states = len(STATES)
    state = rng.integers(0, n_states, n)

    # State mean %positive: beta-shaped between 1.5 % and 22.5 % (mean ~9.4; the real target: 9.8).
    # Stratified quantiles keep the spread the same for every seed.
    quantiles = rng.permutation((np.arange(n_states) + 0.5) / n_states)
    state_level = 1.5 + 21 * np.quantile(rng.beta(1.5, 2.5, 200_000), quantiles)
    state_z = (np.log(state_level) - np.log(state_level).mean()) / np.log(state_level).std()
    sensor_gain = np.exp(rng.normal(0, 0.15, (n_states, 2)))       # state bias of the CLI surveys

    # Behaviours as z-scores: state profile + row offset + daily wobble, shape (n, day, item).
    items = list(BEHAVIOURS)
    profile = rng.normal(0, 0.8, (n_states, len(items)))
    for confounded in ("work_outside_home", "anxious"):             # high-level states work out more
        profile[:, items.index(confounded)] += 0.6 * state_z
    z_row = profile[state] + rng.normal(0, 0.5, (n, len(items)))
    z = z_row[:, None, :] + rng.normal(0, 0.4, (n, N_DAYS, len(items)))

    # Daily log-growth of the latent level: a saturating (tanh) effect of behaviour + noise.
    exposure = (z[:, :, items.index("work_outside_home")] + z[:, :, items.index("large_event")]
                - z[:, :, items.index("wearing_mask")] - profile[state, items.index("work_outside_home")][:, None])
    growth = 0.05 * np.tanh(exposure) + rng.normal(0, 0.02, (n, N_DAYS))
    date = rng.random(n)                                           # survey date in [0, 1): a national wave
    log_level = np.log(state_level[state]) + 0.8 * (date - 0.5) + rng.normal(0, 0.3, n)
    log_level = np.concatenate([log_level[:, None], log_level[:, None] + np.cumsum(growth, axis=1)], axis=1)
    level = np.clip(np.exp(log_level), 0.3, 32.0)                  # (n, 6): days 1..5 and day 6

    columns = []
    for day in range(N_DAYS):
        ahead = level[:, day + 1] / 10                              # symptoms lead tests by a day
        cli = 0.93 * sensor_gain[state, 0] * ahead ** 0.7 * np.exp(rng.normal(0, 0.05, n))
        ili = cli * np.exp(0.015 + rng.normal(0, 0.02, n))
        hh_cmnty_cli = 15.1 * sensor_gain[state, 1] * ahead ** 0.63 * np.exp(rng.normal(0, 0.05, n))
        nohh_cmnty_cli = 0.75 * hh_cmnty_cli * np.exp(rng.normal(0, 0.03, n))
        behaviour = [np.clip(mean + sd * z[:, day, j], 0.1, 99.9)
                     for j, (mean, sd) in enumerate(BEHAVIOURS.values())]
        today = level[:, day]
        tested_positive = np.clip(today + np.sqrt(0.1 + 0.03 * today) * rng.normal(0, 1, n), 0.1, None)
        columns += [cli, ili, hh_cmnty_cli, nohh_cmnty_cli, *behaviour, tested_positive]

    one_hot = np.eye(n_states, dtype=int)[state]
    values = np.stack(columns, axis=1)                              # (n, 80), target last
    # Rows are in date order, as in the course files (there the id correlates with the target
    # at r ~ 0.26); the test rows are a random subset, so their ids, re-numbered from 0, relate
    # to the date differently and a model leaning on id is misled.
    order = np.argsort(date)
    is_test = np.zeros(n, dtype=bool)
    is_test[rng.permutation(n)[:N_TEST]] = True
    # the id field stays empty here: build() numbers the rows of each file
    rows = [[""] + [str(v) for v in one_hot[i]] + [f"{v:.7f}" for v in values[i]] for i in order]
    return (HEADER, [r for r, t in zip(rows, is_test) if not t], [r for r, t in zip(rows, is_test) if t])
