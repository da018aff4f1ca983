"""HW12 end to end: the episodes a course draws, the starter notebook, the release, weights submissions
played on the host, the 2022 JudgeBoi replay, the ladder, the sandbox."""

import ast
import csv
import importlib.util
import io
import os
import pickle
import re
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from grader import api, catalog
from grader import data as datamod
from grader.course import Course
from grader.data import BuildContext
from grader.notebook import build_notebook, write_notebook
from grader.scoring.score import check_submission, score_bytes
from grader.scoring.validate import Invalid
from grader.spec import LEVELS

from .helpers import add_cell, sandbox_backend

REAL_ACTIONS = catalog.REPO_ROOT.parent / "shared" / "data" / "hw12_rl" / "Action_List.npy"


def make(tmp_path) -> Course:
    return Course.init(tmp_path / "c-hw12", homeworks={"hw12": {"deadline": "2022-06-10T23:59:00"}})


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Course:
    """One course with the ci data prepared, shared by the quick tests."""
    c = make(tmp_path_factory.mktemp("hw12"))
    api.prepare(c, "hw12")
    return c


def load(path: Path, name: str):
    mod_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def grading():
    return load(api.assignment("hw12").folder / "grading.py", "hw12_grading_test")


def build_small(tmp_path, name, seed=7, n=6):
    root = tmp_path / name
    ctx = BuildContext(seed=seed, source="generated", edition="2022", scale="ci", shared_data=None,
                       release_dir=root / "release", hidden_dir=root / "hidden", hidden_inputs_dir=root / "hidden_inputs",
                       options={"n_episodes": n})
    for d in (ctx.release_dir, ctx.hidden_dir, ctx.hidden_inputs_dir):
        d.mkdir(parents=True)
    load(api.assignment("hw12").folder / "data.py", "hw12_data_test").build(ctx)
    return root


