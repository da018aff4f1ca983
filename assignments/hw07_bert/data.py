"""HW7 (extractive question answering) dataset builder.

``build(ctx)`` writes, in the course's layout (the files the ML2022 sample code reads):

    release/hw7_train.json          {"questions": [{id, paragraph_id, question_text, answer_text,
    release/hw7_dev.json                            answer_start, answer_end}], "paragraphs": [str]}
    release/hw7_test.json           the same, answer_text / answer_start / answer_end null
    release/sample_submission.csv   ID,Answer: every test question id, an empty answer
    hidden/answers.csv              ID,Answer: the answer text of every test question, commas removed
                                    (the course's result.csv rule: csv is separated by commas)
    hidden_inputs/probe_*.npy       start/end logits and paragraph masks (4 windows per case) for the
                                    hidden probe of the notebook's span post-processing; no answers

``answer_start`` / ``answer_end`` are character positions in the paragraph, the end inclusive, as in
the course files: ``paragraph[answer_start:answer_end + 1] == answer_text``. Question ids are 0..n-1
in each file and ``paragraph_id`` indexes that file's ``paragraphs``.

Two sources:

* ``real``: the course's own ``hw7_dev.json`` (DRCD, Traditional Chinese, 4,131 answered questions on
  1,490 paragraphs; ``<shared_data>/hw07_drcd/``, sha256 checked). The course's test file has no
  answers, so it cannot be graded and is not used. The dev paragraphs are split by ``ctx.seed``
  (whole paragraphs, so no test paragraph is seen in training): 30 % of them become the hidden test
  set, 8 % the released dev set, the rest the released training set.
* ``generated`` (default): English passages about generated people and towns. Entities come from
  fixed pools (every name is seen in training), facts are sentences, and the questions ask for one
  fact each (``When was Alice Moreau born?`` -> ``5 March 1987``; ``Which book did Anton Rowe
  write?`` -> ``The Hidden Voyage of Stone``). ``ci`` has 1,000 / 80 / 400 paragraphs of about
  130-260 tokens (3 questions each) for a window of 40 tokens; ``full`` has the course's
  31,690 / 4,131 / 4,957 questions on 10,524 / 1,490 / 1,586 paragraphs of about 350-450 words, for
  the course's 150-token window.

How the passages are built, so that each level's technique is what pays (measured with
``tools/hw07_ladder.py`` on several seeds; the handout has the numbers):

* A passage tells about two or three people (``ci``; six to eight at ``full``) and a town, each
  fact in a sentence whose word order varies: the question's cue (the person's name, the verb) may
  come before or after the answer, several words away, and a later sentence may name a person by
  first name or pronoun only. Plain sentences without answers are mixed in, so the answers lie
  anywhere in a passage four to six windows long.
* **medium** (overlapping windows, smaller ``doc_stride``; linear decay): with windows that do not
  overlap, an answer is anywhere in its window, often with its cue in the window before, and the
  long answers (book titles, 3 to 6 tokens; dates, 3) straddle two windows: no window holds what is
  needed. With windows a quarter window apart one always does, near its middle, which is where the
  sample's centred training windows taught the model to look.
* **strong** (training windows not always centred on the answer): the sample code centres every
  training window on its answer, so the answer always sits at the same place of the input. A model
  trained from scratch learns that position instead of reading; at test time the answer lies
  anywhere in a window. Random window offsets remove the cue, and the model has to read.
* **boss** (post-processing): a quarter of the questions ask for a book title, and most passages
  name two people's books in one sentence, each title's author after it (``The library keeps The
  Silent Mill by Clara and The Long Road of Stone by Anton.``). The end of the right title sits
  next to its cue, its start does not: the independent argmax of the sample code then runs from the
  first title to the second one's end, and a person's two dates side by side (``lived from ... to
  ...``) give spans that end before they start. Choosing the best span with start <= end, inside
  the paragraph and no longer than the longest training answer recovers them.
* Answers are exact strings: ``12,500`` people (the submission drops commas, as the course's does:
  ``12500``), dates of three words, two-word names, titles of three to six words.

The same seed gives byte-identical files (``numpy.random.default_rng(ctx.seed)`` only).
"""
from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from string import Formatter

import numpy as np

