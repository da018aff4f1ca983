# %% [markdown]
# # **Homework 5: Sequence-to-sequence (machine translation)**
#
# - English to Chinese (Traditional) Translation
#   - Input: an English sentence         (e.g.		tom is a student .)
#   - Output: the Chinese translation  (e.g. 		湯姆 是 個 學生 。)
#
# - TODO
#     - Train a simple RNN seq2seq to acheive translation
#     - Switch to transformer model to boost performance
#     - Apply Back-translation to furthur boost performance
#
# This is the ML2022 sample code, adapted to the course autograder:
#
# * it reads the data from `GRADE_DATA_DIR` (default: the current folder) and writes everything it makes
#   (cleaned and subword-encoded text, checkpoints, `prediction.txt`) under `GRADE_OUTPUT_DIR` (default:
#   the current folder); nothing is downloaded;
# * the course image has no fairseq and no sentencepiece, so the parts of fairseq the sample uses
#   (dictionary, translation task, batch iterator, encoder/decoder base classes, the Transformer,
#   the beam-search generator, checkpoint averaging) and a small BPE are written out below in plain
#   PyTorch, under the names the sample code uses;
# * it runs on one CPU core in well under a minute: the corpus is small and the model, the batches
#   and the number of epochs are scaled down (each change says what the course used).

# %% [markdown]
# # Download and import required packages
# Everything is installed in the course image (no `pip install`, no `git clone fairseq`).

# %%
import sys
import pdb
import pprint
import logging
import os
import random
import re
import math
import shutil
import collections

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils import data
import numpy as np
from pathlib import Path
from argparse import Namespace

import matplotlib.pyplot as plt

DATA_DIR = os.environ.get("GRADE_DATA_DIR", ".")
OUT_DIR = os.environ.get("GRADE_OUTPUT_DIR", ".")
# CPU threads (the autograder sets OMP_NUM_THREADS).
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

# %% [markdown]
# # Fix random seed

# %%
seed = 73
random.seed(seed)
torch.manual_seed(seed)
if torch.cuda.is_available():
    torch.cuda.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
np.random.seed(seed)
torch.backends.cudnn.benchmark = False
torch.backends.cudnn.deterministic = True

# %% [markdown]
# # Dataset
#
# ## En-Zh Bilingual Parallel Corpus
# * TED2020 in the course (398,066 raw sentence pairs, 393,980 after cleaning). Your course uses a
#   TED-like corpus generated for it, in the same files; its size depends on the course's settings.
#
# ## Testdata
# - The English test sentences (4,000 in the course)
# - **Chinese translation is undisclosed. The provided (.zh) file is psuedo translation, each line is a '。'**

# %% [markdown]
# ## Dataset Download
# Nothing to download: the files are in `DATA_DIR/DATA/rawdata/ted2020`. They are copied to the
# working folder, where the next steps write their outputs next to them (as in the course).

# %%
data_dir = os.path.join(OUT_DIR, 'DATA', 'rawdata')
dataset_name = 'ted2020'
file_names = ('train_dev.raw.en', 'train_dev.raw.zh', 'test.raw.en', 'test.raw.zh')
prefix = Path(data_dir).absolute() / dataset_name

prefix.mkdir(parents=True, exist_ok=True)
for f in file_names:
    if not (prefix / f).exists():
        shutil.copy(Path(DATA_DIR) / 'DATA' / 'rawdata' / dataset_name / f, prefix / f)

# %% [markdown]
# ## Language

# %%
src_lang = 'en'
tgt_lang = 'zh'

data_prefix = f'{prefix}/train_dev.raw'
test_prefix = f'{prefix}/test.raw'

# %%
for lang in (src_lang, tgt_lang):
    with open(f'{data_prefix}.{lang}', encoding='utf-8') as f:
        print(''.join(f.readlines()[:5]))

# %% [markdown]
# ## Preprocess files

# %%
def strQ2B(ustring):
    """Full width -> half width"""
    # reference:https://ithelp.ithome.com.tw/articles/10233122
    ss = []
    for s in ustring:
        rstring = ""
        for uchar in s:
            inside_code = ord(uchar)
            if inside_code == 12288:  # Full width space: direct conversion
                inside_code = 32
            elif (inside_code >= 65281 and inside_code <= 65374):  # Full width chars (except space) conversion
                inside_code -= 65248
            rstring += chr(inside_code)
        ss.append(rstring)
    return ''.join(ss)

def clean_s(s, lang):
    if lang == 'en':
        s = re.sub(r"\([^()]*\)", "", s) # remove ([text])
        s = s.replace('-', '') # remove '-'
        s = re.sub('([.,;!?()\"])', r' \1 ', s) # keep punctuation
    elif lang == 'zh':
        s = strQ2B(s) # Q2B
        s = re.sub(r"\([^()]*\)", "", s) # remove ([text])
        s = s.replace(' ', '')
        s = s.replace('—', '')
        s = s.replace('“', '"')
        s = s.replace('”', '"')
        s = s.replace('_', '')
        s = re.sub('([。,;!?()\"~「」])', r' \1 ', s) # keep punctuation
    s = ' '.join(s.strip().split())
    return s

def len_s(s, lang):
    if lang == 'zh':
        return len(s)
    return len(s.split())

def clean_corpus(prefix, l1, l2, ratio=9, max_len=1000, min_len=1):
    if Path(f'{prefix}.clean.{l1}').exists() and Path(f'{prefix}.clean.{l2}').exists():
        print(f'{prefix}.clean.{l1} & {l2} exists. skipping clean.')
        return
    with open(f'{prefix}.{l1}', 'r', encoding='utf-8') as l1_in_f:
        with open(f'{prefix}.{l2}', 'r', encoding='utf-8') as l2_in_f:
            with open(f'{prefix}.clean.{l1}', 'w', encoding='utf-8') as l1_out_f:
                with open(f'{prefix}.clean.{l2}', 'w', encoding='utf-8') as l2_out_f:
                    for s1 in l1_in_f:
                        s1 = s1.strip()
                        s2 = l2_in_f.readline().strip()
                        s1 = clean_s(s1, l1)
                        s2 = clean_s(s2, l2)
                        s1_len = len_s(s1, l1)
                        s2_len = len_s(s2, l2)
                        if min_len > 0: # remove short sentence
                            if s1_len < min_len or s2_len < min_len:
                                continue
                        if max_len > 0: # remove long sentence
                            if s1_len > max_len or s2_len > max_len:
                                continue
                        if ratio > 0: # remove by ratio of length
                            if s1_len/s2_len > ratio or s2_len/s1_len > ratio:
                                continue
                        print(s1, file=l1_out_f)
                        print(s2, file=l2_out_f)

# %%
clean_corpus(data_prefix, src_lang, tgt_lang)
clean_corpus(test_prefix, src_lang, tgt_lang, ratio=-1, min_len=-1, max_len=-1)

# %% [markdown]
# ## Split into train/valid

# %%
valid_ratio = 0.01 # 3000~4000 would suffice
train_ratio = 1 - valid_ratio

# %%
if (prefix/f'train.clean.{src_lang}').exists() \
and (prefix/f'train.clean.{tgt_lang}').exists() \
and (prefix/f'valid.clean.{src_lang}').exists() \
and (prefix/f'valid.clean.{tgt_lang}').exists():
    print(f'train/valid splits exists. skipping split.')
else:
    line_num = sum(1 for line in open(f'{data_prefix}.clean.{src_lang}', encoding='utf-8'))
    labels = list(range(line_num))
    random.shuffle(labels)
    for lang in [src_lang, tgt_lang]:
        train_f = open(os.path.join(data_dir, dataset_name, f'train.clean.{lang}'), 'w', encoding='utf-8')
        valid_f = open(os.path.join(data_dir, dataset_name, f'valid.clean.{lang}'), 'w', encoding='utf-8')
        count = 0
        for line in open(f'{data_prefix}.clean.{lang}', 'r', encoding='utf-8'):
            if labels[count]/line_num < train_ratio:
                train_f.write(line)
            else:
                valid_f.write(line)
            count += 1
        train_f.close()
        valid_f.close()

# %% [markdown]
# ## Subword Units
# Out of vocabulary (OOV) has been a major problem in machine translation. This can be alleviated by using subword units.
# - The course uses the sentencepiece package (unigram, vocab_size 8000) on both languages.
# - Here, a small byte-pair encoding (BPE) in plain Python: English words (lower-cased, as
#   sentencepiece's `nmt_nfkc_cf` normalisation does) are split into learnt subwords, `▁` marking
#   the start of a word. Chinese is one token per character (a character is a subword already;
#   most of the course's 8,000 pieces on the Chinese side are single characters too).

# %%
SPM_SPACE = "\u2581"

