"""HW7 hidden probe — runs INSIDE the sandbox after the student's notebook.

It loads the notebook's definitions (no training is re-run) and

* calls its span post-processing, `choose_answer_span(start_logits, end_logits, paragraph_mask)`, on
  hidden logits of 4 windows per case (/hidden_inputs/probe_*.npy: inputs only, no answers);
* reloads the model and tokenizer the notebook saved (`saved_model/`, now under /run) and answers the
  released test questions with the notebook's own `QA_Dataset` and `evaluate`, as its testing cell does;
* runs that model twice on the same windows (determinism).

It writes plain files for the host-side checks in test_hidden.py:

    /out/spans.npy          (n_cases, 3) int64: the (window, start, end) chosen for every hidden case
    /out/logits_1.npy       (n_windows, 2, seq_len) start/end logits of the first test questions' windows
    /out/logits_2.npy       the same, a second time
    /out/test_answers.json  the answer of every test question, commas removed (as result.csv)
    /out/probe.json         problems met while loading the notebook, and each failed step's error

Every step is guarded: a function that raises leaves its file out and its message in probe.json.
"""

import json
import os
import traceback

import numpy as np
import torch
from probelib import load_definitions, save_json, save_npy

torch.set_num_threads(int(os.environ.get("GRADER_TORCH_THREADS", "1")))
report = {"problems": [], "errors": {}}
sub, report["problems"] = load_definitions("/code/submission.ipynb")
start = np.load("/hidden_inputs/probe_start_logits.npy", allow_pickle=False)     # (N, 4, L) float32
end = np.load("/hidden_inputs/probe_end_logits.npy", allow_pickle=False)         # (N, 4, L) float32
mask = np.load("/hidden_inputs/probe_paragraph_mask.npy", allow_pickle=False)    # (N, 4, L) bool


def guarded(name, fn):
    try:
        return fn()
    except Exception as e:
        report["errors"][name] = f"{type(e).__name__}: {e}\n" + "".join(traceback.format_exc(limit=-3))[-1500:]
        return None


def spans() -> np.ndarray:
    out = []
    for i in range(len(start)):
        k, s, e = sub.choose_answer_span(torch.from_numpy(start[i].copy()), torch.from_numpy(end[i].copy()),
                                         torch.from_numpy(mask[i].copy()))
        out.append([int(k), int(s), int(e)])
    return np.array(out, dtype=np.int64)


def saved_dir() -> str:
    """The notebook's saved_model/ (its output folder is /run now), else the one folder with a config.json."""
    if os.path.isfile("/run/saved_model/config.json"):
        return "/run/saved_model"
    found = [d for d, _, fs in os.walk("/run") if "config.json" in fs]
    if len(found) != 1:
        raise FileNotFoundError(f"expected the saved model in saved_model/ of the output folder; found {found}")
    return found[0]


def load():
    where = saved_dir()
    with open(os.path.join(where, "config.json")) as f:
        config = json.load(f)
    if config.get("model_type") == "tiny-bert-qa":          # the notebook's own stand-in classes
        tokenizer_cls, model_cls = sub.BertTokenizerFast, sub.BertForQuestionAnswering
    else:                                                   # a transformers model (the `qa` extra)
        from transformers import BertForQuestionAnswering, BertTokenizerFast
        tokenizer_cls, model_cls = BertTokenizerFast, BertForQuestionAnswering
    tokenizer, model = tokenizer_cls.from_pretrained(where), model_cls.from_pretrained(where)
    model.eval()
    sub.tokenizer, sub.model, sub.device = tokenizer, model, "cpu"     # the globals the notebook's functions use
    return tokenizer, model


def test_windows(tokenizer):
    questions, paragraphs = sub.read_data("/data/hw7_test.json")
    tq = tokenizer([q["question_text"] for q in questions], add_special_tokens=False)
    tp = tokenizer(paragraphs, add_special_tokens=False)
    return questions, paragraphs, tp, sub.QA_Dataset("test", questions, tq, tp)


def run(model, data):
    with torch.no_grad():
        return model(input_ids=data[0].squeeze(dim=0), token_type_ids=data[1].squeeze(dim=0),
                     attention_mask=data[2].squeeze(dim=0))


def answers(model, questions, paragraphs, tp, dataset) -> list:
    out = []
    for i in range(len(dataset)):
        data = [x.unsqueeze(0) for x in dataset[i]]              # as the test DataLoader (batch_size=1) gives it
        pid = questions[i]["paragraph_id"]
        out.append(str(sub.evaluate(data, run(model, data), paragraphs[pid], tp[pid])).replace(",", ""))
    return out


def logits(model, dataset, n=12) -> np.ndarray:
    outs = []
    for i in range(min(n, len(dataset))):
        o = run(model, [x.unsqueeze(0) for x in dataset[i]])
        outs.append(torch.stack([o.start_logits, o.end_logits], dim=1).float().numpy())  # (W, 2, L)
    return np.concatenate(outs).astype(np.float64)


chosen = guarded("spans", spans)
if chosen is not None:
    guarded("spans", lambda: save_npy("/out/spans.npy", chosen))
loaded = guarded("load", load)
if loaded is not None:
    tokenizer, model = loaded
    test = guarded("test_windows", lambda: test_windows(tokenizer))
    if test is not None:
        for name in ("logits_1", "logits_2"):
            out = guarded(name, lambda: logits(model, test[3]))
            if out is not None:
                guarded(name, lambda: save_npy(f"/out/{name}.npy", out))
        found = guarded("test_answers", lambda: answers(model, *test))
        if found is not None:
            save_json("/out/test_answers.json", found)
report.update(n_cases=int(len(start)))
save_json("/out/probe.json", report)