SCALES = {
    # paragraphs per file, questions per file; persons / fillers per passage
    "ci": dict(paragraphs=(1000, 80, 400), questions=(3000, 240, 1200), persons=(2, 3), towns=1,
               fillers=(2, 4), pair_share=0.9, book_share=0.7, n_probe=48, probe_seq=63, probe_question=20),
    "full": dict(paragraphs=(10524, 1490, 1586), questions=(31690, 4131, 4957), persons=(6, 8), towns=2,
                 fillers=(6, 10), pair_share=0.9, book_share=0.7, n_probe=48, probe_seq=193,
                 probe_question=40),
}
FILES = ("hw7_train.json", "hw7_dev.json", "hw7_test.json")

REAL_DEV = ("hw07_drcd/hw7_dev.json", "8dad08e6d09394af30ce29bf648449ec4c33d21aed81adf9bbc77adbdf6c83f2")
REAL_SPLIT = (0.62, 0.08, 0.30)        # train / dev / test share of the real dev paragraphs

FIRST = {
    "f": ["Alice", "Beatrix", "Clara", "Daphne", "Edith", "Fiona", "Greta", "Helena", "Ingrid", "Judith",
          "Katrin", "Lena", "Marta", "Nadia", "Olga", "Petra", "Rosa", "Selma", "Tilda", "Ursula",
          "Vera", "Wilma", "Yara", "Zoe", "Agnes"],
    "m": ["Anton", "Bruno", "Carl", "Dmitri", "Emil", "Felix", "Gustav", "Hugo", "Ivan", "Jonas",
          "Karl", "Lukas", "Milan", "Niko", "Oskar", "Pavel", "Rudolf", "Stefan", "Tomas", "Viktor",
          "Walter", "Xavier", "Yusuf", "Otto", "Bernd"],
}
LAST = ["Moreau", "Hale", "Brandt", "Castell", "Dorn", "Ekberg", "Falk", "Grimm", "Holm", "Iversen",
        "Jansen", "Kessler", "Lind", "Marsh", "Nolte", "Orlov", "Pratt", "Quist", "Rowe", "Sauer",
        "Thorne", "Ulrich", "Voss", "Wendt", "Yates", "Zeller", "Ambler", "Barrow", "Crane", "Dahl",
        "Engel", "Frost", "Garner", "Hayes", "Ives", "Keller", "Lowe", "Mercer", "Nash", "Oakes"]
TOWNS = ["Lorton", "Kessel", "Denbury", "Marrowby", "Elnor", "Fairholt", "Greystead", "Hollin", "Ivybridge",
         "Jarrow", "Kilnsey", "Lanark", "Millbeck", "Norwick", "Oxhey", "Pellow", "Quarndon", "Rushby",
         "Selwick", "Tarvin", "Ulverby", "Vantry", "Wexcombe", "Yarmley", "Ashdown", "Brackley", "Colwith",
         "Dunmere", "Eskdale", "Farnley", "Garsby", "Heston", "Ilkley", "Keswin", "Ludlow", "Morden",
         "Nettleby", "Ormsby", "Penrith", "Rydal"]
RIVERS = ["Esk", "Wenning", "Calder", "Lune", "Aire", "Derwent", "Eden", "Kent", "Leven", "Nidd", "Ribble",
          "Swale", "Tees", "Ure", "Wharfe"]
JOBS = ["painter", "engineer", "teacher", "baker", "sailor", "doctor", "lawyer", "farmer", "printer", "chemist",
        "architect", "pilot", "surgeon", "tailor", "weaver", "poet", "banker", "carpenter", "librarian",
        "composer", "nurse", "miner", "jeweller", "gardener", "potter"]
# Book titles: the long answers (3 to 6 tokens), which straddle window borders and whose start and end
# scores are far apart.
TITLE_ADJ = ["Silent", "Golden", "Last", "Long", "Quiet", "Broken", "Hidden", "Bright", "Lost", "Wild", "Narrow",
             "Empty", "Distant", "Burning", "Sleeping", "Crooked"]
TITLE_NOUN = ["Harvest", "Lantern", "Orchard", "Tower", "Voyage", "Letter", "Meadow", "Song", "Road", "Garden",
              "Mirror", "Winter", "Shore", "Ferry", "Chapel", "Mill"]
TITLE_TAIL = ["of the North", "at Dawn", "in the Rain", "of Stone", "under the Hills", "for the King", "by the Sea",
              "of Glass"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]