class BPE:
    """Byte-pair encoding: merge the most frequent adjacent pair of symbols, `num_merges` times."""

    def __init__(self, merges):
        self.merges = [tuple(m) for m in merges]
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.cache = {}

    @classmethod
    def train(cls, words, num_merges):
        counts = collections.Counter(words)
        vocab = [[SPM_SPACE + w[0]] + list(w[1:]) for w in counts]   # each word as a list of symbols
        freq = list(counts.values())
        pairs, where = collections.Counter(), collections.defaultdict(set)
        for i, w in enumerate(vocab):
            for a, b in zip(w, w[1:]):
                pairs[a, b] += freq[i]
                where[a, b].add(i)
        merges = []
        for _ in range(num_merges):
            if not pairs:
                break
            best, n = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
            if n < 2:
                break
            merges.append(best)
            for i in sorted(where.pop(best)):   # only the words that hold the pair change
                w = vocab[i]
                for a, b in zip(w, w[1:]):
                    pairs[a, b] -= freq[i]
                    if pairs[a, b] <= 0:
                        del pairs[a, b]
                j, merged = 0, []
                while j < len(w):
                    if j + 1 < len(w) and (w[j], w[j + 1]) == best:
                        merged.append(w[j] + w[j + 1])
                        j += 2
                    else:
                        merged.append(w[j])
                        j += 1
                vocab[i] = merged
                for a, b in zip(merged, merged[1:]):
                    pairs[a, b] += freq[i]
                    where[a, b].add(i)
        return cls(merges)

    def encode_word(self, word):
        if word not in self.cache:
            symbols = [SPM_SPACE + word[0]] + list(word[1:])
            while len(symbols) > 1:   # apply the earliest learnt merge first, as in training
                rank, k = min((self.ranks.get(p, math.inf), k) for k, p in enumerate(zip(symbols, symbols[1:])))
                if rank == math.inf:
                    break
                symbols = symbols[:k] + [symbols[k] + symbols[k + 1]] + symbols[k + 2:]
            self.cache[word] = symbols
        return self.cache[word]

    def encode(self, line, lang):
        if lang == 'zh':
            return [c for c in line if c != ' ']
        return [piece for word in line.lower().split() for piece in self.encode_word(word)]

# %%
num_merges = 600   # course: sentencepiece vocab_size = 8000
if (prefix/f'bpe{num_merges}.model').exists():
    print(f'{prefix}/bpe{num_merges}.model exists. skipping bpe training.')
    bpe_model = BPE([line.split() for line in open(prefix/f'bpe{num_merges}.model', encoding='utf-8')])
else:
    words = [w for split in ('train', 'valid') for line in open(prefix/f'{split}.clean.{src_lang}', encoding='utf-8')
             for w in line.lower().split()]
    bpe_model = BPE.train(words, num_merges)
    with open(prefix/f'bpe{num_merges}.model', 'w', encoding='utf-8') as f:
        for a, b in bpe_model.merges:
            print(a, b, file=f)

# %%
in_tag = {
    'train': 'train.clean',
    'valid': 'valid.clean',
    'test': 'test.raw.clean',
}
for split in ['train', 'valid', 'test']:
    for lang in [src_lang, tgt_lang]:
        out_path = prefix/f'{split}.{lang}'
        if out_path.exists():
            print(f"{out_path} exists. skipping bpe encode.")
        else:
            with open(prefix/f'{split}.{lang}', 'w', encoding='utf-8') as out_f:
                with open(prefix/f'{in_tag[split]}.{lang}', 'r', encoding='utf-8') as in_f:
                    for line in in_f:
                        line = line.strip()
                        tok = bpe_model.encode(line, lang)
                        print(' '.join(tok), file=out_f)

# %%
for lang in (src_lang, tgt_lang):
    with open(prefix/f'train.{lang}', encoding='utf-8') as f:
        print(''.join(f.readlines()[:5]))

# %% [markdown]
# ## Binarize the data
# fairseq's `preprocess --joined-dictionary` builds one dictionary for both languages and stores
# every line as token ids. The `Dictionary` below is fairseq's, reduced to what this notebook uses:
# `<s>`=0, `<pad>`=1, `</s>`=2, `<unk>`=3, then the symbols of the training data, most frequent first.

# %%
class Dictionary:
    def __init__(self, symbols=()):
        self.symbols = ['<s>', '<pad>', '</s>', '<unk>'] + [s for s in symbols]
        self.indices = {s: i for i, s in enumerate(self.symbols)}

    def bos(self): return 0
    def pad(self): return 1
    def eos(self): return 2
    def unk(self): return 3
    def __len__(self): return len(self.symbols)

    def index(self, sym):
        return self.indices.get(sym, self.unk())

    def encode_line(self, line):
        """'▁a ▁cat' -> LongTensor of ids, </s> appended."""
        return torch.LongTensor([self.index(t) for t in line.split()] + [self.eos()])

    def string(self, tensor, post_process=None):
        """ids -> text: special symbols dropped; 'bpe' joins the pieces and turns ▁ into spaces."""
        toks = [self.symbols[i] for i in tensor.tolist() if i > self.unk()]
        if post_process in ('bpe', 'sentencepiece'):
            return ''.join(toks).replace(SPM_SPACE, ' ').strip()
        return ' '.join(toks)

    def save(self, path):
        with open(path, 'w', encoding='utf-8') as f:
            for s in self.symbols[4:]:
                print(s, file=f)

    @classmethod
    def load(cls, path):
        return cls(line.rstrip('\n') for line in open(path, encoding='utf-8'))

def binarize(token_prefix, split, dictionary, destdir, src=src_lang, tgt=tgt_lang):
    for lang in (src, tgt):
        lines = open(f'{token_prefix}/{split}.{lang}', encoding='utf-8').read().splitlines()
        torch.save([dictionary.encode_line(line) for line in lines], destdir/f'{split}.{src}-{tgt}.{lang}.pt')

# %%
binpath = Path(OUT_DIR, 'DATA', 'data-bin', dataset_name)
if binpath.exists():
    print(binpath, "exists, will not overwrite!")
else:
    binpath.mkdir(parents=True)
    counts = collections.Counter(tok for lang in (src_lang, tgt_lang)
                                 for line in open(prefix/f'train.{lang}', encoding='utf-8') for tok in line.split())
    dictionary = Dictionary(sorted(counts, key=lambda t: (-counts[t], t)))   # joined dictionary
    dictionary.save(binpath/'dict.txt')
    for split in ('train', 'valid', 'test'):
        binarize(prefix, split, dictionary, binpath)

# %% [markdown]
# # Configuration for experiments

# %%
config = Namespace(
    datadir = os.path.join(OUT_DIR, "DATA/data-bin/ted2020"),
    savedir = os.path.join(OUT_DIR, "checkpoints/rnn"),
    source_lang = "en",
    target_lang = "zh",

    # cpu threads when fetching & processing data.
    num_workers=2,
    # batch size in terms of tokens. gradient accumulation increases the effective batchsize.
    max_tokens=300,    # course: 8192
    accum_steps=1,     # course: 2

    # the lr s calculated from Noam lr scheduler. you can tune the maximum lr by this factor.
    lr_factor=2.,
    lr_warmup=600,     # course: 4000

    # clipping gradient norm helps alleviate gradient exploding
    clip_norm=1.0,

    # maximum epochs for training
    max_epoch=15,
    start_epoch=1,

    # beam size for beam search
    beam=1,            # course: 5 (1 is greedy decoding, much faster on a CPU)
    # generate sequences of maximum length ax + b, where x is the source length
    max_len_a=1.2,
    max_len_b=10,
    # when decoding, post process sentence by removing the subword symbols.
    post_process = "bpe",

    # checkpoints
    keep_last_epochs=5,
    resume=None, # if resume from checkpoint name (under config.savedir)

    # logging
    use_wandb=False,
)

# %% [markdown]
# # Logging
# - logging package logs ordinary messages
# - (the course also logs to wandb; it is not installed here)

# %%
logging.basicConfig(
    format="%(asctime)s | %(levelname)s | %(name)s | %(message)s",
    datefmt="%Y-%m-%d %H:%M:%S",
    level="INFO", # "DEBUG" "WARNING" "ERROR"
    stream=sys.stdout,
)
proj = "hw5.seq2seq"
logger = logging.getLogger(proj)

# %% [markdown]
# # CUDA Environments

# %%
device = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')

# %% [markdown]
# # Dataloading

# %% [markdown]
# ## The TranslationTask (fairseq's, in brief)
# * used to load the binarized data created above
# * a data iterator that batches by tokens
# * built-in task.source_dictionary and task.target_dictionary are also handy
# * a beam search decoder (`build_generator`, defined with the model code below)

# %%
class LanguagePairDataset(data.Dataset):
    def __init__(self, src, tgt, src_dict, tgt_dict):
        self.src, self.tgt = src, tgt
        self.src_dict, self.tgt_dict = src_dict, tgt_dict
        self.src_sizes = np.array([len(s) for s in src])
        self.tgt_sizes = np.array([len(t) for t in tgt])

    def __getitem__(self, index):
        return {'id': index, 'source': self.src[index], 'target': self.tgt[index]}

    def __len__(self):
        return len(self.src)

    def collater(self, samples):
        """A batch as fairseq builds it: sources left-padded, targets right-padded, and the decoder
        input (prev_output_tokens) is the target shifted right with </s> moved to the front."""
        pad, eos = self.src_dict.pad(), self.src_dict.eos()
        bsz = len(samples)
        src_len = max(len(s['source']) for s in samples)
        tgt_len = max(len(s['target']) for s in samples)
        src_tokens = torch.full((bsz, src_len), pad, dtype=torch.long)
        target = torch.full((bsz, tgt_len), pad, dtype=torch.long)
        prev_output_tokens = torch.full((bsz, tgt_len), pad, dtype=torch.long)
        for i, s in enumerate(samples):
            src_tokens[i, src_len - len(s['source']):] = s['source']
            target[i, :len(s['target'])] = s['target']
            prev_output_tokens[i, 0] = eos
            prev_output_tokens[i, 1:len(s['target'])] = s['target'][:-1]
        return {
            'id': torch.LongTensor([s['id'] for s in samples]),
            'nsentences': bsz,
            'ntokens': sum(len(s['target']) for s in samples),
            'net_input': {
                'src_tokens': src_tokens,
                'src_lengths': torch.LongTensor([len(s['source']) for s in samples]),
                'prev_output_tokens': prev_output_tokens,
            },
            'target': target,
        }

