"""HW2 (framewise phoneme classification) dataset builder.

``build(ctx)`` writes the student release in the course's own layout

    libriphone/train_split.txt        training utterance ids, one per line
    libriphone/train_labels.txt       ``utt_id label label …``: one phoneme class (0..40) per frame
    libriphone/test_split.txt         test utterance ids; prediction.csv numbers their frames in this order
    libriphone/feat/train/<id>.pt     (T, 39) float32 tensors (torch.save), MFCC + delta + delta-delta, CMVN
    libriphone/feat/test/<id>.pt      the same for the test utterances (their labels are not released)

and ``hidden/answers.csv`` (``Id,Class``: Id = running frame index over the test utterances in
test_split order, as the sample code writes it) and ``hidden_inputs/seq_<i>.npy``: a few unseen
(T, 39) sequences, features only, for the hidden probe of ``concat_feat`` and ``Classifier``.

Only the ``generated`` source exists: the course's libriphone files are not part of this installation.
``full`` scale has the course's shapes (4,268 train utterances with 2,644,158 frames, 1,078 test
utterances with 646,268 frames, 41 classes, 251 speakers; ~520 MB, a few minutes to build); ``ci``
scale is a small corpus (250 train, 120 test utterances of ~180 frames, 40 speakers, still 41
classes) on which the whole reference ladder takes about 70 s of CPU, 40 s on 2 cores.

How an utterance is simulated, so that a single frame is ambiguous and context decides:

* Speech is sentences over a small vocabulary: every word is a fixed phone sequence (3-7 phones,
  drawn from a sparse phone bigram, every class used by some word), words come with Zipf
  frequencies, silence (class 0) opens and closes each utterance and sometimes falls between words.
  Segment durations are per-phone means (3-10 frames of 10 ms) times a per-utterance speaking rate.
* Each phone has a 13-dim cepstral target. The 40 speech phones sit in 12 clusters whose members
  are close (class means overlap); 40 % of them are "dynamic" (diphthong-like): their target glides
  across the segment, so only the trajectory of several frames tells them from a static neighbour.
* Every segment gets its own token offset, the target track is smoothed over ~1.5 frames
  (co-articulation: frames near a boundary blend into the neighbour), a per-speaker linear warp is
  applied, and strong AR(1) frame noise is added. Deltas and delta-deltas (HTK regression, window 2)
  make the 39 dims; CMVN normalises every utterance.

What each level's technique is paid for (accuracy on the ci corpus, data seeds 1, 2, 3, 7):

* simple (one frame, 0.45-0.55): the frame noise is as large as the spread of a phone cluster, so a
  frame mostly names its cluster, not its phone.
* medium (11 concatenated frames + more layers, 0.63-0.73): averaging the window removes much of the
  frame noise and shows the glide of dynamic phones and the neighbouring phones (the bigram).
* strong (+ batchnorm + dropout, at a 10x learning rate, 0.71-0.81): the 429-dim window over a few
  hundred training utterances is easy to memorise: the plain net at that learning rate peaks after
  a few epochs (about 3 % below strong); batchnorm + dropout keep it improving.
* boss (a BiLSTM over whole utterances, 0.77-0.86): a phone's identity is fixed by its word, which
  spans 3-7 phones (20-40 frames), beyond an 11-frame window; the recurrent states carry the whole
  word and gain another 7-9 % (with 300 words instead of 20, a prototype's gain was ~2 %).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

N_CLASSES = 41
SILENCE = 0
N_CEPS = 13                 # static cepstra; with delta and delta-delta: 39 dims
FEATURE_DIM = 3 * N_CEPS

# Corpus sizes. full = the ML2022 libriphone shapes; ci = a corpus the CI ladder can afford.
SCALES = {
    "full": {"speakers": 251, "train_utts": 4268, "test_utts": 1078,
             "train_frames": 2_644_158, "test_frames": 646_268},
    "ci": {"speakers": 40, "train_utts": 250, "test_utts": 120, "mean_frames": 180},
}

# The simulated "language" and "acoustics" (the same at every scale).
WORLD = {
    "clusters": 12, "center_sd": 1.0, "spread": 0.45,          # phone means: 12 clusters of close phones
    "dynamic_frac": 0.4, "motion": 0.8,                        # diphthong-like glides inside a segment
    "dur_lo": 3, "dur_hi": 10, "sil_dur": 20,                  # mean durations (frames) of phones, pauses
    "bigram_alpha": 0.08, "n_words": 20, "word_lo": 3, "word_hi": 7, "zipf": 1.0,
    "edge_sil": 15, "pause": 0.15,                             # silences at the edges and between words
    "token_sd": 0.4, "coart_sd": 1.5, "noise_sd": 1.2, "noise_rho": 0.3, "speaker_sd": 0.1,
}
N_PROBE_SEQS = 6            # hidden sequences for the probe of concat_feat / Classifier


def build(ctx) -> None:
    if ctx.source != "generated":
        raise ValueError(f"hw2: unknown source {ctx.source!r}; only 'generated' exists (the course's "
                         "libriphone files are not part of this installation)")
    if str(ctx.edition) != "2022":
        raise ValueError(f"hw2: source 'generated' has the 2022 layout only, got edition {ctx.edition!r}")
    if ctx.scale not in SCALES:
        raise ValueError(f"hw2: unknown scale {ctx.scale!r} (expected one of {sorted(SCALES)})")
    size = SCALES[ctx.scale]
    rng = np.random.default_rng(ctx.seed)
    world = make_world(rng, WORLD)

    release = Path(ctx.release_dir) / "libriphone"
    for split in ("train", "test"):
        (release / "feat" / split).mkdir(parents=True, exist_ok=True)
    hidden = Path(ctx.hidden_dir)
    hidden.mkdir(parents=True, exist_ok=True)

    n_train, n_test = size["train_utts"], size["test_utts"]
    ids = utterance_ids(rng, size["speakers"], n_train + n_test)      # {speaker}-{chapter}-{index}
    speaker_of = {u: int(u.split("-")[0]) for u in ids}
    speakers = {s: speaker_warp(rng, WORLD) for s in sorted(set(speaker_of.values()))}
    is_test = np.zeros(len(ids), dtype=bool)
    is_test[rng.permutation(len(ids))[:n_test]] = True
    train_ids = sorted(u for u, t in zip(ids, is_test) if not t)
    test_ids = sorted(u for u, t in zip(ids, is_test) if t)
    lengths = {**dict(zip(train_ids, utterance_lengths(rng, n_train, size, "train"))),
               **dict(zip(test_ids, utterance_lengths(rng, n_test, size, "test")))}

    import torch  # only for the course's .pt format

    with open(release / "train_labels.txt", "w") as labels_file:
        for utt in train_ids:
            feat, labels = utterance(rng, world, speakers[speaker_of[utt]], lengths[utt], WORLD)
            torch.save(torch.from_numpy(feat), release / "feat" / "train" / f"{utt}.pt")
            labels_file.write(utt + " " + " ".join(map(str, labels.tolist())) + "\n")
    answers = []
    for utt in test_ids:
        feat, labels = utterance(rng, world, speakers[speaker_of[utt]], lengths[utt], WORLD)
        torch.save(torch.from_numpy(feat), release / "feat" / "test" / f"{utt}.pt")
        answers.append(labels)
    (release / "train_split.txt").write_text("".join(u + "\n" for u in train_ids))
    (release / "test_split.txt").write_text("".join(u + "\n" for u in test_ids))

    answers = np.concatenate(answers)
    with open(hidden / "answers.csv", "w", newline="") as f:
        f.write("Id,Class\n")
        f.writelines(f"{i},{c}\n" for i, c in enumerate(answers.tolist()))

    # Unseen utterances of unseen speakers for the probe: features only, their labels are never written.
    probe_dir = Path(ctx.hidden_inputs_dir)
    probe_dir.mkdir(parents=True, exist_ok=True)
    for i, n_frames in enumerate(rng.integers(24, 160, N_PROBE_SEQS)):
        feat, _ = utterance(rng, world, speaker_warp(rng, WORLD), int(n_frames), WORLD)
        np.save(probe_dir / f"seq_{i}.npy", feat, allow_pickle=False)


# ------------------------------------------------------------------------------------ the corpus

def utterance_ids(rng, n_speakers: int, n: int) -> list[str]:
    """LibriSpeech-style ids `speaker-chapter-index` (e.g. 103-1240-0007), a few chapters per speaker."""
    speakers = np.sort(rng.choice(np.arange(19, 9000), n_speakers, replace=False))
    chapters = {s: np.sort(rng.choice(np.arange(100, 300000), rng.integers(1, 4), replace=False)) for s in speakers}
    per_speaker = np.bincount(rng.integers(0, n_speakers, n), minlength=n_speakers)
    ids = []
    for s, count in zip(speakers, per_speaker):
        chapter = rng.choice(chapters[s], count)
        for j, c in enumerate(chapter):
            ids.append(f"{s}-{c}-{j:04d}")
    return ids


def utterance_lengths(rng, n: int, size: dict, split: str) -> np.ndarray:
    """Frames per utterance: gamma-distributed; at full scale rescaled to the course's exact total."""
    total = size.get(f"{split}_frames")
    mean = total / n if total else size["mean_frames"]
    lengths = np.maximum(40, np.round(rng.gamma(6.0, mean / 6.0, n))).astype(np.int64)
    if total:
        lengths = np.maximum(40, np.round(lengths * total / lengths.sum())).astype(np.int64)
        while lengths.sum() != total:  # fix the rounding, one frame at a time on random utterances
            diff = int(total - lengths.sum())
            pick = rng.choice(np.flatnonzero(lengths > 40), min(abs(diff), n), replace=False)
            lengths[pick] += np.sign(diff)
    return lengths