# Sentences: {slot} is a fact (an answer the questions may ask for); {name}/{first}/{pron} name the
# person. The facts' order and their distance from the name vary on purpose.
BIRTH = [
    "{name} was born in {born_place} on {born_date}.",
    "On {born_date}, {name} was born in {born_place}.",
    "Born in {born_place} on {born_date}, {name} grew up near the river.",
    "{name}, who was born on {born_date}, came from {born_place}.",
    "The records of {born_place} show that {name} was born there on {born_date}.",
]
# Birth and death in one sentence: two dates (and a town) side by side, where start and end scores
# that peak on different candidates give a span that ends before it starts, or runs across both.
LIFE = [
    "{name} was born in {born_place} on {born_date} and died on {died_date}.",
    "Born in {born_place} on {born_date}, {name} died on {died_date}.",
    "{name} lived from {born_date} to {died_date} and was born in {born_place}.",
]
WORK = [
    "{first} worked as a {job} in {work_place} for {years} years.",
    "{pron} later became a {job} and moved to {work_place}.",
    "In {work_place}, {first} was known as a {job} for {years} years.",
    "For {years} years {first} worked in {work_place} as a {job}.",
]
DEATH = [
    "{first} died on {died_date}.",
    "{pron} died in {work_place} on {died_date}, after a long illness.",
    "On {died_date}, {first} died at home.",
]
BOOK = [
    "{first} wrote a book called {book}.",
    "{book} is the best known book by {name}.",
    "{pron} is remembered for the book {book}, which was read all over the country.",
]
# Two people's books in one sentence, each title's cue (its author) after it: the start scores of the
# second title are unsure, and the independent argmax runs from the first title to the second's end.
PAIR = [
    "Two books came out in the same year: {book_a} by {name_a} and {book_b} by {name_b}.",
    "The library keeps {book_a} by {first_a} and {book_b} by {first_b}.",
    "Readers still know {book_a}, written by {first_a}, and {book_b}, written by {first_b}.",
]
FAMILY = [
    "{first} married {spouse} and had {children} children.",
    "With {spouse}, {first} had {children} children.",
]
TOWN = [
    "{town} lies on the river {river} and has a population of {population}.",
    "About {population} people live in {town}, which lies on the river {river}.",
    "{town} was founded in {founded} by {founder}.",
    "In {founded}, {founder} founded the town of {town}.",
    "The town of {town}, on the river {river}, was founded by {founder} in {founded}.",
]
# How often a fact is asked, against 1 for the others: the long titles and the paired dates are where
# windows and span choice matter most.
FACT_WEIGHT = {"book": 4.0, "born_date": 1.5, "died_date": 1.5}
# Half of the questions open with one of these: the question's length, and so where the paragraph
# window starts in the model's input, varies as much as in the course's questions.
PREFIXES = ["Tell me,", "According to the passage,", "In the passage above,", "Question:",
            "Based on the text about the valley,", "From what the old records say,",
            "If you read the story carefully,", "Quick question:"]
FILLER = [
    "The winters in the valley are mild and the summers are long.",
    "Many visitors come to the hills in the spring.",
    "The old market is still held every week in the square.",
    "A small railway once ran along the coast.",
    "The local school has a large library and a garden.",
    "Most of the houses there are built of grey stone.",
    "Fishing and farming were the main trades for a long time.",
    "The church on the hill can be seen from far away.",
    "Every autumn the town holds a fair with music and dancing.",
    "A new bridge was built over the river some years ago.",
    "The roads to the north are often closed by snow.",
    "Travellers used to stop at the inn by the crossroads.",
]
QUESTIONS = {
    "born_date": ["When was {name} born?", "On what date was {name} born?"],
    "born_place": ["Where was {name} born?", "In which town was {name} born?"],
    "job": ["What did {name} work as?", "What was the job of {name}?"],
    "work_place": ["In which town did {name} work?", "Where did {name} work?"],
    "years": ["For how many years did {name} work?"],
    "died_date": ["When did {name} die?", "On what date did {name} die?"],
    "spouse": ["Who did {name} marry?", "Who was the spouse of {name}?"],
    "book": ["Which book did {name} write?", "What is the title of the book by {name}?"],
    "children": ["How many children did {name} have?"],
    "population": ["How many people live in {town}?", "What is the population of {town}?"],
    "founded": ["In which year was {town} founded?", "When was {town} founded?"],
    "founder": ["Who founded {town}?", "By whom was {town} founded?"],
    "river": ["On which river does {town} lie?", "Which river flows through {town}?"],
}