class TranslationTask:
    def __init__(self, cfg, src_dict, tgt_dict):
        self.cfg = cfg
        self.source_dictionary, self.target_dictionary = src_dict, tgt_dict
        self.datasets = {}

    @classmethod
    def setup_task(cls, cfg):
        d = Dictionary.load(Path(cfg.data)/'dict.txt')   # joined dictionary
        return cls(cfg, d, d)

    def load_dataset(self, split, epoch=1, combine=False):
        """`combine`: also load split1, split2, … (e.g. back-translated data saved as train1)."""
        src, tgt = self.cfg.source_lang, self.cfg.target_lang
        names, k = [split], 1
        while combine and (Path(self.cfg.data)/f'{split}{k}.{src}-{tgt}.{src}.pt').exists():
            names.append(f'{split}{k}')
            k += 1
        src_data, tgt_data = [], []
        for name in names:
            src_data += torch.load(Path(self.cfg.data)/f'{name}.{src}-{tgt}.{src}.pt')
            tgt_data += torch.load(Path(self.cfg.data)/f'{name}.{src}-{tgt}.{tgt}.pt')
        self.datasets[split] = LanguagePairDataset(src_data, tgt_data, self.source_dictionary, self.target_dictionary)
        logger.info(f"{self.cfg.data} {split} {src}-{tgt} {len(src_data)} examples")

    def dataset(self, split):
        return self.datasets[split]

    def build_generator(self, models, args):
        return SequenceGenerator(models[0], self.target_dictionary, beam_size=args.beam,
                                 max_len_a=args.max_len_a, max_len_b=args.max_len_b)

# %%
task_cfg = Namespace(
    data=config.datadir,
    source_lang=config.source_lang,
    target_lang=config.target_lang,
)
task = TranslationTask.setup_task(task_cfg)

# %%
logger.info("loading data for epoch 1")
task.load_dataset(split="train", epoch=1, combine=True) # combine if you have back-translation data.
task.load_dataset(split="valid", epoch=1)

# %%
sample = task.dataset("valid")[1]
pprint.pprint(sample)
pprint.pprint(
    "Source: " + \
    task.source_dictionary.string(
        sample['source'],
        config.post_process,
    )
)
pprint.pprint(
    "Target: " + \
    task.target_dictionary.string(
        sample['target'],
        config.post_process,
    )
)

# %% [markdown]
# # Dataset iterator
#
# * Controls every batch to contain no more than N tokens
# * Shuffles the training set for every epoch
# * Ignore sentences exceeding maximum length
# * Pad all sentences in a batch to the same length, which enables parallel computing
# * Add eos and shift one token
#     - teacher forcing: to train the model to predict the next token based on prefix, we feed the right shifted target sequence as the decoder input.
#     - generally, prepending bos to the target would do the job (as shown below)
#     - in fairseq however, this is done by moving the eos token to the begining. Empirically, this has the same effect. For instance:
#     ```
#     # output target (target) and Decoder input (prev_output_tokens):
#                    eos = 2
#                 target = 419,  711,  238,  888,  792,   60,  968,    8,    2
#     prev_output_tokens = 2,  419,  711,  238,  888,  792,   60,  968,    8
#     ```

# %%
class EpochBatchIterator:
    """fairseq's iterator, in brief: batches of similar lengths (at most max_tokens tokens counting
    padding), in a seeded random order that changes with the epoch."""

    def __init__(self, dataset, batches, seed, epoch):
        self.dataset, self.batches, self.seed = dataset, batches, seed
        self.epoch = epoch
        self.next_epoch_idx = epoch

    def next_epoch_itr(self, shuffle=True):
        order = list(self.batches)
        if shuffle:
            random.Random(self.seed + self.epoch).shuffle(order)
        self.next_epoch_idx = self.epoch + 1
        return (self.dataset.collater([self.dataset[i] for i in b]) for b in order)

    def __len__(self):
        return len(self.batches)

def load_data_iterator(task, split, epoch=1, max_tokens=4000, num_workers=1, cached=True, max_positions=1024):
    dataset = task.dataset(split)
    keep = [i for i in range(len(dataset))
            if dataset.src_sizes[i] <= max_positions and dataset.tgt_sizes[i] <= max_positions]  # ignore_invalid_inputs
    keep.sort(key=lambda i: (dataset.tgt_sizes[i], dataset.src_sizes[i]))
    batches, batch, longest = [], [], 0
    for i in keep:
        size = max(dataset.src_sizes[i], dataset.tgt_sizes[i])
        if batch and max(longest, size) * (len(batch) + 1) > max_tokens:
            batches.append(batch)
            batch, longest = [], 0
        batch.append(i)
        longest = max(longest, size)
    if batch:
        batches.append(batch)
    return EpochBatchIterator(dataset, batches, seed, epoch)

demo_epoch_obj = load_data_iterator(task, "valid", epoch=1, max_tokens=20, num_workers=1, cached=False)
demo_iter = demo_epoch_obj.next_epoch_itr(shuffle=True)
sample = next(demo_iter)
sample

# %% [markdown]
# * each batch is a python dict, with string key and Tensor value. Contents are described below:
# ```python
# batch = {
#     "id": id, # id for each example
#     "nsentences": len(samples), # batch size (sentences)
#     "ntokens": ntokens, # batch size (tokens)
#     "net_input": {
#         "src_tokens": src_tokens, # sequence in source language
#         "src_lengths": src_lengths, # sequence length of each example before padding
#         "prev_output_tokens": prev_output_tokens, # right shifted target, as mentioned above.
#     },
#     "target": target, # target sequence
# }
# ```

# %% [markdown]
# # Model Architecture
# * The sample code inherits fairseq's encoder, decoder and model, so that in the testing phase it can
#   directly leverage fairseq's beam search decoder. The base classes are written out here.

# %%
class FairseqEncoder(nn.Module):
    def __init__(self, dictionary):
        super().__init__()
        self.dictionary = dictionary

class FairseqIncrementalDecoder(nn.Module):
    """Decoding one step at a time, the decoder caches what it computed for the earlier steps in
    `incremental_state` (a dict shared by every module of the model, keyed per module)."""

    def __init__(self, dictionary):
        super().__init__()
        self.dictionary = dictionary

    def get_incremental_state(self, incremental_state, key):
        if incremental_state is None:
            return None
        return incremental_state.get(f'{id(self)}.{key}')

    def set_incremental_state(self, incremental_state, key, value):
        if incremental_state is not None:
            incremental_state[f'{id(self)}.{key}'] = value

class FairseqEncoderDecoderModel(nn.Module):
    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

# %% [markdown]
# # Encoder

# %% [markdown]
# - The Encoder is a RNN or Transformer Encoder. The following description is for RNN. For every input token, Encoder will generate a output vector and a hidden states vector, and the hidden states vector is passed on to the next step. In other words, the Encoder sequentially reads in the input sequence, and outputs a single vector at each timestep, then finally outputs the final hidden states, or content vector, at the last timestep.
# - Parameters:
#   - *args*
#       - encoder_embed_dim: the dimension of embeddings, this compresses the one-hot vector into fixed dimensions, which achieves dimension reduction
#       - encoder_ffn_embed_dim is the dimension of hidden states and output vectors
#       - encoder_layers is the number of layers for Encoder RNN
#       - dropout determines the probability of a neuron's activation being set to 0, in order to prevent overfitting. Generally this is applied in training, and removed in testing.
#   - *dictionary*: the dictionary. it's used to obtain the padding index, and in turn the encoder padding mask.
#   - *embed_tokens*: an instance of token embeddings (nn.Embedding)
#
# - Inputs:
#     - *src_tokens*: integer sequence representing english e.g. 1, 28, 29, 205, 2
# - Outputs:
#     - *outputs*: the output of RNN at each timestep, can be furthur processed by Attention
#     - *final_hiddens*: the hidden states of each timestep, will be passed to decoder for decoding
#     - *encoder_padding_mask*: this tells the decoder which position to ignore

# %%
class RNNEncoder(FairseqEncoder):
    def __init__(self, args, dictionary, embed_tokens):
        super().__init__(dictionary)
        self.embed_tokens = embed_tokens

        self.embed_dim = args.encoder_embed_dim
        self.hidden_dim = args.encoder_ffn_embed_dim
        self.num_layers = args.encoder_layers

        self.dropout_in_module = nn.Dropout(args.dropout)
        self.rnn = nn.GRU(
            self.embed_dim,
            self.hidden_dim,
            self.num_layers,
            dropout=args.dropout if self.num_layers > 1 else 0.0,
            batch_first=False,
            bidirectional=True
        )
        self.dropout_out_module = nn.Dropout(args.dropout)

        self.padding_idx = dictionary.pad()

    def combine_bidir(self, outs, bsz: int):
        out = outs.view(self.num_layers, 2, bsz, -1).transpose(1, 2).contiguous()
        return out.view(self.num_layers, bsz, -1)

    def forward(self, src_tokens, **unused):
        bsz, seqlen = src_tokens.size()

        # get embeddings
        x = self.embed_tokens(src_tokens)
        x = self.dropout_in_module(x)

        # B x T x C -> T x B x C
        x = x.transpose(0, 1)

        # pass thru bidirectional RNN
        h0 = x.new_zeros(2 * self.num_layers, bsz, self.hidden_dim)
        x, final_hiddens = self.rnn(x, h0)
        outputs = self.dropout_out_module(x)
        # outputs = [sequence len, batch size, hid dim * directions]
        # hidden =  [num_layers * directions, batch size  , hid dim]

        # Since Encoder is bidirectional, we need to concatenate the hidden states of two directions
        final_hiddens = self.combine_bidir(final_hiddens, bsz)
        # hidden =  [num_layers x batch x num_directions*hidden]

        encoder_padding_mask = src_tokens.eq(self.padding_idx).t()
        return tuple(
            (
                outputs,  # seq_len x batch x hidden
                final_hiddens,  # num_layers x batch x num_directions*hidden
                encoder_padding_mask,  # seq_len x batch
            )
        )

    def reorder_encoder_out(self, encoder_out, new_order):
        # This is used by beam search. How and why is not particularly important here.
        return tuple(
            (
                encoder_out[0].index_select(1, new_order),
                encoder_out[1].index_select(1, new_order),
                encoder_out[2].index_select(1, new_order),
            )
        )