# ------------------------------------------------------------------------------------ the world

def make_world(rng, p: dict) -> dict:
    """Phone inventory (means, glides, durations) and the vocabulary."""
    n_speech = N_CLASSES - 1
    centers = rng.normal(0, p["center_sd"], (p["clusters"], N_CEPS))
    cluster = rng.permutation(np.arange(n_speech) % p["clusters"])
    means = np.empty((N_CLASSES, N_CEPS))
    means[1:] = centers[cluster] + p["spread"] * rng.normal(0, 1, (n_speech, N_CEPS))
    means[SILENCE] = 0.3 * rng.normal(0, 1, N_CEPS)
    means[SILENCE, 0] -= 2.0                                    # silence: low energy (c0)
    direction = rng.normal(0, 1, (N_CLASSES, N_CEPS))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    glide = np.zeros(N_CLASSES)
    glide[1 + rng.permutation(n_speech)[: int(p["dynamic_frac"] * n_speech)]] = p["motion"]
    duration = np.r_[p["sil_dur"], rng.uniform(p["dur_lo"], p["dur_hi"], n_speech)]

    # Vocabulary: phone strings from a sparse bigram, then every speech phone placed in some word.
    bigram = rng.dirichlet(np.full(n_speech, p["bigram_alpha"]), size=n_speech)
    start = rng.dirichlet(np.full(n_speech, 0.5))
    words = []
    for _ in range(p["n_words"]):
        w = [rng.choice(n_speech, p=start)]
        for _ in range(rng.integers(p["word_lo"], p["word_hi"] + 1) - 1):
            w.append(rng.choice(n_speech, p=bigram[w[-1]]))
        words.append(w)
    used = {ph for w in words for ph in w}
    for ph in rng.permutation([ph for ph in range(n_speech) if ph not in used]):
        w = words[rng.integers(len(words))]
        pos = int(rng.integers(len(w)))
        if sum(x == w[pos] for ww in words for x in ww) > 1:   # never remove a phone's last occurrence
            w[pos] = ph
        else:
            w.append(ph)
    words = [np.array(w) + 1 for w in words]                    # class 0 is silence
    freq = 1.0 / np.arange(1, len(words) + 1) ** p["zipf"]
    return {"means": means, "direction": direction, "glide": glide, "duration": duration,
            "words": words, "word_p": freq / freq.sum()}


