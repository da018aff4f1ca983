"""HW10 end to end: the benign images and the proxy zoo in the course layout, the epsilon rule (on the real
2022 student submission too), the starter notebook, the release, the ladder, the sandbox."""

import ast
import importlib.util
import re

import nbformat
import numpy as np
import pytest
from PIL import Image

from grader import api, catalog
from grader.course import Course
from grader.errors import GradeError
from grader.notebook import build_notebook
from grader.scoring.archive import read_members, write_archive
from grader.scoring.score import check_submission
from grader.scoring.validate import Invalid, validate
from grader.spec import LEVELS

from .helpers import sandbox_backend

SHARED = catalog.shared_data_dir()
CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
NAMES = sorted(f"{c}/{c}{k}.png" for c in CLASSES for k in range(1, 21))
needs_real = pytest.mark.skipif(SHARED is None or not (SHARED / "hw10_attack" / "data").is_dir(),
                                reason="the course's real HW10 images (../shared/data/hw10_attack) are absent here")


def make(tmp_path, source="generated") -> Course:
    return Course.init(tmp_path / f"c-hw10-{source}",
                       homeworks={"hw10": {"deadline": "2022-05-27T23:59:00", "source": source}})


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Course:
    """One course with the ci data prepared (the zoo and the TA trained: about a minute of one core),
    shared by every test of this file."""
    c = make(tmp_path_factory.mktemp("hw10"))
    api.prepare(c, "hw10")
    return c


def builder():
    spec = api.assignment("hw10")
    mod_spec = importlib.util.spec_from_file_location("hw10_data_test", spec.folder / "data.py")
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def archive_of(images: dict) -> bytes:
    return write_archive(images)


def benign(course, spec):
    from grader.data import load_answers

    answers = load_answers(course, spec)
    rel = course.data_dir(spec.short) / "release" / "data"
    return answers, {n: np.asarray(Image.open(rel / n).convert("RGB")) for n in answers.ids.tolist()}


def test_generated_layout_matches_the_course(prepared):
    c, spec = prepared, api.assignment("hw10")
    m = api.prepare(c, "hw10")                     # the cached build
    rel = c.data_dir("hw10") / "release"
    assert sorted(p.name for p in (rel / "data").iterdir()) == CLASSES, "data/<class>/ for the ten CIFAR-10 classes"
    files = sorted(p.relative_to(rel / "data").as_posix() for p in (rel / "data").rglob("*.png"))
    assert files == NAMES and m["rows"] == 200, "20 images per class, <class><1..20>.png"
    with Image.open(rel / "data" / "dog" / "dog2.png") as im:
        assert im.format == "PNG" and im.mode == "RGB" and im.size == (32, 32)
    # The proxy zoo: the architectures in proxy_models.py, weights_only state dicts, a table of them.
    mod_spec = importlib.util.spec_from_file_location("hw10_released_proxy_models", rel / "proxy_models.py")
    pm = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(pm)
    zoo = pm.available()
    assert {"resnet8_cifar10", "preresnet8_cifar10", "nin_cifar10"} <= set(zoo) and len(zoo) >= 6
    import torch
    x = torch.zeros(2, 3, 32, 32)
    for name in zoo:
        assert pm.get_model(name)(x).shape == (2, 10), name
        assert f"`{name}`" in (rel / "models" / "README.md").read_text()
    # The answers are the folder names' classes; the TA's models stay hidden.
    answers = (c.data_dir("hw10") / "hidden" / "answers.csv").read_text().splitlines()
    assert answers[0] == "file,label" and "dog/dog2.png,5" in answers
    assert (c.data_dir("hw10") / "hidden" / "ta.json").is_file() and not list(rel.rglob("ta_*"))
    sample = (rel / "sample_submission.tgz").read_bytes()
    assert sorted(read_members(sample, "sample_submission.tgz", spec.submission)) == NAMES


@needs_real
def test_real_benign_images_have_the_generated_layout():
    real = SHARED / "hw10_attack" / "data"
    assert sorted(p.relative_to(real).as_posix() for p in real.rglob("*.png")) == NAMES
    with Image.open(real / "dog" / "dog2.png") as im:
        assert im.mode == "RGB" and im.size == (32, 32)