# %% [markdown]
# ## Attention

# %% [markdown]
# - When the input sequence is long, "content vector" alone cannot accurately represent the whole sequence, attention mechanism can provide the Decoder more information.
# - According to the **Decoder embeddings** of the current timestep, match the **Encoder outputs** with decoder embeddings to determine correlation, and then sum the Encoder outputs weighted by the correlation as the input to **Decoder** RNN.
# - Common attention implementations use neural network / dot product as the correlation between **query** (decoder embeddings) and **key** (Encoder outputs), followed by **softmax**  to obtain a distribution, and finally **values** (Encoder outputs) is **weighted sum**-ed by said distribution.
#
# - Parameters:
#   - *input_embed_dim*: dimensionality of key, should be that of the vector in decoder to attend others
#   - *source_embed_dim*: dimensionality of query, should be that of the vector to be attended to (encoder outputs)
#   - *output_embed_dim*: dimensionality of value, should be that of the vector after attention, expected by the next layer
#
# - Inputs:
#     - *inputs*: is the key, the vector to attend to others
#     - *encoder_outputs*:  is the query/value, the vector to be attended to
#     - *encoder_padding_mask*: this tells the decoder which position to ignore
# - Outputs:
#     - *output*: the context vector after attention
#     - *attention score*: the attention distribution

# %%
class AttentionLayer(nn.Module):
    def __init__(self, input_embed_dim, source_embed_dim, output_embed_dim, bias=False):
        super().__init__()

        self.input_proj = nn.Linear(input_embed_dim, source_embed_dim, bias=bias)
        self.output_proj = nn.Linear(
            input_embed_dim + source_embed_dim, output_embed_dim, bias=bias
        )

    def forward(self, inputs, encoder_outputs, encoder_padding_mask):
        # inputs: T, B, dim
        # encoder_outputs: S x B x dim
        # padding mask:  S x B

        # convert all to batch first
        inputs = inputs.transpose(1,0) # B, T, dim
        encoder_outputs = encoder_outputs.transpose(1,0) # B, S, dim
        encoder_padding_mask = encoder_padding_mask.transpose(1,0) # B, S

        # project to the dimensionality of encoder_outputs
        x = self.input_proj(inputs)

        # compute attention
        # (B, T, dim) x (B, dim, S) = (B, T, S)
        attn_scores = torch.bmm(x, encoder_outputs.transpose(1,2))

        # cancel the attention at positions corresponding to padding
        if encoder_padding_mask is not None:
            # leveraging broadcast  B, S -> (B, 1, S)
            encoder_padding_mask = encoder_padding_mask.unsqueeze(1)
            attn_scores = (
                attn_scores.float()
                .masked_fill_(encoder_padding_mask, float("-inf"))
                .type_as(attn_scores)
            )  # FP16 support: cast to float and back

        # softmax on the dimension corresponding to source sequence
        attn_scores = F.softmax(attn_scores, dim=-1)

        # shape (B, T, S) x (B, S, dim) = (B, T, dim) weighted sum
        x = torch.bmm(attn_scores, encoder_outputs)

        # (B, T, dim)
        x = torch.cat((x, inputs), dim=-1)
        x = torch.tanh(self.output_proj(x)) # concat + linear + tanh

        # restore shape (B, T, dim) -> (T, B, dim)
        return x.transpose(1,0), attn_scores

# %% [markdown]
# # Decoder

# %% [markdown]
# * The hidden states of **Decoder** will be initialized by the final hidden states of **Encoder** (the content vector)
# * At the same time, **Decoder** will change its hidden states based on the input of the current timestep (the outputs of previous timesteps), and generates an output
# * Attention improves the performance
# * The seq2seq steps are implemented in decoder, so that later the Seq2Seq class can accept RNN and Transformer, without furthur modification.
# - Parameters:
#   - *args*
#       - decoder_embed_dim: is the dimensionality of the decoder embeddings, similar to encoder_embed_dim，
#       - decoder_ffn_embed_dim: is the dimensionality of the decoder RNN hidden states, similar to encoder_ffn_embed_dim
#       - decoder_layers: number of layers of RNN decoder
#       - share_decoder_input_output_embed: usually, the projection matrix of the decoder will share weights with the decoder input embeddings
#   - *dictionary*: the dictionary
#   - *embed_tokens*: an instance of token embeddings (nn.Embedding)
# - Inputs:
#     - *prev_output_tokens*: integer sequence representing the right-shifted target e.g. 1, 28, 29, 205, 2
#     - *encoder_out*: encoder's output.
#     - *incremental_state*: in order to speed up decoding during test time, we will save the hidden state of each timestep. see forward() for details.
# - Outputs:
#     - *outputs*: the logits (before softmax) output of decoder for each timesteps
#     - *extra*: unsused

# %%
class RNNDecoder(FairseqIncrementalDecoder):
    def __init__(self, args, dictionary, embed_tokens):
        super().__init__(dictionary)
        self.embed_tokens = embed_tokens

        assert args.decoder_layers == args.encoder_layers, f"""seq2seq rnn requires that encoder
        and decoder have same layers of rnn. got: {args.encoder_layers, args.decoder_layers}"""
        assert args.decoder_ffn_embed_dim == args.encoder_ffn_embed_dim*2, f"""seq2seq-rnn requires
        that decoder hidden to be 2*encoder hidden dim. got: {args.decoder_ffn_embed_dim, args.encoder_ffn_embed_dim*2}"""

        self.embed_dim = args.decoder_embed_dim
        self.hidden_dim = args.decoder_ffn_embed_dim
        self.num_layers = args.decoder_layers


        self.dropout_in_module = nn.Dropout(args.dropout)
        self.rnn = nn.GRU(
            self.embed_dim,
            self.hidden_dim,
            self.num_layers,
            dropout=args.dropout if self.num_layers > 1 else 0.0,
            batch_first=False,
            bidirectional=False
        )
        self.attention = AttentionLayer(
            self.embed_dim, self.hidden_dim, self.embed_dim, bias=False
        )
        # self.attention = None
        self.dropout_out_module = nn.Dropout(args.dropout)

        if self.hidden_dim != self.embed_dim:
            self.project_out_dim = nn.Linear(self.hidden_dim, self.embed_dim)
        else:
            self.project_out_dim = None

        if args.share_decoder_input_output_embed:
            self.output_projection = nn.Linear(
                self.embed_tokens.weight.shape[1],
                self.embed_tokens.weight.shape[0],
                bias=False,
            )
            self.output_projection.weight = self.embed_tokens.weight
        else:
            self.output_projection = nn.Linear(
                self.output_embed_dim, len(dictionary), bias=False
            )
            nn.init.normal_(
                self.output_projection.weight, mean=0, std=self.output_embed_dim ** -0.5
            )

    def forward(self, prev_output_tokens, encoder_out, incremental_state=None, **unused):
        # extract the outputs from encoder
        encoder_outputs, encoder_hiddens, encoder_padding_mask = encoder_out
        # outputs:          seq_len x batch x num_directions*hidden
        # encoder_hiddens:  num_layers x batch x num_directions*encoder_hidden
        # padding_mask:     seq_len x batch

        if incremental_state is not None and len(incremental_state) > 0:
            # if the information from last timestep is retained, we can continue from there instead of starting from bos
            prev_output_tokens = prev_output_tokens[:, -1:]
            cache_state = self.get_incremental_state(incremental_state, "cached_state")
            prev_hiddens = cache_state["prev_hiddens"]
        else:
            # incremental state does not exist, either this is training time, or the first timestep of test time
            # prepare for seq2seq: pass the encoder_hidden to the decoder hidden states
            prev_hiddens = encoder_hiddens

        bsz, seqlen = prev_output_tokens.size()

        # embed tokens
        x = self.embed_tokens(prev_output_tokens)
        x = self.dropout_in_module(x)

        # B x T x C -> T x B x C
        x = x.transpose(0, 1)

        # decoder-to-encoder attention
        if self.attention is not None:
            x, attn = self.attention(x, encoder_outputs, encoder_padding_mask)

        # pass thru unidirectional RNN
        x, final_hiddens = self.rnn(x, prev_hiddens)
        # outputs = [sequence len, batch size, hid dim]
        # hidden =  [num_layers * directions, batch size  , hid dim]
        x = self.dropout_out_module(x)

        # project to embedding size (if hidden differs from embed size, and share_embedding is True,
        # we need to do an extra projection)
        if self.project_out_dim != None:
            x = self.project_out_dim(x)

        # project to vocab size
        x = self.output_projection(x)

        # T x B x C -> B x T x C
        x = x.transpose(1, 0)

        # if incremental, record the hidden states of current timestep, which will be restored in the next timestep
        cache_state = {
            "prev_hiddens": final_hiddens,
        }
        self.set_incremental_state(incremental_state, "cached_state", cache_state)

        return x, None

    def reorder_incremental_state(
        self,
        incremental_state,
        new_order,
    ):
        # This is used by beam search. How and why is not particularly important here.
        cache_state = self.get_incremental_state(incremental_state, "cached_state")
        prev_hiddens = cache_state["prev_hiddens"]
        prev_hiddens = [p.index_select(0, new_order) for p in prev_hiddens]
        cache_state = {
            "prev_hiddens": torch.stack(prev_hiddens),
        }
        self.set_incremental_state(incremental_state, "cached_state", cache_state)
        return

