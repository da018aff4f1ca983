"""HW4 (speaker identification) dataset builder: simulated 40-bin log-mel utterances.

``build(ctx)`` writes, in the course's layout (``./Dataset`` of the ML2022 sample code):

    release/Dataset/metadata.json   {"n_mels": 40, "speakers": {name: [{"feature_path", "mel_len"}, ...]}}
    release/Dataset/mapping.json    {"speaker2id": {name: k}, "id2speaker": {"k": name}}
    release/Dataset/testdata.json   {"n_mels": 40, "utterances": [{"feature_path", "mel_len"}, ...]}
    release/Dataset/uttr-<hex>.pt   one float32 tensor (mel_len, 40) per utterance (torch.save)
    release/sample_submission.csv   Id,Category: every test file name, one placeholder speaker
    hidden/answers.csv              Id,Category: test file name -> speaker name
    hidden_inputs/probe_mels.npy    unseen utterances for the hidden probe, padded with -20 (N, T_max, 40)
    hidden_inputs/probe_lens.npy    their lengths (N,); inputs only, no speaker labels

Sizes (``ctx.scale``): ``full`` has the course's shapes (600 speakers, 56,666 training and 8,000
test utterances, a few hundred to about a thousand frames each); ``ci`` has 60 speakers, 40 training
and 20 test utterances per speaker and 60-200 frames, so the whole reference ladder trains on two
CPU cores in about a minute. There is no real source: the VoxCeleb2 features are not redistributable.

How an utterance is made (all in log-mel units; the course pads with -20, below anything here):

* Content is shared by everyone: a vocabulary of words, each a fixed sequence of phones from one
  inventory (voiced phones with three formants, unvoiced phones with one broad noise band), read in
  random order with pauses between words. The phone a frame belongs to explains most of its variance.
* The speaker shows only in the **voiced** frames: a vocal-tract-length warp of the formant
  positions (so reading it needs the phone: a non-linear, content-dependent cue), a spectral tilt,
  and a pitch ripple (harmonics) in the low bins. Unvoiced frames and pauses carry no speaker at all.
* Speakers come in **look-alike pairs** that share warp, tilt and mean pitch almost exactly (like
  two people of the same age, sex and accent). A pair differs in its habits over time: one speaks
  fast and the other slowly (frames per phone), and their syllable rhythm (loudness and pitch rise
  and fall) has a different period. Both members have the same spread of loudness and pitch, so
  these cues live in the order of the frames only.
* Every utterance has its own pause share, background-noise level ("babble": random spectra that
  drift from frame to frame, mixed in by log-add-exp, so quiet bins drown), channel colour (a smooth
  EQ curve over all frames) and a little measurement noise.

What each level of the course's hints gains here, and why:

* simple (sample code: one transformer layer, d_model 80, mean pooling) learns the static voiced-
  frame cues roughly and mostly finds the right pair.
* medium (tuned transformer: wider, deeper, more heads) reads the phone-dependent warp better and
  finds the pair more often. Self-attention without positions sees a bag of frames, so a look-alike
  pair stays not much better than a coin flip for any transformer that mean-pools.
* strong (Conformer: a depthwise convolution over time inside every block) sees local order, so it
  hears speaking rate and pitch rhythm and separates the two members of a pair.
* boss (self-attention pooling + additive-margin softmax): only voiced frames carry the speaker and
  their share changes from one utterance to the next (pauses, unvoiced phones, noise). Mean pooling
  dilutes the signature by that share and moves the embedding's length with it; attention pooling
  weights the informative frames, and the cosine classifier of AM-softmax ignores the length and
  trains the embeddings of a pair apart by a margin.

The same seed gives byte-identical files (``numpy.random.default_rng(ctx.seed)`` only; torch.save of
the same tensor under the same file name writes the same bytes).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

N_MELS = 40
PAD = -20.0                     # the course's padding value (log 10^-20); frames here stay within about -11..8
U = np.linspace(0.0, 1.0, N_MELS)   # bin position on the mel axis

SCALES = {
    # n_train: total training utterances (split as evenly as possible over speakers)
    "ci": dict(n_speakers=60, n_train=2400, n_test=1200, mel_len=(60, 200), n_probe=48),
    "full": dict(n_speakers=600, n_train=56666, n_test=8000, mel_len=(200, 1200), n_probe=64),
}

# The world: phone inventory, vocabulary, speaker habits.
N_VOICED, N_UNVOICED, N_WORDS = 18, 10, 200
RATES = (3.0, 7.0)              # frames per phone of the fast and the slow member of a pair
PERIODS = (5.0, 12.0)           # frames per rise-and-fall of loudness and pitch (syllable rhythm)
RHYTHM = 1.25                   # loudness swing of that rhythm (log-mel units)
WITHIN = 0.05                   # how much the static voice of a pair's members differs (tilt sd)


def build(ctx) -> None:
    if ctx.source != "generated":
        raise ValueError(f"hw4: only the 'generated' source exists (the VoxCeleb2 features are not "
                         f"redistributable), got {ctx.source!r}")
    if ctx.scale not in SCALES:
        raise ValueError(f"hw4: unknown scale {ctx.scale!r} (expected one of {sorted(SCALES)})")
    size = dict(SCALES[ctx.scale], **{k: v for k, v in (ctx.options or {}).items() if k in SCALES["ci"]})
    release, hidden, probe_dir = Path(ctx.release_dir), Path(ctx.hidden_dir), Path(ctx.hidden_inputs_dir)
    dataset = release / "Dataset"
    for d in (dataset, hidden, probe_dir):
        d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(ctx.seed)

    n_spk = size["n_speakers"]
    world = make_world(rng, n_spk)
    names = speaker_names(rng, n_spk)
    lo, hi = size["mel_len"]

    # Training utterances: as many per speaker as the total allows, the remainder to random speakers.
    per_spk = np.full(n_spk, size["n_train"] // n_spk)
    per_spk[rng.permutation(n_spk)[: size["n_train"] % n_spk]] += 1
    # Test utterances: spread over the speakers the same way, then shuffled (no order gives anything away).
    test_spk = rng.permutation(np.resize(rng.permutation(n_spk), size["n_test"]))
    n_files = size["n_train"] + size["n_test"]
    file_names = unique_hex_names(rng, n_files)

    import torch  # the course's feature files are torch tensors

    def write(name: str, speaker: int) -> int:
        mel = utterance(rng, world, speaker, int(rng.integers(lo, hi + 1)))
        torch.save(torch.from_numpy(mel), dataset / name)
        return len(mel)

    k = 0
    speakers = {}
    for s in range(n_spk):
        entries = []
        for _ in range(per_spk[s]):
            entries.append({"feature_path": file_names[k], "mel_len": write(file_names[k], s)})
            k += 1
        speakers[names[s]] = entries
    test = []
    for s in test_spk:
        test.append((file_names[k], int(s), write(file_names[k], int(s))))
        k += 1

    _write_json(dataset / "metadata.json", {"n_mels": N_MELS, "speakers": speakers})
    _write_json(dataset / "mapping.json", {"speaker2id": {n: i for i, n in enumerate(names)},
                                          "id2speaker": {str(i): n for i, n in enumerate(names)}})
    _write_json(dataset / "testdata.json", {"n_mels": N_MELS, "utterances": [
        {"feature_path": f, "mel_len": n} for f, _, n in test]})
    _write_csv(release / "sample_submission.csv", ["Id", "Category"], [[f, names[0]] for f, _, _ in test])
    _write_csv(hidden / "answers.csv", ["Id", "Category"], [[f, names[s]] for f, s, _ in test])

    # Probe inputs: new utterances of random speakers, some shorter than a training segment, padded
    # the way collate_batch pads. No labels: the probe only checks shapes, padding and determinism.
    probe_spk = rng.integers(0, n_spk, size["n_probe"])
    lens = rng.integers(max(8, lo // 3), hi + 1, size["n_probe"])
    mels = np.full((len(lens), int(lens.max()), N_MELS), PAD, dtype=np.float32)
    for i, (s, n) in enumerate(zip(probe_spk, lens)):
        mels[i, :n] = utterance(rng, world, int(s), int(n))
    np.save(probe_dir / "probe_mels.npy", mels, allow_pickle=False)
    np.save(probe_dir / "probe_lens.npy", lens.astype(np.int64), allow_pickle=False)


# ---------------------------------------------------------------------------------- the world

def make_world(rng, n_spk: int) -> dict:
    """Phones, words and speakers. Speakers 2k and 2k+1 are a look-alike pair."""
    if n_spk % 2:
        raise ValueError("hw4: the number of speakers must be even (speakers come in look-alike pairs)")
    # Voiced phones: three formants (position on the mel axis, height, width).
    formants = np.sort(np.stack([rng.uniform(0.08, 0.30, N_VOICED), rng.uniform(0.30, 0.62, N_VOICED),
                                 rng.uniform(0.62, 0.85, N_VOICED)], axis=1), axis=1)
    heights = rng.uniform(2.0, 4.0, (N_VOICED, 3)) * np.array([1.0, 0.8, 0.6])
    widths = rng.uniform(0.03, 0.06, (N_VOICED, 3))
    # Unvoiced phones: one broad noise band, the same for every speaker.
    band = np.stack([rng.uniform(0.45, 0.95, N_UNVOICED), rng.uniform(0.08, 0.20, N_UNVOICED),
                     rng.uniform(2.0, 3.5, N_UNVOICED)], axis=1)
    n_phones = N_VOICED + N_UNVOICED
    duration = rng.uniform(0.7, 1.4, n_phones)          # relative length of each phone
    # Words: 2-6 phones, about four in five of them voiced (vowels carry the words).
    words = []
    for _ in range(N_WORDS):
        n = int(rng.integers(2, 7))
        words.append(np.where(rng.random(n) < 0.5, rng.integers(0, n_phones, n), rng.integers(0, N_VOICED, n)))

    n_pairs = n_spk // 2
    pair = np.repeat(np.arange(n_pairs), 2)
    # Static voice, shared by a pair: vocal-tract warp, spectral tilt (3 cosines), mean pitch spacing.
    warp = (1 + rng.uniform(-0.24, 0.24, n_pairs))[pair] * np.exp(rng.normal(0, 0.003, n_spk))
    tilt = rng.normal(0, 1.6, (n_pairs, 3))[pair] + rng.normal(0, WITHIN, (n_spk, 3))
    pitch = rng.uniform(0.05, 0.12, n_pairs)[pair] * np.exp(rng.normal(0, 0.007, n_spk))
    # Habits over time, different within a pair: speaking rate and pitch rhythm, each member its own.
    fast = np.concatenate([rng.permutation(2) for _ in range(n_pairs)])
    short = np.concatenate([rng.permutation(2) for _ in range(n_pairs)])
    rate = np.array(RATES)[fast] * np.exp(rng.normal(0, 0.05, n_spk))
    period = np.array(PERIODS)[short] * np.exp(rng.normal(0, 0.05, n_spk))
    depth = rng.uniform(0.15, 0.30, n_spk)
    return dict(formants=formants, heights=heights, widths=widths, band=band, duration=duration, words=words,
                pair=pair, warp=warp, tilt=tilt, pitch=pitch, rate=rate, period=period, depth=depth)


def utterance(rng, w: dict, s: int, n_frames: int) -> np.ndarray:
    """One utterance of speaker ``s``: (n_frames, 40) float32 log-mel."""
    T = n_frames
    # Phone labels per frame: -1 pause, 0..N_VOICED-1 voiced, the rest unvoiced.
    label = np.empty(T, dtype=np.int64)
    mean_pause = rng.uniform(2.0, 14.0)                  # this utterance's pause habit
    t = 0
    while t < T:
        n = int(rng.geometric(1.0 / mean_pause))
        label[t:t + n] = -1
        t += n
        for p in w["words"][rng.integers(0, len(w["words"]))]:
            d = max(1, int(round(w["rate"][s] * w["duration"][p] * np.exp(rng.normal(0, 0.25)))))
            label[t:t + d] = p
            t += d
    label = label[:T]

    x = np.full((T, N_MELS), -8.0)                       # silence floor
    voiced, unvoiced = (label >= 0) & (label < N_VOICED), label >= N_VOICED
    if voiced.any():
        p = label[voiced]
        pos = np.clip(w["formants"][p] * w["warp"][s], 0.02, 0.98)                   # (n, 3)
        env = (w["heights"][p][:, :, None]
               * np.exp(-(U[None, None] - pos[:, :, None]) ** 2 / (2 * w["widths"][p][:, :, None] ** 2))).sum(1)
        tilt = w["tilt"][s] @ np.cos(np.pi * np.outer(np.arange(1, 4), U))           # (40,)
        frames = np.flatnonzero(voiced)
        spacing = w["pitch"][s] * (1 + w["depth"][s] * np.sin(2 * np.pi * frames / w["period"][s]
                                                               + rng.uniform(0, 2 * np.pi)))
        ripple = 1.2 * np.cos(2 * np.pi * U[None] / spacing[:, None]) * np.exp(-U[None] / 0.35)
        x[voiced] = -3.0 + env + 0.6 * tilt[None] + ripple
    if unvoiced.any():
        centre, width, height = w["band"][label[unvoiced] - N_VOICED].T
        x[unvoiced] = -5.0 + height[:, None] * np.exp(-(U[None] - centre[:, None]) ** 2 / (2 * width[:, None] ** 2))
    # Coarticulation: neighbouring frames blend a little.
    smooth = x.copy()
    smooth[1:-1] = 0.25 * x[:-2] + 0.5 * x[1:-1] + 0.25 * x[2:]
    # Rhythm: speech gets louder and softer with the speaker's period. Added after the blending, so
    # both members of a pair have the same spread of loudness: the period shows only in the order.
    speech = label >= 0
    smooth[speech] += RHYTHM * np.sin(2 * np.pi * np.flatnonzero(speech) / w["period"][s]
                                      + rng.uniform(0, 2 * np.pi))[:, None]
    channel = rng.normal(0, 0.5, 3) @ np.cos(np.pi * np.outer(np.arange(1, 4), U))
    # Babble: random spectra that drift from frame to frame (AR(1), unit variance), at this utterance's level.
    babble = rng.normal(0, 1.0, (T, N_MELS))
    for t in range(1, T):
        babble[t] = 0.7 * babble[t - 1] + 0.71 * babble[t]
    noise = rng.uniform(-7.0, -2.0) + babble
    mel = np.logaddexp(smooth, noise) + channel[None] + rng.normal(0, 0.2, (T, N_MELS))
    return mel.astype(np.float32)


def speaker_names(rng, n: int) -> list[str]:
    """VoxCeleb2-style speaker ids (id00012 ... id09272), distinct, sorted as the course's mapping is."""
    return [f"id{k:05d}" for k in sorted(rng.choice(np.arange(12, 9273), size=n, replace=False))]


def unique_hex_names(rng, n: int) -> list[str]:
    """``uttr-<32 hex digits>.pt`` names, distinct, drawn from the seeded generator."""
    names, seen = [], set()
    while len(names) < n:
        h = rng.bytes(16).hex()
        if h not in seen:
            seen.add(h)
            names.append(f"uttr-{h}.pt")
    return names


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