def build(ctx) -> None:
    release_dir, hidden_dir = Path(ctx.release_dir), Path(ctx.hidden_dir)
    inputs_dir = Path(ctx.hidden_inputs_dir)
    for d in (release_dir, hidden_dir, inputs_dir):
        d.mkdir(parents=True, exist_ok=True)
    options = dict(getattr(ctx, "options", None) or {})
    rng = np.random.default_rng(ctx.seed)
    if ctx.scale not in SCALES:
        raise ValueError(f"hw7: unknown scale {ctx.scale!r} (expected one of {sorted(SCALES)})")
    sizes = {**SCALES[ctx.scale], **options}

    if ctx.source == "real":
        splits = _split_real(ctx, rng)
    elif ctx.source == "generated":
        if str(ctx.edition) != "2022":
            raise ValueError(f"hw7: source 'generated' has the 2022 layout only, got edition {ctx.edition!r}")
        splits = [_generate(rng, sizes, n_par, n_q) for n_par, n_q in zip(sizes["paragraphs"], sizes["questions"])]
    else:
        raise ValueError(f"hw7: unknown source {ctx.source!r} (expected 'generated' or 'real')")

    for name, (questions, paragraphs) in zip(FILES, splits):
        if name == "hw7_test.json":
            answers = [q["answer_text"] for q in questions]
            questions = [{**q, "answer_text": None, "answer_start": None, "answer_end": None} for q in questions]
        _write_json(release_dir / name, {"questions": questions, "paragraphs": paragraphs})
    with open(hidden_dir / "answers.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["ID", "Answer"])
        writer.writerows([q["id"], a.replace(",", "")] for q, a in zip(splits[2][0], answers))
    with open(release_dir / "sample_submission.csv", "w", newline="", encoding="utf-8") as f:
        f.write("ID,Answer\n" + "".join(f"{q['id']},\n" for q in splits[2][0]))
    _write_probe_logits(inputs_dir, rng, sizes["n_probe"], sizes["probe_seq"], sizes["probe_question"])


def _write_json(path: Path, obj) -> None:
    # ensure_ascii=False keeps the Chinese text readable, as the course files are
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------- real

def _split_real(ctx, rng):
    if ctx.shared_data is None:
        raise FileNotFoundError("hw7: source 'real' needs the shared data folder, but ctx.shared_data is None")
    rel, sha256 = REAL_DEV
    path = Path(ctx.shared_data) / rel
    if not path.is_file():
        raise FileNotFoundError(f"hw7: real data file not found: {path}")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise ValueError(f"hw7: sha256 of {path} is {digest}, expected {sha256}")
    data = json.loads(raw)
    paragraphs, questions = data["paragraphs"], data["questions"]
    order = rng.permutation(len(paragraphs))
    n_test = round(REAL_SPLIT[2] * len(paragraphs))
    n_dev = round(REAL_SPLIT[1] * len(paragraphs))
    parts = [np.sort(order[n_test + n_dev:]), np.sort(order[n_test:n_test + n_dev]), np.sort(order[:n_test])]
    by_paragraph: dict[int, list] = {}
    for q in questions:
        by_paragraph.setdefault(q["paragraph_id"], []).append(q)
    out = []
    for part in parts:
        new_id = {int(p): k for k, p in enumerate(part)}
        qs = [q for p in part for q in by_paragraph.get(int(p), [])]
        qs.sort(key=lambda q: q["id"])            # keep the course's question order
        out.append(([{**q, "id": i, "paragraph_id": new_id[q["paragraph_id"]]} for i, q in enumerate(qs)],
                    [paragraphs[int(p)] for p in part]))
    return out


# ----------------------------------------------------------------------- generated

class _Passage:
    """Builds a paragraph sentence by sentence and remembers where every fact's text lies."""

    def __init__(self):
        self.text = ""
        self.spans: dict[tuple, tuple[int, int]] = {}

    def add(self, template: str, values: dict, owner, facts: dict | None = None) -> None:
        """`facts` (pair sentences): template field -> (owner, fact) for the fields that are facts."""
        if self.text:
            self.text += " "
        for literal, field, _, _ in Formatter().parse(template):
            self.text += literal
            if field is None:
                continue
            value = values[field]
            key = facts.get(field) if facts is not None else (
                None if field in ("name", "first", "pron", "town") else (owner, field))
            if key is not None:
                self.spans.setdefault(key, (len(self.text), len(self.text) + len(value) - 1))
            self.text += value


def _date(rng, lo, hi) -> tuple[str, int]:
    year = int(rng.integers(lo, hi))
    return f"{int(rng.integers(1, 29))} {MONTHS[int(rng.integers(12))]} {year}", year


def _population(rng) -> str:
    n = int(rng.choice([rng.integers(12, 100) * 100, rng.integers(10, 100) * 1000 + rng.integers(0, 10) * 100,
                        rng.integers(100, 999) * 1000]))
    return f"{n:,}"


def _generate(rng, sizes, n_paragraphs: int, n_questions: int):
    # Every paragraph gets n_questions // n_paragraphs questions, some one more, to hit the total exactly.
    per = np.full(n_paragraphs, n_questions // n_paragraphs)
    per[rng.permutation(n_paragraphs)[: n_questions - per.sum()]] += 1
    paragraphs, questions = [], []
    for pid in range(n_paragraphs):
        text, facts = _paragraph(rng, sizes)
        paragraphs.append(text)
        weights = np.array([FACT_WEIGHT.get(f[1], 1.0) for f in facts])
        picks = rng.choice(len(facts), size=min(int(per[pid]), len(facts)), replace=False, p=weights / weights.sum())
        for k in sorted(picks.tolist()):
            subject, field, start, end = facts[k]
            q = QUESTIONS[field][int(rng.integers(len(QUESTIONS[field])))]
            if rng.random() < 0.5:
                q = PREFIXES[int(rng.integers(len(PREFIXES)))] + " " + q[0].lower() + q[1:]
            key = "town" if field in ("population", "founded", "founder", "river") else "name"
            questions.append({"id": len(questions), "paragraph_id": pid,
                              "question_text": q.format(**{key: subject}),
                              "answer_text": text[start:end + 1], "answer_start": start, "answer_end": end})
    return questions, paragraphs


def _paragraph(rng, sizes):
    lo, hi = sizes["persons"]
    n_persons = int(rng.integers(lo, hi + 1))
    sexes = rng.choice(["f", "m"], size=n_persons)
    firsts, used = [], set()
    for s in sexes:                      # distinct first names in a passage: "Alice" names one person
        pool = [f for f in FIRST[s] if f not in used]
        firsts.append(pool[int(rng.integers(len(pool)))])
        used.add(firsts[-1])
    lasts = [LAST[i] for i in rng.permutation(len(LAST))[: n_persons + 2 * sizes["towns"] + n_persons]]
    towns = [TOWNS[i] for i in rng.permutation(len(TOWNS))[: 6 + sizes["towns"]]]
    titles = set()
    while len(titles) < n_persons:
        adj, noun = TITLE_ADJ[int(rng.integers(len(TITLE_ADJ)))], TITLE_NOUN[int(rng.integers(len(TITLE_NOUN)))]
        tail = " " + TITLE_TAIL[int(rng.integers(len(TITLE_TAIL)))] if rng.random() < 0.6 else ""
        titles.add(f"The {adj} {noun}{tail}")
    titles = sorted(titles)
    titles = [titles[i] for i in rng.permutation(len(titles))]
    paired = n_persons >= 2 and rng.random() < sizes["pair_share"]
    blocks, people = [], []
    for p in range(n_persons):
        name = f"{firsts[p]} {lasts[p]}"
        born, year = _date(rng, 1820, 1960)
        died, _ = _date(rng, year + 40, min(year + 90, 2021))
        others = [f for f in FIRST["m" if sexes[p] == "f" else "f"] if f not in used]
        other_first = others[int(rng.integers(len(others)))]          # no first name names two people
        used.add(other_first)
        values = {"name": name, "first": firsts[p], "pron": "She" if sexes[p] == "f" else "He",
                  "born_date": born, "died_date": died,
                  "born_place": towns[int(rng.integers(len(towns)))],
                  "work_place": towns[int(rng.integers(len(towns)))],
                  "job": JOBS[int(rng.integers(len(JOBS)))], "years": str(int(rng.integers(2, 40))),
                  "spouse": f"{other_first} {lasts[n_persons + p]}", "children": str(int(rng.integers(2, 9))),
                  "book": titles[p]}
        people.append(values)
        if values["work_place"] == values["born_place"]:
            values["work_place"] = towns[(towns.index(values["born_place"]) + 1) % len(towns)]
        if rng.random() < 0.5:
            sentences = [LIFE[int(rng.integers(len(LIFE)))], WORK[int(rng.integers(len(WORK)))]]
            groups = [FAMILY]
        else:
            sentences = [BIRTH[int(rng.integers(len(BIRTH)))], WORK[int(rng.integers(len(WORK)))]]
            groups = [DEATH, FAMILY]
        extra = [groups[g] for g in rng.permutation(len(groups))[: int(rng.integers(1, len(groups) + 1))]]
        sentences += [group[int(rng.integers(len(group)))] for group in extra]
        if not (paired and p < 2) and rng.random() < sizes["book_share"]:
            sentences.append(BOOK[int(rng.integers(len(BOOK)))])
        blocks.append([(s, values, name, None) for s in sentences])
    for t in range(sizes["towns"]):
        town = towns[-1 - t]
        founders = [f for f in FIRST["m"] if f not in used]
        founder = f"{founders[int(rng.integers(len(founders)))]} {lasts[2 * n_persons + t]}"
        used.add(founder.split()[0])
        values = {"town": town, "river": RIVERS[int(rng.integers(len(RIVERS)))], "population": _population(rng),
                  "founded": str(int(rng.integers(1100, 1800))), "founder": founder}
        first = int(rng.integers(2))                         # population sentence, then a founding one
        sentences = [TOWN[first], TOWN[2 + int(rng.integers(3))]]
        blocks.append([(s, values, town, None) for s in sentences])
    if paired:
        a, b = people[0], people[1]
        values = {"book_a": a["book"], "name_a": a["name"], "first_a": a["first"],
                  "book_b": b["book"], "name_b": b["name"], "first_b": b["first"]}
        blocks.append([(PAIR[int(rng.integers(len(PAIR)))], values, None,
                        {"book_a": (a["name"], "book"), "book_b": (b["name"], "book")})])
    lo, hi = sizes["fillers"]
    fillers = [FILLER[i] for i in rng.permutation(len(FILLER))[: int(rng.integers(lo, hi + 1))]]
    blocks += [[(f, {}, "", None)] for f in fillers]

    passage = _Passage()
    for b in rng.permutation(len(blocks)):
        for template, values, owner, facts in blocks[b]:
            passage.add(template, values, owner, facts)
    facts = [(owner, field, s, e) for (owner, field), (s, e) in passage.spans.items()]
    return passage.text, facts


# ------------------------------------------------------------------------- probe

PROBE_FILES = ("probe_start_logits.npy", "probe_end_logits.npy", "probe_paragraph_mask.npy")


def _write_probe_logits(folder: Path, rng, n: int, seq_len: int, q_len: int) -> None:
    """Logits for probing the notebook's span post-processing (the course's `evaluate`), with masks.

    Every case is 4 windows of `seq_len` positions laid out as the sample's QA_Dataset lays them out:
    [CLS] question [SEP] paragraph [SEP] padding; `paragraph_mask` is True on the paragraph tokens.
    Every case has one right span (start and end scores +9 over unit noise) and, in three cases
    out of four, a trap that the sample's independent argmax falls into:
      crossed    a later start and an earlier end score higher still: argmax gives end < start;
      question   the start scores peak inside the question;
      padding    the end scores peak on the final [SEP] or on padding.
    Nothing here says which case is which: the host check reads the kinds off the logits and masks.
    """
    windows = 4
    start = rng.normal(0, 1, (n, windows, seq_len)).astype(np.float32)
    end = rng.normal(0, 1, (n, windows, seq_len)).astype(np.float32)
    mask = np.zeros((n, windows, seq_len), dtype=bool)
    kinds = np.array(["clear", "crossed", "question", "padding"])[rng.permutation(n) % 4]
    for i in range(n):
        first = int(rng.integers(5, q_len + 1)) + 2            # [CLS] + question + [SEP]
        for k in range(windows):                               # the last window holds the paragraph's end
            p = seq_len - first - 1 if k < windows - 1 else int(rng.integers(12, seq_len - first - 1))
            mask[i, k, first:first + p] = True
        k = int(rng.integers(windows))
        para = np.flatnonzero(mask[i, k])
        s = int(para[2 + int(rng.integers(len(para) - 10))])  # room for a trap on either side
        e = s + int(rng.integers(0, 4))
        start[i, k, s] += 9.0
        end[i, k, e] += 9.0
        if kinds[i] == "crossed":
            start[i, k, e + 1 + int(rng.integers(0, min(4, para[-1] - e)))] += 9.5
            end[i, k, s - 1 - int(rng.integers(0, 2))] += 9.5
        elif kinds[i] == "question":
            start[i, k, int(rng.integers(1, first - 1))] += 10.0
        elif kinds[i] == "padding":
            end[i, k, int(para[-1]) + 1 + int(rng.integers(0, seq_len - para[-1] - 1))] += 10.0
    for name, arr in zip(PROBE_FILES, (start, end, mask)):
        np.save(folder / name, arr, allow_pickle=False)