# %% [markdown]
# ## Seq2Seq
# - Composed of **Encoder** and **Decoder**
# - Recieves inputs and pass to **Encoder**
# - Pass the outputs from **Encoder** to **Decoder**
# - **Decoder** will decode according to outputs of previous timesteps as well as **Encoder** outputs
# - Once done decoding, return the **Decoder** outputs

# %%
class Seq2Seq(FairseqEncoderDecoderModel):
    def __init__(self, args, encoder, decoder):
        super().__init__(encoder, decoder)
        self.args = args

    def forward(
        self,
        src_tokens,
        src_lengths,
        prev_output_tokens,
        return_all_hiddens: bool = True,
    ):
        """
        Run the forward pass for an encoder-decoder model.
        """
        encoder_out = self.encoder(
            src_tokens, src_lengths=src_lengths, return_all_hiddens=return_all_hiddens
        )
        logits, extra = self.decoder(
            prev_output_tokens,
            encoder_out=encoder_out,
            src_lengths=src_lengths,
            return_all_hiddens=return_all_hiddens,
        )
        return logits, extra

# %% [markdown]
# ## fairseq's Transformer, in plain PyTorch
# `TransformerEncoder` and `TransformerDecoder` take the same `(args, dictionary, embed_tokens)` as
# fairseq's and read the same `args` (layers, heads, ffn size, `normalize_before`, dropout,
# `share_decoder_input_output_embed`); sinusoidal positions, scaled embeddings, and an incremental
# (cached) decoder for generation. You do not need to modify this part.

# %%
class SinusoidalPositionalEmbedding(nn.Module):
    def __init__(self, embedding_dim, padding_idx, init_size=1026):
        super().__init__()
        half = embedding_dim // 2
        freq = torch.exp(torch.arange(half, dtype=torch.float) * -(math.log(10000.0) / (half - 1)))
        pos = torch.arange(init_size, dtype=torch.float).unsqueeze(1) * freq.unsqueeze(0)
        weights = torch.cat([torch.sin(pos), torch.cos(pos)], dim=1)
        if embedding_dim % 2 == 1:
            weights = torch.cat([weights, torch.zeros(init_size, 1)], dim=1)
        weights[padding_idx, :] = 0
        self.padding_idx = padding_idx
        self.register_buffer('weights', weights, persistent=False)

    def forward(self, tokens, incremental_state=None):
        # positions count the non-pad tokens from padding_idx + 1, as in fairseq: (B, T) -> (B, T, C)
        mask = tokens.ne(self.padding_idx).long()
        positions = torch.cumsum(mask, dim=1) * mask + self.padding_idx
        if incremental_state is not None:
            positions = positions[:, -1:]
        return self.weights.index_select(0, positions.reshape(-1)).view(*positions.shape, -1)

class MultiheadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, dropout=0.0, self_attention=False):
        super().__init__()
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout, self.self_attention = dropout, self_attention
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def _heads(self, x):   # (B, T, C) -> (B, H, T, C/H)
        return x.view(x.size(0), -1, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query, key, key_padding_mask=None, causal=False, cache=None):
        """query (B, T, C), key (B, S, C), key_padding_mask (B, S) True at pads. `cache` (a dict)
        keeps the keys and values of earlier steps (self-attention) or of the source (cross-attention)."""
        q = self._heads(self.q_proj(query))
        if cache is not None and not self.self_attention and 'k' in cache:
            k, v = cache['k'], cache['v']      # the encoder output does not change between steps
        else:
            k, v = self._heads(self.k_proj(key)), self._heads(self.v_proj(key))
            if cache is not None:
                if self.self_attention and 'k' in cache:
                    k, v = torch.cat([cache['k'], k], dim=2), torch.cat([cache['v'], v], dim=2)
                cache['k'], cache['v'] = k, v
        mask = None
        if key_padding_mask is not None:
            mask = ~key_padding_mask[:, None, None, :]   # True where attention is allowed
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                           dropout_p=self.dropout if self.training else 0.0,
                                           is_causal=causal and cache is None)
        y = y.transpose(1, 2).reshape(query.size(0), -1, self.embed_dim)
        return self.out_proj(y)

class TransformerEncoderLayer(nn.Module):
    def __init__(self, args):
        super().__init__()
        dim = args.encoder_embed_dim
        self.self_attn = MultiheadAttention(dim, args.encoder_attention_heads, args.attention_dropout, self_attention=True)
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, args.encoder_ffn_embed_dim)
        self.fc2 = nn.Linear(args.encoder_ffn_embed_dim, dim)
        self.final_layer_norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(args.dropout)
        self.activation_dropout = nn.Dropout(args.activation_dropout)
        self.normalize_before = args.encoder_normalize_before

    def forward(self, x, padding_mask):
        residual = x
        if self.normalize_before:
            x = self.self_attn_layer_norm(x)
        x = residual + self.dropout(self.self_attn(x, x, padding_mask))
        if not self.normalize_before:
            x = self.self_attn_layer_norm(x)
        residual = x
        if self.normalize_before:
            x = self.final_layer_norm(x)
        x = residual + self.dropout(self.fc2(self.activation_dropout(F.relu(self.fc1(x)))))
        if not self.normalize_before:
            x = self.final_layer_norm(x)
        return x

class TransformerDecoderLayer(nn.Module):
    def __init__(self, args):
        super().__init__()
        dim = args.decoder_embed_dim
        self.self_attn = MultiheadAttention(dim, args.decoder_attention_heads, args.attention_dropout, self_attention=True)
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.encoder_attn = MultiheadAttention(dim, args.decoder_attention_heads, args.attention_dropout)
        self.encoder_attn_layer_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, args.decoder_ffn_embed_dim)
        self.fc2 = nn.Linear(args.decoder_ffn_embed_dim, dim)
        self.final_layer_norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(args.dropout)
        self.activation_dropout = nn.Dropout(args.activation_dropout)
        self.normalize_before = args.decoder_normalize_before

    def _sublayer(self, x, norm, fn):
        residual = x
        x = fn(norm(x) if self.normalize_before else x)
        x = residual + self.dropout(x)
        return x if self.normalize_before else norm(x)

    def forward(self, x, memory, memory_padding_mask, cache=None):
        x = self._sublayer(x, self.self_attn_layer_norm,
                           lambda y: self.self_attn(y, y, causal=True, cache=None if cache is None else cache['self']))
        x = self._sublayer(x, self.encoder_attn_layer_norm,
                           lambda y: self.encoder_attn(y, memory, memory_padding_mask,
                                                       cache=None if cache is None else cache['cross']))
        return self._sublayer(x, self.final_layer_norm,
                              lambda y: self.fc2(self.activation_dropout(F.relu(self.fc1(y)))))

class TransformerEncoder(FairseqEncoder):
    def __init__(self, args, dictionary, embed_tokens):
        super().__init__(dictionary)
        self.embed_tokens = embed_tokens
        self.embed_scale = math.sqrt(args.encoder_embed_dim)
        self.padding_idx = dictionary.pad()
        self.embed_positions = SinusoidalPositionalEmbedding(args.encoder_embed_dim, self.padding_idx,
                                                             args.max_source_positions + self.padding_idx + 1)
        self.dropout = nn.Dropout(args.dropout)
        self.layers = nn.ModuleList([TransformerEncoderLayer(args) for _ in range(args.encoder_layers)])
        self.layer_norm = nn.LayerNorm(args.encoder_embed_dim) if args.encoder_normalize_before else None

    def forward(self, src_tokens, **unused):
        padding_mask = src_tokens.eq(self.padding_idx)                        # (B, S)
        x = self.embed_scale * self.embed_tokens(src_tokens) + self.embed_positions(src_tokens)
        x = self.dropout(x)                                                   # (B, S, C)
        for layer in self.layers:
            x = layer(x, padding_mask)
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return {"encoder_out": x, "encoder_padding_mask": padding_mask}

    def reorder_encoder_out(self, encoder_out, new_order):
        return {k: v.index_select(0, new_order) for k, v in encoder_out.items()}

