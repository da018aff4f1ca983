"""HW6 end to end: the drawn faces and their layout, the hidden judges, the starter, the release, archive
submissions, and the sandbox (re-run, gradient-penalty probe, tampering). The ladder is checked by
tools/hw06_ladder.py and `grade calibrate/verify hw6`, not here: medium (the sample DCGAN trained longer)
does not beat simple on every data seed (a BCE GAN's quality jumps from epoch to epoch; two of three test
courses tried gave medium a worse FID or AFD than simple), and a test must not leave that to chance."""

import ast
import copy
import importlib.util
import io
import re
import tarfile

import nbformat
import numpy as np
import pytest
from PIL import Image

from grader import api, catalog
from grader.course import Course
from grader.data import BuildContext, load_answers
from grader.notebook import build_notebook
from grader.scoring.archive import write_archive
from grader.scoring.score import score_bytes
from grader.scoring.validate import Invalid, validate

from .helpers import sandbox_backend

SMALL = {"n_train": 20, "n_slots": 10, "n_reference": 60, "n_judge": 200, "epochs": 1}


def make(tmp_path) -> Course:
    return Course.init(tmp_path / "c-hw06", homeworks={"hw06": {"deadline": "2022-04-22T23:59:00"}})


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Course:
    """One course with the ci data prepared, shared by the quick tests (a build takes seconds)."""
    c = make(tmp_path_factory.mktemp("hw06"))
    api.prepare(c, "hw6")
    return c


def module(name: str):
    spec = api.assignment("hw6")
    mod_spec = importlib.util.spec_from_file_location(f"hw06_{name}_test", spec.folder / f"{name}.py")
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    return mod


def build_small(tmp_path, name, seed=7, scale="ci"):
    root = tmp_path / name
    ctx = BuildContext(seed=seed, source="generated", edition="2022", scale=scale, shared_data=None,
                       release_dir=root / "release", hidden_dir=root / "hidden",
                       hidden_inputs_dir=root / "hidden_inputs", options=dict(SMALL))
    for d in (ctx.release_dir, ctx.hidden_dir, ctx.hidden_inputs_dir):
        d.mkdir(parents=True)
    module("data").build(ctx)
    return root


def archive(images: np.ndarray, names=None) -> bytes:
    names = names or [f"{k}.png" for k in range(1, len(images) + 1)]
    return write_archive(dict(zip(names, images)))


# ------------------------------------------------------------------------------------------------ data

def test_faces_are_reproducible_and_varied():
    faces = module("faces")
    a = faces.draw_faces(np.random.default_rng(3), 12, 32)
    assert a.dtype == np.uint8 and a.shape == (12, 32, 32, 3)
    assert np.array_equal(a, faces.draw_faces(np.random.default_rng(3), 12, 32))
    assert len({img.tobytes() for img in a}) == 12
    assert faces.draw_faces(np.random.default_rng(3), 2, 64).shape == (2, 64, 64, 3)
    attrs = faces.sample_attributes(np.random.default_rng(4), 4000)
    for name, labels in faces.CATEGORIES.items():   # every category occurs, in about its share
        share = np.bincount(attrs[name], minlength=len(labels)) / 4000
        assert np.allclose(share, faces.PROBS[name], atol=0.03), name


def test_generated_layout_matches_the_course(prepared):
    c = prepared
    m = api.prepare(c, "hw6")                         # the cached build
    data = c.data_dir("hw06")
    faces = sorted((data / "release" / "faces").iterdir(), key=lambda p: int(p.stem))
    assert [p.name for p in faces] == [f"{k}.png" for k in range(1, 3001)], "faces/1.png … faces/3000.png"
    with Image.open(faces[0]) as im:
        assert im.format == "PNG" and im.mode == "RGB" and im.size == (32, 32)
    assert sorted(p.name for p in (data / "release").iterdir()) == ["faces", "sample_submission.tgz"]
    with tarfile.open(data / "release" / "sample_submission.tgz") as tar:
        names = tar.getnames()
    assert names == [f"{k}.png" for k in range(1, 501)] and m["rows"] == 500, "1.png … 500.png, no folder"
    hidden = {p.name for p in (data / "hidden").iterdir()}
    assert {"answers.csv", "public.npy", "evaluator.pt", "detector.pt", "fid_reference.npy"} <= hidden
    assert np.load(data / "hidden" / "fid_reference.npy").shape == (2000, 32)
    inputs = {p.name for p in (data / "hidden_inputs").iterdir()}
    assert {"gp_critic.pt", "gp_batch_0.npy", "gp_antipodal.npy"} <= inputs and "answers.csv" not in inputs