def state_dict_bytes(sd: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(sd, buf)
    return buf.getvalue()


def course_net(widths=(8, 16, 16, 4), seed=0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {f"fc{k}.{p}": torch.randn(*((o, i) if p == "weight" else (o,)), generator=g) * 0.3
            for k, (i, o) in enumerate(zip(widths, widths[1:]), start=1) for p in ("weight", "bias")}


def test_generated_layout_matches_the_course(prepared):
    c = prepared
    m = api.prepare(c, "hw12")
    d = c.data_dir("hw12")
    assert sorted(p.name for p in (d / "release").iterdir()) == ["sample_submission.pt"], \
        "LunarLander has no data files: the release holds only the upload's format"
    sd = torch.load(d / "release" / "sample_submission.pt", weights_only=True)
    assert {k: tuple(v.shape) for k, v in sd.items()} == {
        "fc1.weight": (16, 8), "fc1.bias": (16,), "fc2.weight": (16, 16), "fc2.bias": (16,),
        "fc3.weight": (4, 16), "fc3.bias": (4,)}, "the course's PolicyGradientNetwork 8→16→16→4"
    with open(d / "hidden" / "answers.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["episode", "seed"] and m["rows"] == 100
    assert [int(r[0]) for r in rows[1:]] == list(range(100))
    seeds = [int(r[1]) for r in rows[1:]]
    assert len(set(seeds)) == 100 and 543 not in seeds, "distinct hidden seeds, never the notebook's public 543"
    hi = d / "hidden_inputs"
    assert {p.name for p in hi.iterdir()} == {"rewards.npy", "reward_lengths.npy", "gammas.npy", "observations.npy"}
    lengths = np.load(hi / "reward_lengths.npy")
    assert len(np.load(hi / "rewards.npy")) == lengths.sum() and lengths.min() == 1
    assert np.load(hi / "observations.npy").shape == (64, 8)
    assert grading().check({k: v.numpy() for k, v in sd.items()}, None, d / "hidden") == []


def test_same_seed_same_bytes(tmp_path):
    a, b, other = build_small(tmp_path, "a"), build_small(tmp_path, "b"), build_small(tmp_path, "o", seed=8)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert (other / "hidden/answers.csv").read_bytes() != (a / "hidden/answers.csv").read_bytes()


def test_starter_notebook_mirrors_the_course_sample_code():
    spec = api.assignment("hw12")
    nb = build_notebook((spec.folder / spec.starter.source).read_text())
    nbformat.validate(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for name in ("seed = 543 # Do not change this", "def fix(env, seed)", "fix(env, seed) # fix the environment Do not revise this !!!",
                 "gym.make('LunarLander-v3', max_episode_steps=1000)", "class PolicyGradientNetwork(nn.Module)",
                 "self.fc1 = nn.Linear(8, 16)", "self.fc2 = nn.Linear(16, 16)", "self.fc3 = nn.Linear(16, 4)",
                 "return F.softmax(self.fc3(hid), dim=-1)", "class PolicyGradientAgent()",
                 "self.optimizer = optim.SGD(self.network.parameters(), lr=0.001)", "def learn(self, log_probs, rewards)",
                 "loss = (-log_probs * rewards).sum()", "def sample(self, state)", "action_dist = Categorical(action_prob)",
                 "def save(self, PATH)", "def load(self, PATH)", "EPISODE_PER_BATCH = 5", "NUM_BATCH = 60",
                 "rewards.append(reward) # change here", "# boss : implement Actor-Critic",
                 "rewards = (rewards - np.mean(rewards)) / (np.std(rewards) + 1e-9)",
                 "agent.learn(torch.stack(log_probs), torch.from_numpy(rewards))", "NUM_OF_TEST = 5 # Do not revise this !!!",
                 "action_list.append(actions)", "def accumulated_discounted_reward(seq_rewards, gamma=0.99)",
                 'torch.save(agent.network.state_dict(), os.path.join(OUT_DIR, "policy.pt"))',
                 "np.save(PATH ,np.array(action_list, dtype=object))", 'print("Wrong format of file !!!")'):
        assert name in code, name
    imported = {a.name.split(".")[0] for n in ast.walk(ast.parse(code)) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in (n.names if isinstance(n, ast.Import) else [ast.alias(n.module or "")])}
    assert "gymnasium" in imported and not imported & {"gym", "torchvision", "tqdm", "pyvirtualdisplay"}
    assert any(c.cell_type == "markdown" and "policy.pt" in c.source and "hidden" in c.source for c in nb.cells)
    # The simple reference is the starter's training: same seed, batches, episodes per batch and lr.
    ref = (catalog.REPO_ROOT / spec.baselines["simple"].solution).read_text()
    for field, value in (("seed", 543), ("episode_per_batch", 5), ("num_batch", 60), ("lr", 0.001), ("max_steps", 1000)):
        m = re.search(rf"^    {field}: \w+ = ([\d.e-]+)", ref, re.M)
        assert m and float(m[1]) == value, f"simple.py Config.{field} differs from the starter"


def test_starter_discounted_reward_and_network(tmp_path):
    from grader.sandbox import probelib

    spec = api.assignment("hw12")
    nb = write_notebook(spec.folder / spec.starter.source, tmp_path / "HW12.ipynb")
    sub, problems = probelib.load_definitions(nb)
    assert not problems, problems
    assert sub.accumulated_discounted_reward([1.0, 2.0, 4.0], 0.5) == [1 + 1 + 1, 2 + 2, 4]
    assert sub.accumulated_discounted_reward([], 0.99) == []
    sd = course_net()
    net = sub.PolicyGradientNetwork()
    net.load_state_dict(sd, strict=True)
    x = np.random.default_rng(0).normal(size=(5, 8))
    g = grading()
    with torch.no_grad():
        got = net(torch.as_tensor(x, dtype=torch.float32)).double().numpy()
    assert np.allclose(got, g.forward(g.layers({k: v.numpy() for k, v in sd.items()}), x), atol=1e-6)


def test_release_bundle_is_complete_and_clean(prepared, tmp_path):
    c = prepared
    dest = api.release(c, "hw12", tmp_path / "out")        # refuses (raises) when the scan finds a leak
    names = {p.name for p in dest.iterdir()}
    assert {"README.md", "HW12.ipynb", "sample_submission.pt", "assignment.json", "tests"} <= names
    assert (dest / "tests" / "public" / "test_format.py").is_file()
    for leak in ("answers.csv", "probe.py", "grading.py", "data.py", "rewards.npy", "observations.npy"):
        assert not list(dest.rglob(leak)), leak
    from grader.release import scan_bundle
    assert scan_bundle(c, api.assignment("hw12"), dest) == []
    # `grade check`: the public tests load the file weights-only, check the layers and play seed 543.
    good, bad = tmp_path / "good" / "policy.pt", tmp_path / "bad" / "policy.pt"
    for path, sd in ((good, course_net()), (bad, dict(course_net(), **{"fc2.weight": torch.zeros(16, 12)}))):
        path.parent.mkdir()
        path.write_bytes(state_dict_bytes(sd))
    assert api.check("hw12", good, dest) == []
    problems = "\n".join(api.check("hw12", bad, dest))
    assert "fc2.weight has shape (16, 12), expected (*, 16)" in problems and "not played" in problems, problems


def test_weights_are_scored_on_the_host_and_cached(prepared):
    c = prepared
    spec = api.assignment("hw12")
    answers = datamod.load_answers(c, spec)
    data = state_dict_bytes(course_net())
    t = time.perf_counter()
    first = score_bytes(spec, answers, data, "policy.pt")
    cold = time.perf_counter() - t
    t = time.perf_counter()
    again = score_bytes(spec, answers, data, "policy.pt")
    warm = time.perf_counter() - t
    assert (first.public, first.private) == (again.public, again.private)
    assert -1000 < first.public < 400 and -1000 < first.private < 400
    assert warm < cold / 3, f"a second score of the same weights is cached ({warm:.3f} s vs {cold:.3f} s)"
    # Another width is the course network too, and plays (the hidden widths are free).
    wide = score_bytes(spec, answers, state_dict_bytes(course_net((8, 32, 4), seed=1)), "policy.pt")
    assert np.isfinite(wide.public)


def test_malformed_weights_get_precise_messages(prepared):
    c = prepared
    spec = api.assignment("hw12")
    answers = datamod.load_answers(c, spec)

    def problems(data: bytes) -> str:
        with pytest.raises(Invalid) as e:
            check_submission(spec, answers, data, "policy.pt")
        return str(e.value)

    good = course_net()
    assert "not a weights-only state dict" in problems(b"PK\x03\x04 not a zip archive")
    assert "not a weights-only state dict" in problems(b"")
    assert "missing fc2.bias" in problems(state_dict_bytes({k: v for k, v in good.items() if k != "fc2.bias"}))
    two = {k: v for k, v in good.items() if "fc3" not in k}   # fc1, fc2 is a network, with 16 outputs
    assert "fc2.weight has shape (16, 16), expected (4, 16) for the output layer" in problems(state_dict_bytes(two))
    shapes = dict(good, **{"fc2.weight": torch.zeros(16, 12)})
    assert "fc2.weight has shape (16, 12), expected (16, 16)" in problems(state_dict_bytes(shapes))
    first = dict(good, **{"fc1.weight": torch.zeros(16, 9)})
    assert "fc1.weight has shape (16, 9), expected (16, 8) for the input layer" in problems(state_dict_bytes(first))
    out = {k: v for k, v in course_net((8, 16, 16, 3)).items()}
    assert "fc3.weight has shape (3, 16), expected (4, 16) for the output layer" in problems(state_dict_bytes(out))
    assert "unexpected critic.bias, critic.weight" in problems(state_dict_bytes(dict(good, **{"critic.weight": torch.zeros(1, 16),
                                                                                 "critic.bias": torch.zeros(1)})))
    agent = {"network": good, "optimizer": {}}
    assert "name → tensor" in problems(state_dict_bytes(agent)) or "not name" in problems(state_dict_bytes(agent))
    nan = dict(good, **{"fc3.bias": torch.tensor([0.0, float("nan"), 0.0, 0.0])})
    assert "NaN" in problems(state_dict_bytes(nan))
    buf = io.BytesIO()
    torch.save(torch.nn.Linear(8, 4), buf)                 # a pickled module, not a state dict
    assert "weights-only" in problems(buf.getvalue())


class _Pwn:
    def __reduce__(self):
        return (os.system, ("touch /tmp/hw12-pwned",))


def crafted_npy() -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": (5,)})
    buf.write(pickle.dumps(_Pwn(), protocol=3))
    return buf.getvalue()


def test_judgeboi_replay_refuses_a_crafted_npy(tmp_path):
    from grader.scoring.npy import UnsafeNpy

    marker = Path("/tmp/hw12-pwned")
    marker.unlink(missing_ok=True)
    with pytest.raises(UnsafeNpy, match=r"asks for (posix|os)\.system, which is not part of an array"):
        grading().replay_action_list(crafted_npy())
    assert not marker.exists()
    four = io.BytesIO()
    np.save(four, np.array([[0, 1], [2], [3, 3, 3], [1]], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="expected 5 action lists, got 4"):
        grading().replay_action_list(four.getvalue())
    bad = io.BytesIO()
    np.save(bad, np.array([[0, 1], [2], [3, 7], [1], [0]], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="episode 2: actions must be integers 0-3, got 7"):
        grading().replay_action_list(bad.getvalue())


def test_judgeboi_replay_of_a_real_2022_file():
    if not REAL_ACTIONS.is_file():
        pytest.skip(f"the real 2022 submission is not here ({REAL_ACTIONS}: the course's shared data)")
    data = REAL_ACTIONS.read_bytes()
    score = grading().replay_action_list(data)
    # gym 0.2x's LunarLander-v2 and gymnasium's v3 draw other initial states from seed 543: the 2022
    # list is replayed faithfully but no longer lands (this board only compares with 2022).
    assert np.isfinite(score) and -1000 < score < 400
    assert grading().replay_action_list(data) == score


def test_compat_board_ranks_action_lists_and_refuses_a_crafted_one(tmp_path):
    """`grade compat hw12 DIR`: the 2022 format, one row per file; a crafted pickle is its own row."""
    lists = [[0] * 40 + [2] * 30, [1, 3] * 20, [0] * 60, [2] * 50, [3, 1] * 25]
    for student, data in (("good", None), ("evil", crafted_npy())):
        (tmp_path / student).mkdir()
        if data is None:
            np.save(tmp_path / student / "Action_List.npy", np.array(lists, dtype=object), allow_pickle=True)
        else:
            (tmp_path / student / "Action_List.npy").write_bytes(data)
    rows = {r.student: r for r in api.compat_board("hw12", [tmp_path])}
    assert rows["good"].rank == 1 and np.isfinite(rows["good"].score)
    assert rows["evil"].score is None and "not part of an array" in rows["evil"].message
    if REAL_ACTIONS.is_file():
        real = api.compat_board("hw12", [REAL_ACTIONS])
        assert len(real) == 1 and real[0].score == pytest.approx(grading().replay_action_list(REAL_ACTIONS.read_bytes()))


def test_replay_equals_the_notebooks_own_test_loop(tmp_path):
    """The JudgeBoi replay of the Action_List.npy a policy's test loop wrote gives that loop's rewards."""
    import gymnasium as gym

    g = grading()
    params = g.layers({k: v.numpy() for k, v in course_net().items()})
    env = gym.make("LunarLander-v3", max_episode_steps=1000)
    env.reset(seed=543)
    rng = np.random.default_rng(0)
    lists, totals = [], []
    for _ in range(5):
        state, _ = env.reset()
        acts, total, done = [], 0.0, False
        while not done:
            a = int(rng.choice(4, p=g.forward(params, state)))
            state, r, term, trunc, _ = env.step(a)
            acts.append(a)
            total += r
            done = term or trunc
        lists.append(acts)
        totals.append(total)
    buf = io.BytesIO()
    np.save(buf, np.array(lists, dtype=object), allow_pickle=True)
    assert g.replay_action_list(buf.getvalue()) == pytest.approx(np.mean(totals), abs=1e-9)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """A course whose ladder `grade calibrate hw12` recorded (the slow tests share it: one pass)."""
    c = make(tmp_path_factory.mktemp("hw12-ladder"))
    t = time.perf_counter()
    # As many runs in flight as cores, so each has one thread, as the sandbox's re-run (execution.cpus = 1):
    # the same arithmetic, the same weights (2 in parallel on the 2-core machines).
    rep = api.calibrate(c, "hw12", jobs=max(2, os.cpu_count() or 1))
    return c, rep, time.perf_counter() - t


@pytest.mark.slow
def test_ladder_calibrates(calibrated):
    """`grade calibrate hw12`: each reference beats the one below by min_gap (relative to |score|) on both
    boards. The unchanged starter is not run here: the sandbox test below re-runs it against simple's
    policy.pt and requires a tensor-for-tensor match, so it scores simple's score exactly, which is what
    verify requires (the threshold is that score: calibration.slack is 0, see assignment.yaml)."""
    c, rep, seconds = calibrated
    assert rep.ok, rep.problems
    gap = api.assignment("hw12").calibration.min_gap
    for board in ("public", "private"):
        scores = [getattr(rep.runs[lv], board) for lv in LEVELS]
        assert all(b > a + gap * abs(a) for a, b in zip(scores, scores[1:])), (board, scores)
    print("\nHW12: " + ", ".join(f"{n} {r.public:.1f}/{r.private:.1f} ({r.seconds:.0f}s)" for n, r in rep.runs.items())
          + f"; {seconds:.0f} s in all")


# A last cell a student might add after saving policy.pt: a discounted reward that forgets gamma (a plain
# reversed cumulative sum). The training above it used the immediate rewards: policy.pt is not changed by it.
BROKEN_DISCOUNT = '''
def accumulated_discounted_reward(seq_rewards, gamma=0.99):
    return list(np.cumsum(seq_rewards[::-1])[::-1])
'''


@pytest.mark.slow
def test_rerun_and_hidden_checks_in_a_sandbox(calibrated, tmp_path):
    """`grade batch hw12 --rerun`: the unchanged starter saves simple's policy.pt again and earns every code
    point; a hand-edited policy.pt from a notebook whose accumulated_discounted_reward forgets gamma is
    flagged with the tensor that differs, and loses the points of the reproduction, of the network's
    forward and of the discounted reward (two students: one round of two sandboxed re-runs)."""

    backend = sandbox_backend()
    c, rep, _ = calibrated
    spec = api.assignment("hw12")
    # The upload is simple's policy: the starter notebook re-run in the sandbox must save these very
    # tensors (one thread, as the calibration's runs), which proves the starter is the simple reference.
    honest = rep.runs["simple"].pred.read_bytes()
    sd = torch.load(io.BytesIO(honest), weights_only=True)
    sd["fc3.bias"] = sd["fc3.bias"] + torch.tensor([0.5, 0.0, 0.0, 0.0])    # "more do-nothing"
    tampered = state_dict_bytes(sd)
    for student, pred, extra in (("s1", honest, None), ("s2", tampered, BROKEN_DISCOUNT)):
        d = tmp_path / "class" / student
        d.mkdir(parents=True)
        (d / "policy.pt").write_bytes(pred)
        write_notebook(spec.folder / spec.starter.source, d / "HW12.ipynb")
        if extra:
            add_cell(d / "HW12.ipynb", extra)
    out = {o.student: o for o in api.batch(c, "hw12", tmp_path / "class", jobs=2, rerun=True, backend=backend)}
    checks = {s: {k.test: k for k in api.open_course(c.root).store.checks("hw12", s)} for s in out}
    points = spec.execution.points
    discount = "test_accumulated_discounted_reward_on_hidden_rewards"
    reproduce = "test_notebook_reproduces_the_uploaded_policy"
    network = "test_notebook_network_gives_the_uploaded_policy"

    assert out["s1"].status == "scored" and out["s1"].rerun == "match", out["s1"]
    assert out["s1"].hidden_points == sum(points.values()) == 2.0, checks["s1"]

    assert out["s2"].rerun == "mismatch" and "fc3.bias" in str(out["s2"].rerun_message), out["s2"]
    failed = sorted(k for k, r in checks["s2"].items() if r.status == "failed")
    assert failed == sorted([discount, network, reproduce]), checks["s2"]
    assert "fc3.bias" in checks["s2"][reproduce].message
    assert "expected r_t + gamma * G_(t+1)" in checks["s2"][discount].message, checks["s2"][discount].message
    assert "differ by up to" in checks["s2"][network].message
    assert checks["s2"]["test_uploaded_policy_is_the_course_network"].status == "passed"
    assert out["s2"].hidden_points == points["test_uploaded_policy_is_the_course_network"]