class TransformerDecoder(FairseqIncrementalDecoder):
    def __init__(self, args, dictionary, embed_tokens):
        super().__init__(dictionary)
        self.embed_tokens = embed_tokens
        self.embed_scale = math.sqrt(args.decoder_embed_dim)
        self.padding_idx = dictionary.pad()
        self.embed_positions = SinusoidalPositionalEmbedding(args.decoder_embed_dim, self.padding_idx,
                                                             args.max_target_positions + self.padding_idx + 1)
        self.dropout = nn.Dropout(args.dropout)
        self.layers = nn.ModuleList([TransformerDecoderLayer(args) for _ in range(args.decoder_layers)])
        self.layer_norm = nn.LayerNorm(args.decoder_embed_dim) if args.decoder_normalize_before else None
        self.output_projection = nn.Linear(args.decoder_embed_dim, len(dictionary), bias=False)
        if args.share_decoder_input_output_embed:
            self.output_projection.weight = self.embed_tokens.weight
        else:
            nn.init.normal_(self.output_projection.weight, mean=0, std=args.decoder_embed_dim ** -0.5)

    def forward(self, prev_output_tokens, encoder_out, incremental_state=None, **unused):
        cache = self.get_incremental_state(incremental_state, "cache")
        if incremental_state is not None and cache is None:
            cache = [{'self': {}, 'cross': {}} for _ in self.layers]
            self.set_incremental_state(incremental_state, "cache", cache)
        positions = self.embed_positions(prev_output_tokens, incremental_state)
        if incremental_state is not None:
            prev_output_tokens = prev_output_tokens[:, -1:]                  # only the newest token
        x = self.embed_scale * self.embed_tokens(prev_output_tokens) + positions
        x = self.dropout(x)                                                   # (B, T, C)
        for i, layer in enumerate(self.layers):
            x = layer(x, encoder_out["encoder_out"], encoder_out["encoder_padding_mask"],
                      None if cache is None else cache[i])
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return self.output_projection(x), None                                # (B, T, V)

    def reorder_incremental_state(self, incremental_state, new_order):
        cache = self.get_incremental_state(incremental_state, "cache")
        for layer_cache in cache or []:
            for part in layer_cache.values():
                for k in list(part):
                    part[k] = part[k].index_select(0, new_order)

# %% [markdown]
# ## The sequence generator (fairseq's beam search, in brief)
# Beam search keeps the `beam` best prefixes of every sentence; a finished hypothesis is scored by
# its log-probability divided by its length. `beam=1` is greedy decoding.

# %%
class SequenceGenerator:
    def __init__(self, model, tgt_dict, beam_size=5, max_len_a=1.2, max_len_b=10):
        self.model, self.tgt_dict = model, tgt_dict
        self.beam_size, self.max_len_a, self.max_len_b = beam_size, max_len_a, max_len_b

    @torch.no_grad()
    def generate(self, models, sample):
        model = models[0]
        model.eval()
        src_tokens = sample["net_input"]["src_tokens"]
        bsz, beam = src_tokens.size(0), self.beam_size
        eos, pad = self.tgt_dict.eos(), self.tgt_dict.pad()
        max_len = int(self.max_len_a * src_tokens.size(1) + self.max_len_b)
        encoder_out = model.encoder(src_tokens, src_lengths=sample["net_input"]["src_lengths"])
        new_order = torch.arange(bsz).repeat_interleave(beam)                 # every sentence beam times
        encoder_out = model.encoder.reorder_encoder_out(encoder_out, new_order)
        incremental_state = {}
        tokens = torch.full((bsz * beam, 1), eos, dtype=torch.long)          # decoding starts from </s>
        scores = torch.zeros(bsz, beam)
        scores[:, 1:] = -math.inf                                             # all beams start identical
        finished = [[] for _ in range(bsz)]
        for step in range(max_len + 1):
            logits, _ = model.decoder(tokens, encoder_out, incremental_state=incremental_state)
            lprobs = F.log_softmax(logits[:, -1].float(), dim=-1)             # (bsz*beam, V)
            lprobs[:, pad] = lprobs[:, self.tgt_dict.bos()] = lprobs[:, self.tgt_dict.unk()] = -math.inf
            if step == max_len:                                               # out of length: finish
                lprobs[:, :eos] = lprobs[:, eos + 1:] = -math.inf
            vocab = lprobs.size(1)
            cand = (scores.view(-1, 1) + lprobs).view(bsz, beam * vocab)
            top_scores, top_idx = cand.topk(2 * beam, dim=1)                  # (bsz, 2*beam)
            top_beam, top_tok = top_idx // vocab, top_idx % vocab
            is_eos = top_tok.eq(eos) & top_scores.gt(-math.inf)
            for i, j in zip(*torch.nonzero(is_eos, as_tuple=True)):
                i, j = int(i), int(j)
                if len(finished[i]) < beam and j < beam:                      # among the best beam candidates
                    hypo = torch.cat([tokens[i * beam + top_beam[i, j], 1:], torch.tensor([eos])])
                    finished[i].append({"tokens": hypo, "score": float(top_scores[i, j]) / len(hypo)})
            # keep the best `beam` candidates that do not end here
            live_scores = top_scores.masked_fill(is_eos, -math.inf)
            keep_scores, keep = live_scores.topk(beam, dim=1)
            done = torch.tensor([len(f) >= beam for f in finished])
            if bool(done.all()) or step == max_len:
                break
            keep_scores[done] = -math.inf
            reorder = (torch.arange(bsz).unsqueeze(1) * beam + top_beam.gather(1, keep)).view(-1)
            tokens = torch.cat([tokens.index_select(0, reorder), top_tok.gather(1, keep).view(-1, 1)], dim=1)
            scores = keep_scores
            # (the encoder output needs no reordering: a sentence's beam rows are identical copies)
            model.decoder.reorder_incremental_state(incremental_state, reorder)
        return [sorted(f, key=lambda h: -h["score"]) or [{"tokens": torch.tensor([eos]), "score": -math.inf}]
                for f in finished]

# %% [markdown]
# # Model Initialization

# %%
# # HINT: transformer architecture (TransformerEncoder and TransformerDecoder are defined above)

