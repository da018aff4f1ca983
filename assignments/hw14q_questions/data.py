"""HW14's questions (the course graded HW14 by 20 multiple-choice questions on Gradescope).

``build(ctx)`` writes ``release/questions.md`` (the question sheet) and ``hidden/answers.csv`` (the keys,
question id → the right option letters, sorted). The questions follow the course's split — basics 3,
EWC 2, MAS 2, SI 2, RWalk 2, SCP 3, other methods and scenarios 6 (iCaRL, LwF, GEM, DGR, the three
continual-learning scenarios) — and the all-correct rule (a question earns its 0.4 points only when
exactly the right options are chosen; any number of them may be right).

The statements are in this file, which is part of the course repository; what a student cannot read
from it is the key of *their* course: every course shuffles the options of every question with its own
secret (`ctx.seed`), so the letters differ between courses, and the sheet is the only place that says
which statement has which letter.
"""

from __future__ import annotations

import csv

import numpy as np

LETTERS = "ABCD"

# (id, question, [(option, right?) × 4])
QUESTIONS = [
    ("basic-1", "Catastrophic forgetting means:", [
        ("after training on a new task, the performance on the earlier tasks drops sharply", True),
        ("the model cannot fit a new task because the earlier tasks use up its capacity", False),
        ("the training loss of the current task diverges", False),
        ("early stopping makes the model forget the current task", False)]),
    ("basic-2", "Training one model on the data of all tasks at once (multi-task training):", [
        ("is usually taken as the upper bound of what life-long learning can reach", True),
        ("needs the data of every earlier task to be kept, which life-long learning tries to avoid", True),
        ("is a life-long learning method, because it sees the tasks in order", False),
        ("always ends below plain sequential fine-tuning", False)]),
    ("basic-3", "With R[i][j] the accuracy on task j after training on task i (T tasks), which are true?", [
        ("the final accuracy is the mean of R[T][j] over all tasks j", True),
        ("backward transfer is the mean over j < T of R[T][j] - R[j][j]; forgetting makes it negative", True),
        ("forward transfer compares R[T][j] with R[j][j]", False),
        ("the evaluation only needs the diagonal R[i][i]", False)]),
    ("ewc-1", "EWC adds to the new task's loss a penalty sum_i b_i (theta_i - theta_i^b)^2. Here b_i is:", [
        ("the diagonal of the Fisher information of the earlier tasks, from squared gradients of the log-likelihood", True),
        ("the magnitude of the old parameter theta_i^b itself", False),
        ("a learning rate per parameter", False),
        ("1 for every parameter (an L2 pull toward the old parameters)", False)]),
    ("ewc-2", "Which statements about EWC are true?", [
        ("a parameter with a large b_i is kept close to its value after the earlier tasks", True),
        ("the importance of a task is computed once that task is learned, from its data", True),
        ("it stores the images of the earlier tasks and trains on them again", False),
        ("it needs the labels of the new task's test set", False)]),
    ("mas-1", "MAS (Memory Aware Synapses) measures the importance Omega_i of a parameter as:", [
        ("the mean magnitude of the gradient of the squared L2 norm of the network's output with respect to theta_i", True),
        ("the squared gradient of the classification loss, averaged over labelled data", False),
        ("the path integral of the gradient along the training trajectory", False),
        ("the number of times theta_i was updated", False)]),
    ("mas-2", "Which statements about MAS are true?", [
        ("its importance needs no labels: it can be computed on unlabelled data", True),
        ("as EWC, it adds sum_i Omega_i (theta_i - theta_i^b)^2 to the new task's loss", True),
        ("it adds new neurons to the network for every task", False),
        ("it can only be computed during training, never after it", False)]),
    ("si-1", "Synaptic Intelligence (SI) computes the importance of a parameter:", [
        ("online, during training, from each step's contribution to the decrease of the loss (minus gradient times update)", True),
        ("after training, from squared gradients on held-out data", False),
        ("from the gradient of the output's norm on unlabelled data", False),
        ("from the parameter's distance to its initial value alone", False)]),
    ("si-2", "In SI, the importance accumulated over a task is divided by:", [
        ("(Delta theta_i)^2 + xi: the squared total change of the parameter over the task plus a small damping", True),
        ("the number of training steps of the task", False),
        ("the Fisher information of theta_i", False),
        ("the learning rate", False)]),
    ("rwalk-1", "RWalk (Riemannian Walk) combines:", [
        ("a Fisher-based importance, as EWC's, kept up to date with a moving average during training", True),
        ("a path-integral importance, as SI's", True),
        ("a generator that replays earlier data", False),
        ("growing and pruning the network", False)]),
    ("rwalk-2", "RWalk's path-integral score differs from SI's in that it:", [
        ("measures each step's parameter change with the Fisher as the metric (an approximate KL divergence) instead of plain squared change", True),
        ("in its full form also keeps a few samples of the earlier tasks, against intransigence", True),
        ("uses no gradient information", False),
        ("needs the labels of all future tasks in advance", False)]),
    ("scp-1", "SCP (Sliced Cramer Preservation):", [
        ("preserves the distribution of the network's outputs on the earlier tasks, measured by a sliced Cramer distance", True),
        ("projects the outputs on random directions (slices) to compute the importance", True),
        ("keeps the weights of every earlier model and ensembles them", False),
        ("is EWC with the Fisher replaced by ones", False)]),
    ("scp-2", "SCP's regulariser, compared with EWC's:", [
        ("is still a quadratic penalty sum Gamma (theta - theta^b)^2, with another importance matrix", True),
        ("needs the labels of the earlier tasks to compute its importance", False),
        ("adds a new output head per task", False),
        ("cannot be used with a fully-connected model", False)]),
    ("scp-3", "In SCP, the number of random slices:", [
        ("trades the quality of the distance estimate against computation: more slices, a better estimate, more cost", True),
        ("must equal the number of classes", False),
        ("must equal the number of tasks", False),
        ("is learned by gradient descent with the network", False)]),
    ("other-1", "iCaRL:", [
        ("keeps a fixed budget of exemplars per class, chosen by herding toward the class's mean feature", True),
        ("classifies by the nearest mean of the exemplars in feature space", True),
        ("keeps no data of earlier classes", False),
        ("trains a generator to produce earlier data", False)]),
    ("other-2", "Learning without Forgetting (LwF):", [
        ("distils the old model's outputs on the new task's data into the new model", True),
        ("needs no data of the earlier tasks", True),
        ("stores a memory of images of the earlier tasks", False),
        ("freezes every shared layer", False)]),
    ("other-3", "GEM (Gradient Episodic Memory):", [
        ("keeps an episodic memory of examples of the earlier tasks", True),
        ("projects the new task's gradient so that the loss on each earlier task's memory does not increase", True),
        ("replays samples from a generator", False),
        ("weights a quadratic penalty with the Fisher information", False)]),
    ("other-4", "Deep Generative Replay (DGR):", [
        ("trains a generator on the earlier tasks and mixes its samples, labelled by the old solver, into the new training", True),
        ("stores real images of every earlier task", False),
        ("computes a Fisher matrix after every task", False),
        ("needs a separate network per task at test time", False)]),
    ("other-5", "Of the three continual-learning scenarios (van de Ven and Tolias), which give the model the task identity at test time?", [
        ("task-incremental learning", True),
        ("domain-incremental learning", False),
        ("class-incremental learning", False),
        ("none of them", False)]),
    ("other-6", "This homework's tasks (the same ten digits at another rotation, one output head, no task identity at test time) are:", [
        ("domain-incremental learning", True),
        ("task-incremental learning", False),
        ("class-incremental learning", False),
        ("not continual learning: the classes never change", False)]),
]


def build(ctx) -> None:
    rng = np.random.default_rng(ctx.seed)
    sheet = ["# HW14 questions", "",
             "Answer in `answers.json`: question id → the letters of **every** right option (one or more). "
             "A question earns its 0.4 points only when exactly the right options are chosen.", ""]
    keys = []
    for qid, text, options in QUESTIONS:
        order = rng.permutation(len(options))  # this course's letters
        sheet += [f"## {qid}", "", text, ""]
        right = []
        for letter, k in zip(LETTERS, order):
            option, ok = options[k]
            sheet.append(f"- **{letter}.** {option}")
            if ok:
                right.append(letter)
        sheet.append("")
        keys.append((qid, "".join(sorted(right))))
    (ctx.release_dir / "questions.md").write_text("\n".join(sheet), encoding="utf-8")
    with open(ctx.hidden_dir / "answers.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["question", "answer"])
        w.writerows(keys)