def speaker_warp(rng, p: dict):
    """A speaker: a near-identity linear map of the cepstra plus an offset."""
    return (np.eye(N_CEPS) + p["speaker_sd"] * rng.normal(0, 1, (N_CEPS, N_CEPS)),
            rng.normal(0, 0.5, N_CEPS))


def segments(rng, world: dict, n_frames: int, p: dict) -> tuple[np.ndarray, np.ndarray]:
    """(phones, durations) of an utterance of exactly n_frames: silence, words, silence."""
    rate = rng.uniform(0.85, 1.2)                               # speaking rate of this utterance
    final = int(np.clip(round(rng.normal(p["edge_sil"], 5)), 3, n_frames // 4))
    first = int(np.clip(round(rng.normal(p["edge_sil"], 5)), 3, n_frames // 4))
    phones, durs, total = [SILENCE], [first], first
    body = n_frames - final
    while total < body:
        for ph in world["words"][rng.choice(len(world["words"]), p=world["word_p"])]:
            d = 1 + int(rng.poisson(max(world["duration"][ph] * rate - 1, 0.5)))
            phones.append(int(ph))
            durs.append(max(2, d))
            total += durs[-1]
        if rng.random() < p["pause"]:
            phones.append(SILENCE)
            durs.append(int(rng.integers(3, 10)))
            total += durs[-1]
    # cut the last words at the body length (an utterance may end mid-word), then the closing silence
    durs = np.array(durs)
    ends = np.cumsum(durs)
    keep = int(np.searchsorted(ends, body)) + 1
    durs = durs[:keep]
    durs[-1] -= int(ends[keep - 1] - body)
    phones = np.array(phones[:keep] + [SILENCE])
    durs = np.append(durs, final)
    return phones[durs > 0], durs[durs > 0]


def utterance(rng, world: dict, speaker, n_frames: int, p: dict) -> tuple[np.ndarray, np.ndarray]:
    """(features (T, 39) float32, labels (T,) int) of one utterance."""
    from scipy.ndimage import gaussian_filter1d
    from scipy.signal import lfilter

    phones, durs = segments(rng, world, n_frames, p)
    labels = np.repeat(phones, durs)                                         # (T,)
    token = world["means"][phones] + p["token_sd"] * rng.normal(0, 1, (len(phones), N_CEPS))
    target = np.repeat(token, durs, axis=0)                                  # (T, 13)
    # glides: position in the segment from +1 (start) to -1 (end) along the phone's direction
    start = np.repeat(np.cumsum(durs) - durs, durs)
    length = np.repeat(durs, durs)
    pos = 1 - 2 * (np.arange(len(labels)) - start) / np.maximum(length - 1, 1)
    target += (world["glide"][labels] * pos)[:, None] * world["direction"][labels]
    # co-articulation: neighbouring segments blend near their boundary
    track = gaussian_filter1d(target, p["coart_sd"] * rng.uniform(0.8, 1.25), axis=0, mode="nearest")
    warp, offset = speaker
    track = track @ warp.T + offset
    rho = p["noise_rho"]
    noise = lfilter([np.sqrt(1 - rho * rho)], [1, -rho], rng.normal(0, 1, track.shape), axis=0)
    ceps = track + p["noise_sd"] * noise
    feat = np.concatenate([ceps, deltas(ceps), deltas(deltas(ceps))], axis=1)  # (T, 39)
    feat = (feat - feat.mean(axis=0)) / (feat.std(axis=0) + 1e-8)              # CMVN per utterance
    return feat.astype(np.float32), labels.astype(np.int64)


def deltas(c: np.ndarray, n: int = 2) -> np.ndarray:
    """HTK regression deltas over +-n frames, edge frames repeated. (T, D) -> (T, D)."""
    T = len(c)
    padded = np.pad(c, ((n, n), (0, 0)), mode="edge")
    den = 2 * sum(i * i for i in range(1, n + 1))
    return sum(i * (padded[n + i:n + i + T] - padded[n - i:n - i + T]) for i in range(1, n + 1)) / den