def build_model(args, task):
    """ build a model instance based on hyperparameters """
    src_dict, tgt_dict = task.source_dictionary, task.target_dictionary

    # token embeddings
    encoder_embed_tokens = nn.Embedding(len(src_dict), args.encoder_embed_dim, src_dict.pad())
    decoder_embed_tokens = nn.Embedding(len(tgt_dict), args.decoder_embed_dim, tgt_dict.pad())

    # encoder decoder
    # HINT: TODO: switch to TransformerEncoder & TransformerDecoder
    encoder = RNNEncoder(args, src_dict, encoder_embed_tokens)
    decoder = RNNDecoder(args, tgt_dict, decoder_embed_tokens)
    # encoder = TransformerEncoder(args, src_dict, encoder_embed_tokens)
    # decoder = TransformerDecoder(args, tgt_dict, decoder_embed_tokens)

    # sequence to sequence model
    model = Seq2Seq(args, encoder, decoder)

    # initialization for seq2seq model is important, requires extra handling
    def init_params(module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if module.bias is not None:
                module.bias.data.zero_()
        if isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        if isinstance(module, MultiheadAttention):
            module.q_proj.weight.data.normal_(mean=0.0, std=0.02)
            module.k_proj.weight.data.normal_(mean=0.0, std=0.02)
            module.v_proj.weight.data.normal_(mean=0.0, std=0.02)
        if isinstance(module, nn.RNNBase):
            for name, param in module.named_parameters():
                if "weight" in name or "bias" in name:
                    param.data.uniform_(-0.1, 0.1)

    # weight initialization
    model.apply(init_params)
    return model

# %% [markdown]
# ## Architecture Related Configuration
#
# For strong baseline, please refer to the hyperparameters for *transformer-base* in Table 3 in *Attention is all you need*.
# The sizes here are the course's divided by four (encoder_embed_dim 256, encoder_ffn_embed_dim 512,
# decoder_ffn_embed_dim 1024 in the course), for the CPU budget.

# %%
arch_args = Namespace(
    encoder_embed_dim=64,
    encoder_ffn_embed_dim=64,
    encoder_layers=1,
    decoder_embed_dim=64,
    decoder_ffn_embed_dim=128,
    decoder_layers=1,
    share_decoder_input_output_embed=True,
    dropout=0.3,
)

# HINT: these patches on parameters for Transformer
def add_transformer_args(args):
    args.encoder_attention_heads=4
    args.encoder_normalize_before=True

    args.decoder_attention_heads=4
    args.decoder_normalize_before=True

    args.activation_fn="relu"
    args.max_source_positions=1024
    args.max_target_positions=1024

    # patches on default parameters for Transformer (those not set above), as fairseq's base_architecture
    args.attention_dropout = getattr(args, "attention_dropout", 0.0)
    args.activation_dropout = getattr(args, "activation_dropout", 0.0)

add_transformer_args(arch_args)

# %%
model = build_model(arch_args, task)
logger.info(model)

# %% [markdown]
# # Optimization

# %% [markdown]
# ## Loss: Label Smoothing Regularization
# * let the model learn to generate less concentrated distribution, and prevent over-confidence
# * sometimes the ground truth may not be the only answer. thus, when calculating loss, we reserve some probability for incorrect labels
# * avoids overfitting
#
# code [source](https://fairseq.readthedocs.io/en/latest/_modules/fairseq/criterions/label_smoothed_cross_entropy.html)

# %%
class LabelSmoothedCrossEntropyCriterion(nn.Module):
    def __init__(self, smoothing, ignore_index=None, reduce=True):
        super().__init__()
        self.smoothing = smoothing
        self.ignore_index = ignore_index
        self.reduce = reduce

    def forward(self, lprobs, target):
        if target.dim() == lprobs.dim() - 1:
            target = target.unsqueeze(-1)
        # nll: Negative log likelihood，the cross-entropy when target is one-hot. following line is same as F.nll_loss
        nll_loss = -lprobs.gather(dim=-1, index=target)
        #  reserve some probability for other labels. thus when calculating cross-entropy,
        # equivalent to summing the log probs of all labels
        smooth_loss = -lprobs.sum(dim=-1, keepdim=True)
        if self.ignore_index is not None:
            pad_mask = target.eq(self.ignore_index)
            nll_loss.masked_fill_(pad_mask, 0.0)
            smooth_loss.masked_fill_(pad_mask, 0.0)
        else:
            nll_loss = nll_loss.squeeze(-1)
            smooth_loss = smooth_loss.squeeze(-1)
        if self.reduce:
            nll_loss = nll_loss.sum()
            smooth_loss = smooth_loss.sum()
        # when calculating cross-entropy, add the loss of other labels
        eps_i = self.smoothing / lprobs.size(-1)
        loss = (1.0 - self.smoothing) * nll_loss + eps_i * smooth_loss
        return loss

# generally, 0.1 is good enough
criterion = LabelSmoothedCrossEntropyCriterion(
    smoothing=0.1,
    ignore_index=task.target_dictionary.pad(),
)

# %% [markdown]
# ## Optimizer: Adam + lr scheduling
# Inverse square root scheduling is important to the stability when training Transformer. It's later used on RNN as well.
# Update the learning rate according to the following equation. Linearly increase the first stage, then decay proportionally to the inverse square root of timestep.
# $$lrate = d_{\text{model}}^{-0.5}\cdot\min({step\_num}^{-0.5},{step\_num}\cdot{warmup\_steps}^{-1.5})$$

# %%
def get_rate(d_model, step_num, warmup_step):
    # TODO: Change lr from constant to the equation shown above
    lr = 0.001
    return lr

# %%
class NoamOpt:
    "Optim wrapper that implements rate."
    def __init__(self, model_size, factor, warmup, optimizer):
        self.optimizer = optimizer
        self._step = 0
        self.warmup = warmup
        self.factor = factor
        self.model_size = model_size
        self._rate = 0

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    def multiply_grads(self, c):
        """Multiplies grads by a constant *c*."""
        for group in self.param_groups:
            for p in group['params']:
                if p.grad is not None:
                    p.grad.data.mul_(c)

    def step(self):
        "Update parameters and rate"
        self._step += 1
        rate = self.rate()
        for p in self.param_groups:
            p['lr'] = rate
        self._rate = rate
        self.optimizer.step()

    def rate(self, step = None):
        "Implement `lrate` above"
        if step is None:
            step = self._step
        return 0 if not step else self.factor * get_rate(self.model_size, step, self.warmup)

# %% [markdown]
# ## Scheduling Visualized

# %%
optimizer = NoamOpt(
    model_size=arch_args.encoder_embed_dim,
    factor=config.lr_factor,
    warmup=config.lr_warmup,
    optimizer=torch.optim.AdamW(model.parameters(), lr=0, betas=(0.9, 0.98), eps=1e-9, weight_decay=0.0001))
plt.plot(np.arange(1, 10000), [optimizer.rate(i) for i in range(1, 10000)])
plt.legend([f"{optimizer.model_size}:{optimizer.warmup}"])
None

# %% [markdown]
# # Training Procedure

# %% [markdown]
# ## Training
# (The course trains with automatic mixed precision on a GPU; on a CPU it is plain float32.)

# %%
def GroupedIterator(itr, chunk_size):
    """gradient accumulation: yield lists of `chunk_size` batches"""
    chunk = []
    for x in itr:
        chunk.append(x)
        if len(chunk) == chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

def train_one_epoch(epoch_itr, model, task, criterion, optimizer, accum_steps=1):
    itr = epoch_itr.next_epoch_itr(shuffle=True)
    itr = GroupedIterator(itr, accum_steps) # gradient accumulation: update every accum_steps samples

    stats = {"loss": []}

    model.train()
    for samples in itr:
        model.zero_grad()
        accum_loss = 0
        sample_size = 0
        # gradient accumulation: update every accum_steps samples
        for i, sample in enumerate(samples):
            target = sample["target"]
            sample_size_i = sample["ntokens"]
            sample_size += sample_size_i

            net_output = model.forward(**sample["net_input"])
            lprobs = F.log_softmax(net_output[0], -1)
            loss = criterion(lprobs.view(-1, lprobs.size(-1)), target.view(-1))

            # logging
            accum_loss += loss.item()
            # back-prop
            loss.backward()

        optimizer.multiply_grads(1 / (sample_size or 1.0)) # (sample_size or 1.0) handles the case of a zero gradient
        gnorm = nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm) # grad norm clipping prevents gradient exploding
        optimizer.step()

        # logging
        loss_print = accum_loss/sample_size
        stats["loss"].append(loss_print)

    loss_print = np.mean(stats["loss"])
    logger.info(f"training loss: {loss_print:.4f}")
    return stats

# %% [markdown]
# ## Validation & Inference
# To prevent overfitting, validation is required every epoch to validate the performance on unseen data.
# - the procedure is essensially same as training, with the addition of inference step
# - after validation we can save the model weights
#
# Validation loss alone cannot describe the actual performance of the model
# - Directly produce translation hypotheses based on current model, then calculate BLEU with the reference translation
# - We can also manually examine the hypotheses' quality
# - We use the sequence generator for beam search to generate translation hypotheses

# %%
# the beam search generator
# given model and input seqeunce, produce translation hypotheses by beam search
sequence_generator = task.build_generator([model], config)

def decode(toks, dictionary):
    # convert from Tensor to human readable sentence
    s = dictionary.string(
        toks.int().cpu(),
        config.post_process,
    )
    return s if s else "<unk>"

def inference_step(sample, model):
    gen_out = sequence_generator.generate([model], sample)
    srcs = []
    hyps = []
    refs = []
    for i in range(len(gen_out)):
        # for each sample, collect the input, hypothesis and reference, later be used to calculate BLEU
        srcs.append(decode(
            sample["net_input"]["src_tokens"][i],
            task.source_dictionary,
        ))
        hyps.append(decode(
            gen_out[i][0]["tokens"], # 0 indicates using the top hypothesis in beam
            task.target_dictionary,
        ))
        refs.append(decode(
            sample["target"][i],
            task.target_dictionary,
        ))
    return srcs, hyps, refs

# %% [markdown]
# BLEU: the grader scores with sacrebleu (`corpus_bleu(hyps, [refs], tokenize='zh')`), which is not
# in the course image; `corpus_bleu` below computes the same quantity (4-gram corpus BLEU, Chinese
# split into characters) for validation.

# %%
def bleu_tokenize(s):
    """sacrebleu's zh tokenizer, in brief: CJK characters and punctuation become tokens of their own."""
    s = re.sub(r'([\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef])', r' \1 ', s)
    s = re.sub(r'([^\w\s])', r' \1 ', s)
    return s.split()

def corpus_bleu(hyps, refs, max_n=4):
    matches, totals = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for h, r in zip(hyps, refs):
        h, r = bleu_tokenize(h), bleu_tokenize(r)
        hyp_len, ref_len = hyp_len + len(h), ref_len + len(r)
        for n in range(1, max_n + 1):
            hc = collections.Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
            rc = collections.Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
            matches[n - 1] += sum(min(c, rc[g]) for g, c in hc.items())
            totals[n - 1] += max(len(h) - n + 1, 0)
    if min(matches) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n
    brevity = min(0.0, 1 - ref_len / max(hyp_len, 1))
    return 100 * math.exp(log_precision + brevity)

# %%
def validate(model, task, criterion, log_to_wandb=True):
    logger.info('begin validation')
    itr = load_data_iterator(task, "valid", 1, config.max_tokens, config.num_workers).next_epoch_itr(shuffle=False)

    stats = {"loss":[], "bleu": 0, "srcs":[], "hyps":[], "refs":[]}
    srcs = []
    hyps = []
    refs = []

    model.eval()
    with torch.no_grad():
        for i, sample in enumerate(itr):
            # validation loss
            net_output = model.forward(**sample["net_input"])

            lprobs = F.log_softmax(net_output[0], -1)
            target = sample["target"]
            sample_size = sample["ntokens"]
            loss = criterion(lprobs.view(-1, lprobs.size(-1)), target.view(-1)) / sample_size
            stats["loss"].append(loss)

            # do inference
            s, h, r = inference_step(sample, model)
            srcs.extend(s)
            hyps.extend(h)
            refs.extend(r)

    stats["loss"] = torch.stack(stats["loss"]).mean().item()
    stats["bleu"] = corpus_bleu(hyps, refs) # 計算BLEU score
    stats["srcs"] = srcs
    stats["hyps"] = hyps
    stats["refs"] = refs

    showid = np.random.randint(len(hyps))
    logger.info("example source: " + srcs[showid])
    logger.info("example hypothesis: " + hyps[showid])
    logger.info("example reference: " + refs[showid])

    # show bleu results
    logger.info(f"validation loss:\t{stats['loss']:.4f}")
    logger.info(f"BLEU = {stats['bleu']:.2f}")
    return stats

# %% [markdown]
# # Save and Load Model Weights

