# %% [markdown]
# # HW14 · Life-long learning: the questions
#
# The course graded HW14 by 20 multiple-choice questions on Gradescope (0.4 points each). Read
# `questions.md` in the bundle, then write the letters of **every** right option of each question
# below: a question counts only when exactly the right options are chosen. Run this notebook to write
# `answers.json`, check it (`grade check hw14q answers.json --bundle BUNDLE`) and submit it
# (`grade submit hw14q answers.json`). Scores are shown after the deadline; your latest sheet counts.

# %%
import json
import os

OUT_DIR = os.environ.get("GRADE_OUTPUT_DIR", ".")

# TODO: your answers, e.g. "basic-1": "A" or "basic-2": "AC"
answers = {
    "basic-1": "", "basic-2": "", "basic-3": "",
    "ewc-1": "", "ewc-2": "",
    "mas-1": "", "mas-2": "",
    "si-1": "", "si-2": "",
    "rwalk-1": "", "rwalk-2": "",
    "scp-1": "", "scp-2": "", "scp-3": "",
    "other-1": "", "other-2": "", "other-3": "", "other-4": "", "other-5": "", "other-6": "",
}

# %%
with open(os.path.join(OUT_DIR, "answers.json"), "w") as f:
    json.dump(answers, f, indent=1)
print(f"{sum(bool(v) for v in answers.values())} of {len(answers)} questions answered")