def test_same_seed_same_bytes(tmp_path):
    """Every step of the build draws from the seed it is given: the drawn images, a trained proxy (with and
    without augmentation), its saved weights, the PNGs and the probe inputs come out byte for byte the same.
    (A whole second build would cost another minute of CPU; its steps are these.)"""
    import torch

    data = builder()
    gen, pm = data.hw3(), data.proxy_models()
    nz = dict(gen.NUISANCE["train"], contrast=data.CONTRAST)
    x1, y1 = data._draw(gen, np.random.default_rng(3), 96, nz)
    x2, y2 = data._draw(gen, np.random.default_rng(3), 96, nz)
    assert x1.shape == (96, 32, 32, 3) and x1.dtype == np.uint8 and (x1 == x2).all() and (y1 == y2).all()
    assert not (x1 == data._draw(gen, np.random.default_rng(4), 96, nz)[0]).all(), "another seed, other images"
    assert data._png(x1[0]) == data._png(x2[0])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for fam, aug in (("resnet8", False), ("convmixer", True)):
            saved = []
            for k in range(2):
                model = data._train(pm.FAMILIES[fam], x1, y1, seed=11, epochs=1, augment=aug)
                data._save_state(model, tmp_path / f"{fam}{k}.pt")
                saved.append((tmp_path / f"{fam}{k}.pt").read_bytes())
            assert saved[0] == saved[1], f"{fam}: the same seed gave different weights"
    finally:
        torch.set_num_threads(threads)
    for k in range(2):
        (tmp_path / f"probe{k}").mkdir()
        data._write_probe(tmp_path / f"probe{k}", np.random.default_rng(5))
    for f in sorted(p.name for p in (tmp_path / "probe0").iterdir()):
        assert (tmp_path / "probe0" / f).read_bytes() == (tmp_path / "probe1" / f).read_bytes(), f