# %%
def validate_and_save(model, task, criterion, optimizer, epoch, save=True):
    stats = validate(model, task, criterion)
    bleu = stats['bleu']
    loss = stats['loss']
    if save:
        # save epoch checkpoints
        savedir = Path(config.savedir).absolute()
        savedir.mkdir(parents=True, exist_ok=True)

        check = {
            "model": model.state_dict(),
            "stats": {"bleu": bleu, "loss": loss},
            "optim": {"step": optimizer._step}
        }
        torch.save(check, savedir/f"checkpoint{epoch}.pt")
        shutil.copy(savedir/f"checkpoint{epoch}.pt", savedir/f"checkpoint_last.pt")
        logger.info(f"saved epoch checkpoint: {savedir}/checkpoint{epoch}.pt")

        # save epoch samples
        with open(savedir/f"samples{epoch}.{config.source_lang}-{config.target_lang}.txt", "w", encoding="utf-8") as f:
            for s, h in zip(stats["srcs"], stats["hyps"]):
                f.write(f"{s}\t{h}\n")

        # get best valid bleu
        if getattr(validate_and_save, "best_bleu", 0) < bleu:
            validate_and_save.best_bleu = bleu
            torch.save(check, savedir/f"checkpoint_best.pt")

        del_file = savedir / f"checkpoint{epoch - config.keep_last_epochs}.pt"
        if del_file.exists():
            del_file.unlink()

    return stats

def try_load_checkpoint(model, optimizer=None, name=None):
    name = name if name else "checkpoint_last.pt"
    checkpath = Path(config.savedir)/name
    if checkpath.exists():
        check = torch.load(checkpath, weights_only=True)
        model.load_state_dict(check["model"])
        stats = check["stats"]
        step = "unknown"
        if optimizer != None:
            optimizer._step = step = check["optim"]["step"]
        logger.info(f"loaded checkpoint {checkpath}: step={step} loss={stats['loss']} bleu={stats['bleu']}")
    else:
        logger.info(f"no checkpoints found at {checkpath}!")

# %% [markdown]
# # Main
# ## Training loop

# %%
model = model.to(device=device)
criterion = criterion.to(device=device)

# %%
logger.info("task: {}".format(task.__class__.__name__))
logger.info("encoder: {}".format(model.encoder.__class__.__name__))
logger.info("decoder: {}".format(model.decoder.__class__.__name__))
logger.info("criterion: {}".format(criterion.__class__.__name__))
logger.info("optimizer: {}".format(optimizer.__class__.__name__))
logger.info(
    "num. model params: {:,} (num. trained: {:,})".format(
        sum(p.numel() for p in model.parameters()),
        sum(p.numel() for p in model.parameters() if p.requires_grad),
    )
)
logger.info(f"max tokens per batch = {config.max_tokens}, accumulate steps = {config.accum_steps}")

# %%
epoch_itr = load_data_iterator(task, "train", config.start_epoch, config.max_tokens, config.num_workers)
try_load_checkpoint(model, optimizer, name=config.resume)
while epoch_itr.next_epoch_idx <= config.max_epoch:
    # train for one epoch
    train_one_epoch(epoch_itr, model, task, criterion, optimizer, config.accum_steps)
    stats = validate_and_save(model, task, criterion, optimizer, epoch=epoch_itr.epoch)
    logger.info("end of epoch {}".format(epoch_itr.epoch))
    epoch_itr = load_data_iterator(task, "train", epoch_itr.next_epoch_idx, config.max_tokens, config.num_workers)

# %% [markdown]
# # Submission

# %%
# averaging a few checkpoints can have a similar effect to ensemble
# (fairseq's scripts/average_checkpoints.py --num-epoch-checkpoints 5, written out)
def average_checkpoints(checkdir, num_epoch_checkpoints, output):
    paths = sorted(Path(checkdir).glob("checkpoint[0-9]*.pt"), key=lambda p: int(p.stem[len("checkpoint"):]))
    paths = paths[-num_epoch_checkpoints:]
    checks = [torch.load(p, weights_only=True) for p in paths]
    avg = {k: sum(c["model"][k] for c in checks) / len(checks) if checks[0]["model"][k].is_floating_point()
           else checks[-1]["model"][k] for k in checks[0]["model"]}
    torch.save({"model": avg, "stats": {"bleu": "avg", "loss": "avg"}, "optim": checks[-1]["optim"]}, output)
    logger.info(f"averaged {[p.name for p in paths]} into {output}")

checkdir=config.savedir
average_checkpoints(checkdir, 5, f"{checkdir}/avg_last_5_checkpoint.pt")

# %% [markdown]
# ## Confirm model weights used to generate submission

# %%
# checkpoint_last.pt : latest epoch
# checkpoint_best.pt : highest validation bleu
# avg_last_5_checkpoint.pt:　the average of last 5 epochs
try_load_checkpoint(model, name="avg_last_5_checkpoint.pt")
validate(model, task, criterion, log_to_wandb=False)
None

# %% [markdown]
# ## Generate Prediction

# %%
def generate_prediction(model, task, split="test", outfile=os.path.join(OUT_DIR, "prediction.txt")):
    task.load_dataset(split=split, epoch=1)
    itr = load_data_iterator(task, split, 1, config.max_tokens, config.num_workers).next_epoch_itr(shuffle=False)

    idxs = []
    hyps = []

    model.eval()
    with torch.no_grad():
        for i, sample in enumerate(itr):
            # do inference
            s, h, r = inference_step(sample, model)

            hyps.extend(h)
            idxs.extend(list(sample['id']))

    # sort based on the order before preprocess
    hyps = [x for _,x in sorted(zip(idxs,hyps))]

    with open(outfile, "w", encoding="utf-8") as f:
        for h in hyps:
            f.write(h+"\n")

# %%
generate_prediction(model, task)

# %% [markdown]
# # Back-translation

# %% [markdown]
# ## Train a backward translation model

# %% [markdown]
# 1. Switch the source_lang and target_lang in **config**
# 2. Change the savedir in **config** (eg. "./checkpoints/transformer-back")
# 3. Train model

# %% [markdown]
# ## Generate synthetic data with backward model

# %% [markdown]
# ### Monolingual data
# The course downloads `ted_zh_corpus.deduped.gz`; here it is `DATA_DIR/DATA/rawdata/mono/ted_zh_corpus.deduped`.

# %%
mono_dataset_name = 'mono'

# %%
mono_prefix = Path(data_dir).absolute() / mono_dataset_name
mono_prefix.mkdir(parents=True, exist_ok=True)
if not (mono_prefix / 'ted_zh_corpus.deduped').exists():
    shutil.copy(Path(DATA_DIR) / 'DATA' / 'rawdata' / mono_dataset_name / 'ted_zh_corpus.deduped', mono_prefix)

# %% [markdown]
# ### TODO: clean corpus
#
# 1. remove sentences that are too long or too short
# 2. unify punctuation
#
# hint: you can use clean_s() defined above to do this

# %%


# %% [markdown]
# ### TODO: Subword Units
#
# Use the subword model of the backward model to tokenize the data into subword units
#
# hint: the merges are in DATA/rawdata/\[dataset\]/bpe\[num_merges\].model (`bpe_model.encode(line, 'zh')`)

# %%


# %% [markdown]
# ### Binarize
#
# use `binarize(...)` (above) with the same dictionary: `Dictionary.load(binpath/'dict.txt')`

# %%


# %% [markdown]
# ### TODO: Generate synthetic data with backward model
#
# Add binarized monolingual data to the original data directory, and name it with "split_name"
#
# ex. ./DATA/data-bin/ted2020/\[split_name\].zh-en.\["en", "zh"\].pt
#
# then you can use 'generate_prediction(model, task, split="split_name")' to generate translation prediction

# %%
# hint: do prediction on split='mono' to create prediction_file
# generate_prediction( ... ,split=... ,outfile=... )

# %% [markdown]
# ### TODO: Create new dataset
#
# 1. Combine the prediction data with monolingual data
# 2. Use the original subword model to tokenize data into Subword Units
# 3. Binarize data: save them as ./DATA/data-bin/ted2020/train1.en-zh.\["en", "zh"\].pt, then
#    `task.load_dataset(split="train", epoch=1, combine=True)` loads train and train1 together

# %%


# %% [markdown]
# Created new dataset "ted2020_with_mono"
#
# 1. Change the datadir in **config** ("./DATA/data-bin/ted2020_with_mono")
# 2. Switch back the source_lang and target_lang in **config** ("en", "zh")
# 2. Change the savedir in **config** (eg. "./checkpoints/transformer-bt")
# 3. Train model

# %% [markdown]
# # References
# 1. Ott, M., Edunov, S., Baevski, A., Fan, A., Gross, S., Ng, N., ... & Auli, M. (2019). fairseq: A Fast, Extensible Toolkit for Sequence Modeling. NAACL (Demonstrations).
# 2. Vaswani, A., Shazeer, N., Parmar, N., Uszkoreit, J., Jones, L., Gomez, A. N., ... & Polosukhin, I. (2017). Attention is all you need. NeurIPS.
# 3. Reimers, N., & Gurevych, I. (2020). Making Monolingual Sentence Embeddings Multilingual Using Knowledge Distillation. EMNLP.
# 4. Kudo, T., & Richardson, J. (2018). SentencePiece: A simple and language independent subword tokenizer and detokenizer for Neural Text Processing. EMNLP (Demonstrations).
# 5. Sennrich, R., Haddow, B., & Birch, A. (2016). Neural Machine Translation of Rare Words with Subword Units. ACL.
# 6. Sennrich, R., Haddow, B., & Birch, A. (2016). Improving Neural Machine Translation Models with Monolingual Data. ACL.
# 7. Edunov, S., Ott, M., Auli, M., & Grangier, D. (2018). Understanding Back-Translation at Scale. EMNLP.
# 8. The ML2022 HW5 sample code (Hung-yi Lee, NTU), https://github.com/virginiakm1988/ML2022-Spring (HW05/HW05.ipynb).