def test_same_seed_same_bytes_and_full_scale_is_64(tmp_path):
    a, b = build_small(tmp_path, "a"), build_small(tmp_path, "b")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files), "judges and faces are seeded"
    other = build_small(tmp_path, "other", seed=8)
    assert (other / "release/faces/1.png").read_bytes() != (a / "release/faces/1.png").read_bytes()
    full = build_small(tmp_path, "full", scale="full")
    with Image.open(full / "release" / "faces" / "1.png") as im:
        assert im.size == (64, 64)


def test_judges_tell_real_faces_from_what_weak_generators_draw(prepared):
    """Through the platform's scoring: fresh real faces score a low FID and a high AFD; the black sample,
    noise and blurred faces score far worse."""
    c = prepared
    spec = api.assignment("hw6")
    answers = load_answers(c, spec)
    faces, data = module("faces"), module("data")
    rng = np.random.default_rng(11)
    real = faces.draw_faces(rng, 500, 32)
    blurred = real.reshape(500, 4, 8, 4, 8, 3).mean(axis=(2, 4)).repeat(8, axis=1).repeat(8, axis=2).astype(np.uint8)
    noise = rng.integers(0, 256, real.shape, dtype=np.uint8)
    scores = {name: score_bytes(spec, answers, archive(x), "images.tgz")
              for name, x in (("real", real), ("blurred", blurred), ("noise", noise),
                              ("non-faces", data.non_faces(faces, rng, 500, 32)))}
    fid = {k: s.public for k, s in scores.items()}
    afd = {k: s.extra["acceptance"][0] for k, s in scores.items()}
    assert afd["real"] >= 0.95 and max(afd["blurred"], afd["noise"], afd["non-faces"]) <= 0.1, afd
    assert fid["real"] * 5 < min(fid["blurred"], fid["noise"], fid["non-faces"]), fid
    black = (c.data_dir("hw06") / "release" / "sample_submission.tgz").read_bytes()
    s = score_bytes(spec, answers, black, "images.tgz")
    assert s.public > 5 * fid["real"] and s.extra["acceptance"] == (0.0, 0.0)


def test_a_detector_that_rejects_real_faces_is_recalibrated_and_a_good_one_is_left_alone(prepared):
    """The detector's acceptance of real faces is fixed at 99 % of a held-out draw, whatever the CPU made of
    its four epochs; the calibration only ever makes it more lenient."""
    import torch

    grading, faces, data = module("grading"), module("faces"), module("data")
    hidden = prepared.data_dir("hw06") / "hidden"
    _, det = grading.judges(hidden)
    det = copy.deepcopy(det)
    rng = np.random.default_rng(5)
    real, fresh = faces.draw_faces(rng, 1000, 32), faces.draw_faces(rng, 500, 32)

    def accepted(net, x) -> float:
        with torch.no_grad():
            return float((torch.sigmoid(net(grading.to_tensor(x))) > grading.ACCEPT).float().mean())

    with torch.no_grad():
        det.fc[-1].bias -= 4.0  # a detector that turned out strict
    assert accepted(det, fresh) < 0.9
    data._calibrate_detector(det, grading, real)
    assert accepted(det, fresh) >= 0.97
    bias = det.fc[-1].bias.clone()
    data._calibrate_detector(det, grading, real)  # already calibrated: nothing moves
    assert torch.equal(det.fc[-1].bias, bias)