def test_starter_notebook_mirrors_the_course_sample_code():
    spec = api.assignment("hw10")
    nb = build_notebook((spec.folder / spec.starter.source).read_text())
    nbformat.validate(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for name in ("batch_size = 8", "cifar_10_mean = (0.491, 0.482, 0.447)", "cifar_10_std = (0.202, 0.199, 0.201)",
                 "epsilon = 8/255/std", "alpha = 0.8/255/std", "class AdvDataset", "def epoch_benign", "def fgsm",
                 "def ifgsm(model, x, y, loss_fn, epsilon=epsilon, alpha=alpha, num_iter=20)", "def mifgsm",
                 "def dim_mifgsm", "def gen_adv_examples", "def create_dir", "class ensembleNet",
                 "from proxy_models import get_model as ptcv_get_model",
                 "ptcv_get_model('resnet8_cifar10', pretrained=True)", "'nin_cifar10'", "'preresnet8_cifar10'",
                 "# TODO: Momentum calculation", "# TODO: sum up logits from multiple models", "dog/dog2.png"):
        assert name in code, name
    imported = {a.name.split(".")[0] for n in ast.walk(ast.parse(code)) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in (n.names if isinstance(n, ast.Import) else [ast.alias(n.module or "")])}
    assert not imported & {"torchvision", "pytorchcv", "imgaug", "tqdm"}, "none of them is in the course image"
    assert any(c.cell_type == "markdown" and "Report Question" in c.source for c in nb.cells)
    assert any(c.cell_type == "markdown" and "autograder" in c.source for c in nb.cells)
    # The simple reference is the starter's attack: the same model, batch size and epsilon.
    ref = (catalog.REPO_ROOT / spec.baselines["simple"].solution).read_text()
    for field, value in (("model", '"resnet8_cifar10"'), ("batch_size", "8"), ("epsilon", "8")):
        m = re.search(rf"^    {field}: \w+ = (\S+)", ref, re.M)
        assert m and m[1] == value, f"simple.py Config.{field} differs from the starter"


def test_release_bundle_is_complete_and_clean(prepared, tmp_path):
    c, spec = prepared, api.assignment("hw10")
    dest = api.release(c, "hw10", tmp_path / "out")        # refuses (raises) when the scan finds a leak
    names = {p.name for p in dest.iterdir()}
    assert {"README.md", "HW10.ipynb", "data", "proxy_models.py", "models", "sample_submission.tgz",
            "assignment.json", "tests"} <= names
    assert len(list((dest / "data").rglob("*.png"))) == 200
    assert (dest / "tests" / "public" / "test_format.py").is_file()
    everything = {p.name for p in dest.rglob("*")}
    assert not everything & {"answers.csv", "benign.npy", "ta.json", "grading.py", "probe.py", "probe_model.pt"}
    from grader.release import scan_bundle
    assert scan_bundle(c, spec, dest) == []
    assert api.check("hw10", dest / "sample_submission.tgz", dest) == []   # the benign images: a valid archive


def test_malformed_and_over_epsilon_archives_get_precise_messages(prepared, tmp_path):
    c, spec = prepared, api.assignment("hw10")
    answers, images = benign(c, spec)
    ok = {n: np.clip(img.astype(int) + 8, 0, 255).astype(np.uint8) for n, img in images.items()}  # exactly epsilon
    check_submission(spec, answers, archive_of(ok), "submission.tgz")

    def problems(imgs, data=None):
        with pytest.raises(Invalid) as e:
            check_submission(spec, answers, data if data is not None else archive_of(imgs), "submission.tgz")
        return str(e.value)

    over = dict(ok)
    img = images["dog/dog2.png"].copy()
    img[4, 7, 1] = img[4, 7, 1] + 9 if img[4, 7, 1] <= 246 else img[4, 7, 1] - 9
    over["dog/dog2.png"] = img
    msg = problems(over)
    assert "1 image(s) go beyond epsilon = 8" in msg and "dog/dog2.png pixel (row 4, column 7, G)" in msg
    assert "off by 9, 1 over epsilon" in msg
    missing = {n: v for n, v in ok.items() if n != "cat/cat3.png"}
    assert "1 expected image(s) are missing: cat/cat3.png" in problems(missing)
    small = dict(ok, **{"cat/cat3.png": ok["cat/cat3.png"][:31]})
    assert "cat/cat3.png is 32x31 RGB, expected 32x32 RGB" in problems(small)
    nested = {f"fgsm/{n}": v for n, v in ok.items()}
    assert "archive the files, not the folder that holds them" in problems(nested)
    assert "not a .tgz" in problems(None, data=b"not an archive")
    # grade check runs the same format rules and the public tests (which check epsilon against data/)
    dest = api.release(c, "hw10", tmp_path / "rel")
    bad = tmp_path / "submission.tgz"
    bad.write_bytes(archive_of(over))
    found = "\n".join(api.check("hw10", bad, dest))
    assert "go beyond epsilon = 8" in found and "dog/dog2.png pixel (row 4, column 7, G) differs by 9" in found


@needs_real
def test_the_real_2022_submission_is_accepted_and_one_pixel_over_epsilon_is_rejected(tmp_path):
    c = make(tmp_path, "real")
    spec = api.assignment("hw10")
    api.prepare(c, "hw10")
    from grader.data import load_answers

    answers = load_answers(c, spec)
    real = (SHARED / "hw10_attack" / "ifgsm_adversarial_submission_example.tgz").read_bytes()
    checked = check_submission(spec, answers, real, "ifgsm.tgz")          # the course's own I-FGSM images
    assert len(checked.ids) == 200
    images = dict(zip(checked.ids.tolist(), checked.values))
    rel = c.data_dir("hw10") / "release" / "data"
    ref = np.asarray(Image.open(rel / "horse" / "horse7.png").convert("RGB")).astype(int)
    img = images["horse/horse7.png"].copy()
    d = img.astype(int) - ref
    r, col, ch = np.argwhere(np.abs(d) == 8)[0]                           # a pixel already at epsilon
    img[r, col, ch] = ref[r, col, ch] + 9 * int(np.sign(d[r, col, ch]))   # pushed to epsilon + 1
    with pytest.raises(Invalid) as e:
        check_submission(spec, answers, archive_of(dict(images, **{"horse/horse7.png": img})), "ifgsm.tgz")
    assert f"horse/horse7.png pixel (row {r}, column {col}, {'RGB'[ch]})" in str(e.value)
    assert "off by 9, 1 over epsilon" in str(e.value)
    # Scoring real images needs CIFAR-10-trained TA models: without them the grader says so.
    with pytest.raises(GradeError, match="CIFAR-10-trained TA models"):
        api.submit(c, "hw10", None, "s1", data=real, filename="ifgsm.tgz")


@pytest.mark.slow
def test_ladder_calibrates_and_verifies(prepared):
    c = prepared
    cal = api.calibrate(c, "hw10")
    assert cal.ok, cal.problems
    rep = api.verify(c, "hw10")
    assert rep.ok, rep.problems
    for board in ("public", "private"):
        scores = [getattr(rep.runs[lv], board) for lv in LEVELS]
        assert scores == sorted(scores, reverse=True), "lower is better: each level below the one before"
    print("\nHW10: " + ", ".join(f"{n} {r.public:.3f}/{r.private:.3f} ({r.seconds:.0f}s)" for n, r in rep.runs.items())
          + f"; {sum(r.seconds for n, r in rep.runs.items() if n != 'starter'):.0f} s of reference runs")


# A last cell a student might add after writing the submission: an fgsm that steps along the gradient
# scaled to a mean size of epsilon instead of its sign (so the large components leave the epsilon ball).
# The run's archive is unchanged.
BROKEN_FGSM = '''
def fgsm(model, x, y, loss_fn, epsilon=epsilon):
    x_adv = x.detach().clone()
    x_adv.requires_grad = True
    loss = loss_fn(model(x_adv), y)
    loss.backward()
    grad = x_adv.grad.detach()
    return x_adv + epsilon * grad / grad.abs().mean()
'''


@pytest.mark.slow
def test_rerun_and_hidden_checks_in_a_sandbox(prepared, tmp_path):
    """`grade batch hw10 --rerun`: the unchanged starter reproduces its submission.tgz and earns every code
    point; a copy with one image hand-edited back to the benign one is flagged with the image that
    differs; a notebook whose fgsm does not follow the gradient's sign loses those checks' points."""
    from grader.calibrate import _run_starter
    from grader.notebook import write_notebook

    backend = sandbox_backend()
    c, spec = prepared, api.assignment("hw10")
    # One thread, as in the sandbox (execution.cpus = 1): the same arithmetic, the same images.
    run = _run_starter(spec, c.data_dir("hw10") / "release", tmp_path / "local", 1)
    assert not run.error, run.error
    honest = (tmp_path / "local" / "submission.tgz").read_bytes()
    checked = validate(honest, "submission.tgz", spec.submission, np.array(NAMES, dtype=object))
    edited = dict(zip(checked.ids.tolist(), checked.values))
    edited["dog/dog2.png"] = np.asarray(Image.open(c.data_dir("hw10") / "release" / "data" / "dog" / "dog2.png"))
    for student, data, extra in (("s1", honest, None), ("s2", archive_of(edited), None), ("s3", honest, BROKEN_FGSM)):
        d = tmp_path / "class" / student
        d.mkdir(parents=True)
        (d / "submission.tgz").write_bytes(data)
        write_notebook(spec.folder / spec.starter.source, d / "HW10.ipynb")
        if extra:
            nb = nbformat.read(str(d / "HW10.ipynb"), as_version=4)
            nb.cells.append(nbformat.v4.new_code_cell(extra))
            nbformat.write(nb, str(d / "HW10.ipynb"))
    out = {o.student: o for o in api.batch(c, "hw10", tmp_path / "class", jobs=2, rerun=True, backend=backend)}
    checks = {s: {k.test: k for k in api.open_course(c.root).store.checks("hw10", s)} for s in out}
    code_points = sum(spec.execution.points.values())

    assert out["s1"].status == "scored" and out["s1"].rerun == "match", out["s1"]
    assert out["s1"].hidden_points == code_points == 2.0, checks["s1"]

    assert out["s2"].status == "scored" and out["s2"].rerun == "mismatch", out["s2"]
    assert "dog/dog2.png" in out["s2"].rerun_message, out["s2"].rerun_message
    reproduce = checks["s2"]["test_notebook_reproduces_the_uploaded_images"]
    assert reproduce.status == "failed" and "dog/dog2.png (up to" in reproduce.message
    assert out["s2"].hidden_points == code_points - spec.execution.points["test_notebook_reproduces_the_uploaded_images"]

    assert out["s3"].rerun == "match", out["s3"]
    failed = sorted(k for k, r in checks["s3"].items() if r.status == "failed")
    assert failed == ["test_fgsm_stays_within_epsilon", "test_fgsm_steps_along_the_sign_of_the_gradient"], checks["s3"]
    assert "x + epsilon * sign(gradient of the loss)" in checks["s3"]["test_fgsm_steps_along_the_sign_of_the_gradient"].message
    assert out["s3"].hidden_points == code_points - 0.75