# --------------------------------------------------------------------------------------------- starter

def test_starter_notebook_mirrors_the_course_sample_code():
    spec = api.assignment("hw6")
    source = (spec.folder / spec.starter.source).read_text()
    nb = build_notebook(source)
    nbformat.validate(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for name in ("def same_seeds", "same_seeds(2022)", "class CrypkoDataset", "def get_dataset", "class Generator",
                 "def dconv_bn_relu", "class Discriminator", "def conv_bn_lrelu", "def weights_init",
                 "class TrainerGAN", "def prepare_environment", "def gp(self, r_imgs, f_imgs)", "def train(self)",
                 "def inference(self, G_path", "nn.BCELoss()", "betas=(0.5, 0.999)", '"model_type": "GAN"',
                 '"z_dim": 100', '"n_critic": 1', "NOTE FOR SETTING DISCRIMINATOR LOSS", "WGAN-GP:",
                 "NOTE FOR SETTING WEIGHT CLIP", "Remove last sigmoid layer for WGAN", "nn.InstanceNorm2d",
                 "nn.Tanh()", "nn.Sigmoid()", "nn.LeakyReLU(0.2)", "images.tgz", "f'{i+1}.png'"):
        assert name in code, name
    imported = {a.name.split(".")[0] for n in ast.walk(ast.parse(code)) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in (n.names if isinstance(n, ast.Import) else [ast.alias(n.module or "")])}
    assert not imported & {"torchvision", "tqdm"}, "neither is in the course image"
    assert any(c.cell_type == "markdown" and "autograder" in c.source for c in nb.cells)
    # The simple reference is the starter's training: the same seed and config.
    ref = (catalog.REPO_ROOT / spec.baselines["simple"].solution).read_text()
    config = ast.literal_eval(re.search(r"^config = (\{.*?^\})", code, re.S | re.M)[1]
                              .replace("workspace_dir, # define in the environment setting", "None"))
    for field, key in (("seed", None), ("batch_size", "batch_size"), ("lr", "lr"), ("n_epoch", "n_epoch"),
                       ("n_critic", "n_critic"), ("z_dim", "z_dim"), ("feature_dim", "feature_dim")):
        m = re.search(rf"^    {field}: \w+ = ([\d.e-]+)", ref, re.M)
        want = 2022 if key is None else config[key]
        assert m and float(m[1]) == float(want), f"simple.py Config.{field} differs from the starter"


def test_release_bundle_is_complete_and_clean(prepared, tmp_path):
    c = prepared
    dest = api.release(c, "hw6", tmp_path / "out")        # refuses (raises) when the scan finds a leak
    names = {p.name for p in dest.iterdir()}
    assert names == {"README.md", "HW06.ipynb", "faces", "sample_submission.tgz", "assignment.json", "tests"}
    assert len(list((dest / "faces").iterdir())) == 3000
    assert (dest / "tests" / "public" / "test_format.py").is_file()
    for hidden in ("answers.csv", "evaluator.pt", "detector.pt", "fid_reference.npy", "probe.py", "grading.py",
                   "faces.py", "gp_critic.pt"):
        assert not list(dest.rglob(hidden)), hidden
    from grader.release import scan_bundle
    assert scan_bundle(c, api.assignment("hw6"), dest) == []


def test_malformed_archives_get_precise_messages(prepared):
    spec = api.assignment("hw6")
    ids = np.array([f"{k}.png" for k in range(1, 501)], dtype=object)
    imgs = module("faces").draw_faces(np.random.default_rng(1), 500, 32)
    validate(archive(imgs), "images.tgz", spec.submission, ids)

    def problems(data: bytes) -> str:
        with pytest.raises(Invalid) as e:
            validate(data, "images.tgz", spec.submission, ids)
        return str(e.value)

    assert "archive the files, not the folder" in problems(archive(imgs, [f"output/{k}.png" for k in range(1, 501)]))
    assert "1 expected image(s) are missing: 500.png" in problems(archive(imgs[:499]))
    big = np.zeros((500, 64, 64, 3), np.uint8)
    assert "1.png is 64x64 RGB, expected 32x32 RGB" in problems(archive(big))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for k in range(1, 501):
            buf = io.BytesIO()
            Image.fromarray(imgs[k - 1]).save(buf, format="JPEG")
            info = tarfile.TarInfo(f"{k}.png")
            info.size = len(buf.getvalue())
            tar.addfile(info, io.BytesIO(buf.getvalue()))
    assert "not a readable PNG" in problems(out.getvalue())
    assert "not a .tgz" in problems(b"1.png,2.png\n")
    padded = archive(imgs) + bytes(2_000_001)                     # the course's rule: *.tgz < 2 MB
    assert "over the size limit of 2,000,000 bytes" in problems(padded)


# ------------------------------------------------------------------------------------------- the sandbox

@pytest.mark.slow
def test_rerun_and_hidden_checks_on_the_starter(prepared, tmp_path):
    """`grade batch hw6 --rerun`: the unchanged starter reproduces its images.tgz and passes every hidden check;
    a hand-edited copy of its images is flagged; a notebook whose gp is broken loses the gp checks' points."""
    from grader.calibrate import _run_starter
    from grader.notebook import write_notebook

    backend = sandbox_backend()
    c = prepared
    spec = api.assignment("hw6")
    # The unchanged starter's own images.tgz, trained on one thread as the sandbox re-runs it.
    local = tmp_path / "local"
    run = _run_starter(spec, c.data_dir("hw06") / "release", local, 1)
    assert not run.error, run.error
    honest = (local / "images.tgz").read_bytes()
    with tarfile.open(fileobj=io.BytesIO(honest)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    img = np.asarray(Image.open(io.BytesIO(files["7.png"]))).copy()
    img[10:14, 10:14] = 255 - img[10:14, 10:14]                  # a hand edit of one image
    tampered = write_archive({n: (img if n == "7.png" else np.asarray(Image.open(io.BytesIO(b))))
                              for n, b in files.items()})
    source = (spec.folder / spec.starter.source).read_text()
    broken = source.replace("((gradients.norm(2, dim=1) - 1) ** 2).mean() * 10",
                            "((gradients.norm(2, dim=1) - 1) ** 2).sum() * 10")
    assert broken != source
    (tmp_path / "broken.py").write_text(broken)
    for student, nb_source, upload in (("b1", spec.folder / spec.starter.source, honest),
                                       ("b2", spec.folder / spec.starter.source, tampered),
                                       ("b3", tmp_path / "broken.py", honest)):
        d = tmp_path / "class" / student
        d.mkdir(parents=True)
        (d / "images.tgz").write_bytes(upload)
        write_notebook(nb_source, d / "HW06.ipynb")
    out = {o.student: o for o in api.batch(c, "hw6", tmp_path / "class", jobs=2, rerun=True, backend=backend)}
    assert out["b1"].rerun == "match" and out["b1"].hidden_points == 2.0, out["b1"]
    assert out["b2"].rerun == "mismatch" and "1 of 500 rows differ" in out["b2"].rerun_message, out["b2"]
    store = api.open_course(c.root).store
    failed = {s: sorted(k.test for k in store.checks("hw06", s) if k.status == "failed") for s in ("b2", "b3")}
    assert failed["b2"] == ["test_notebook_reproduces_the_uploaded_images"], failed
    assert failed["b3"] == ["test_gradient_penalty_backpropagates_to_the_critic",
                            "test_gradient_penalty_matches_the_reference"], failed
    assert out["b3"].rerun == "match" and out["b3"].hidden_points == 1.25, out["b3"]
    book = {r["student_id"]: r for r in api.gradebook(c)}
    assert book["b1"]["hw06_rerun"] == "match" and book["b2"]["hw06_rerun"] == "mismatch"
