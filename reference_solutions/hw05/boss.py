"""
HW5 reference solution, level "boss": the course's hint, back-translation with the monolingual
corpus, plus beam search.

    python reference_solutions/hw05/boss.py --data DATA_DIR --out OUT_DIR/prediction.txt

strong.py's Transformer, then the course's back-translation recipe:
  1. train the en -> zh model as strong.py does (25 epochs);
  2. train a backward zh -> en model the same way on the same pairs, longer (40 epochs: its English is
     the synthetic source, and with 20 it garbles most sentences and the gain depends on the course's data);
  3. clean the monolingual corpus (DATA/rawdata/mono/ted_zh_corpus.deduped: clean_s, drop empty and
     over-long lines), encode it with the same BPE and dictionary, and translate it back to English;
  4. continue training the en -> zh model on the real pairs plus the synthetic ones (4 epochs), and
     average those epochs;
  5. translate the test set with beam search (beam 4; course: 5).
Why it pays here: the parallel talks are mostly about technology, the test talks (and the
monolingual text) mostly about everyday life, and eighteen English nouns translate by the domain
(mouse: 滑鼠 / 老鼠, window: 視窗 / 窗戶, ...). The backward model maps both senses to the same English
word, so the synthetic pairs teach the forward model the everyday senses the parallel text rarely
shows; beam search then fixes some of greedy decoding's early mistakes.
Expected: BLEU 8-25 % above strong on the ci data (77.07 / 77.54 public / private against strong's
61.74 / 62.06 on one course's data, 64.95 / 65.96 against 60.08 / 60.21 on another); about 100 s of
CPU on one thread.
"""
import argparse
import collections
import math
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    seed: int = 73
    valid_ratio: float = 0.01
    num_merges: int = 600           # course: sentencepiece, vocab_size 8000
    # model: a small transformer (the course's transformer-base hint, scaled to a CPU)
    encoder_embed_dim: int = 64
    encoder_ffn_embed_dim: int = 128
    encoder_layers: int = 2
    decoder_embed_dim: int = 64
    decoder_ffn_embed_dim: int = 128
    decoder_layers: int = 2
    share_decoder_input_output_embed: bool = True
    dropout: float = 0.1
    # add_transformer_args
    encoder_attention_heads: int = 4
    encoder_normalize_before: bool = True
    decoder_attention_heads: int = 4
    decoder_normalize_before: bool = True
    max_source_positions: int = 1024
    max_target_positions: int = 1024
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    # optimisation
    max_tokens: int = 1000          # course: 8192, accum_steps 2
    accum_steps: int = 1
    lr_factor: float = 1.0
    lr_warmup: int = 300            # course: 4000
    clip_norm: float = 1.0
    max_epoch: int = 25
    label_smoothing: float = 0.1
    keep_last_epochs: int = 5       # the submission uses the average of the last 5 epochs
    # back-translation
    backward_epochs: int = 40       # the backward model must translate well: its English is the synthetic source
    mono_max_len: int = 100         # characters; longer monolingual lines are dropped
    bt_epochs: int = 4              # epochs on real + synthetic pairs (their average is the submission)
    # generation
    beam: int = 4                   # course: 5
    max_len_a: float = 1.2
    max_len_b: int = 10


SPM_SPACE = "\u2581"


# ----------------------------------------------------------------------------------- data
def strQ2B(ustring):
    """Full width -> half width."""
    out = []
    for uchar in ustring:
        code = ord(uchar)
        if code == 12288:
            code = 32
        elif 65281 <= code <= 65374:
            code -= 65248
        out.append(chr(code))
    return "".join(out)


def clean_s(s, lang):
    if lang == 'en':
        s = re.sub(r"\([^()]*\)", "", s)            # remove (Laughter)
        s = s.replace('-', '')
        s = re.sub('([.,;!?()\"])', r' \1 ', s)      # punctuation as tokens
    elif lang == 'zh':
        s = strQ2B(s)
        s = re.sub(r"\([^()]*\)", "", s)
        s = s.replace(' ', '').replace('—', '').replace('“', '"').replace('”', '"').replace('_', '')
        s = re.sub('([。,;!?()\"~「」])', r' \1 ', s)
    return ' '.join(s.strip().split())


def len_s(s, lang):
    return len(s) if lang == 'zh' else len(s.split())


def read_lines(path):
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f]


def clean_corpus(src_lines, tgt_lines, ratio=9, max_len=1000, min_len=1):
    """The course's clean_corpus on lists: clean both sides, drop too short / long / unbalanced pairs."""
    pairs = []
    for s1, s2 in zip(src_lines, tgt_lines):
        s1, s2 = clean_s(s1, 'en'), clean_s(s2, 'zh')
        l1, l2 = len_s(s1, 'en'), len_s(s2, 'zh')
        if min_len > 0 and (l1 < min_len or l2 < min_len):
            continue
        if max_len > 0 and (l1 > max_len or l2 > max_len):
            continue
        if ratio > 0 and (l1 / l2 > ratio or l2 / l1 > ratio):
            continue
        pairs.append((s1, s2))
    return pairs


def split_train_valid(pairs, valid_ratio):
    """The course's split: a shuffled label per line (python's global `random`, seeded)."""
    labels = list(range(len(pairs)))
    random.shuffle(labels)
    train = [p for p, lab in zip(pairs, labels) if lab / len(pairs) < 1 - valid_ratio]
    valid = [p for p, lab in zip(pairs, labels) if lab / len(pairs) >= 1 - valid_ratio]
    return train, valid


class BPE:
    """Byte-pair encoding of English words (▁ starts a word); Chinese is one token per character."""

    def __init__(self, merges):
        self.merges = [tuple(m) for m in merges]
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.cache = {}

    @classmethod
    def train(cls, words, num_merges):
        counts = collections.Counter(words)
        vocab = [[SPM_SPACE + w[0]] + list(w[1:]) for w in counts]
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
            for i in sorted(where.pop(best)):   # only the words holding the pair change
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
            while len(symbols) > 1:
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


class Dictionary:
    """fairseq's: <s>=0 <pad>=1 </s>=2 <unk>=3, then the training symbols, most frequent first."""

    def __init__(self, symbols=()):
        self.symbols = ['<s>', '<pad>', '</s>', '<unk>'] + list(symbols)
        self.indices = {s: i for i, s in enumerate(self.symbols)}

    def bos(self): return 0
    def pad(self): return 1
    def eos(self): return 2
    def unk(self): return 3
    def __len__(self): return len(self.symbols)

    def encode(self, tokens):      # tokens -> (T + 1,) ids with </s>
        return torch.LongTensor([self.indices.get(t, self.unk()) for t in tokens] + [self.eos()])

    def string(self, ids):         # ids -> text; ▁ becomes a space
        return ''.join(self.symbols[i] for i in ids.tolist() if i > self.unk()).replace(SPM_SPACE, ' ').strip()


class LanguagePairDataset:
    def __init__(self, src, tgt, pad, eos):
        self.src, self.tgt, self.pad, self.eos = src, tgt, pad, eos
        self.src_sizes = np.array([len(s) for s in src])
        self.tgt_sizes = np.array([len(t) for t in tgt])

    def __len__(self):
        return len(self.src)

    def collater(self, ids):
        """fairseq's batch: sources left-padded, targets right-padded, decoder input = </s> + target[:-1]."""
        bsz = len(ids)
        src_len, tgt_len = max(len(self.src[i]) for i in ids), max(len(self.tgt[i]) for i in ids)
        src_tokens = torch.full((bsz, src_len), self.pad, dtype=torch.long)
        target = torch.full((bsz, tgt_len), self.pad, dtype=torch.long)
        prev_output_tokens = torch.full((bsz, tgt_len), self.pad, dtype=torch.long)
        for k, i in enumerate(ids):
            s, t = self.src[i], self.tgt[i]
            src_tokens[k, src_len - len(s):] = s
            target[k, :len(t)] = t
            prev_output_tokens[k, 0] = self.eos
            prev_output_tokens[k, 1:len(t)] = t[:-1]
        return {'id': torch.LongTensor(ids), 'ntokens': sum(len(self.tgt[i]) for i in ids),
                'net_input': {'src_tokens': src_tokens,
                              'src_lengths': torch.LongTensor([len(self.src[i]) for i in ids]),
                              'prev_output_tokens': prev_output_tokens},
                'target': target}


def make_batches(dataset, max_tokens, max_positions=1024):
    """fairseq's batching: sort by (target, source) length, cut at max_tokens counting padding."""
    keep = [i for i in range(len(dataset))
            if dataset.src_sizes[i] <= max_positions and dataset.tgt_sizes[i] <= max_positions]
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
    return batches


def epoch_batches(dataset, max_tokens, seed, epoch):
    """The batches of one training epoch, in the seeded order fairseq's iterator gives that epoch."""
    batches = make_batches(dataset, max_tokens)
    random.Random(seed + epoch).shuffle(batches)
    return batches


# ---------------------------------------------------------------------------------- model
class FairseqEncoder(nn.Module):
    def __init__(self, dictionary):
        super().__init__()
        self.dictionary = dictionary


class FairseqIncrementalDecoder(nn.Module):
    def __init__(self, dictionary):
        super().__init__()
        self.dictionary = dictionary

    def get_incremental_state(self, incremental_state, key):
        return None if incremental_state is None else incremental_state.get(f'{id(self)}.{key}')

    def set_incremental_state(self, incremental_state, key, value):
        if incremental_state is not None:
            incremental_state[f'{id(self)}.{key}'] = value


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
        # positions count the non-pad tokens from padding_idx + 1 (left padding does not shift them)
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
        """query (B, T, C), key (B, S, C), key_padding_mask (B, S) True at pads. `cache` keeps the keys
        and values of earlier steps (self-attention) or of the source (encoder-decoder attention)."""
        q = self._heads(self.q_proj(query))
        if cache is not None and not self.self_attention and 'k' in cache:
            k, v = cache['k'], cache['v']
        else:
            k, v = self._heads(self.k_proj(key)), self._heads(self.v_proj(key))
            if cache is not None:
                if self.self_attention and 'k' in cache:
                    k, v = torch.cat([cache['k'], k], dim=2), torch.cat([cache['v'], v], dim=2)
                cache['k'], cache['v'] = k, v
        mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0,
                                           is_causal=causal and cache is None)
        return self.out_proj(y.transpose(1, 2).reshape(query.size(0), -1, self.embed_dim))


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
        x = self.dropout(self.embed_scale * self.embed_tokens(src_tokens) + self.embed_positions(src_tokens))
        for layer in self.layers:
            x = layer(x, padding_mask)                                        # (B, S, C)
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
        self.output_projection.weight = self.embed_tokens.weight             # share_decoder_input_output_embed

    def forward(self, prev_output_tokens, encoder_out, incremental_state=None, **unused):
        cache = self.get_incremental_state(incremental_state, "cache")
        if incremental_state is not None and cache is None:
            cache = [{'self': {}, 'cross': {}} for _ in self.layers]
            self.set_incremental_state(incremental_state, "cache", cache)
        positions = self.embed_positions(prev_output_tokens, incremental_state)
        if incremental_state is not None:
            prev_output_tokens = prev_output_tokens[:, -1:]                  # only the newest token
        x = self.dropout(self.embed_scale * self.embed_tokens(prev_output_tokens) + positions)
        for i, layer in enumerate(self.layers):
            x = layer(x, encoder_out["encoder_out"], encoder_out["encoder_padding_mask"],
                      None if cache is None else cache[i])
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return self.output_projection(x), None                                # (B, T, V)

    def reorder_incremental_state(self, incremental_state, new_order):
        for layer_cache in self.get_incremental_state(incremental_state, "cache") or []:
            for part in layer_cache.values():
                for k in list(part):
                    part[k] = part[k].index_select(0, new_order)


class Seq2Seq(nn.Module):
    def __init__(self, args, encoder, decoder):
        super().__init__()
        self.encoder, self.decoder, self.args = encoder, decoder, args

    def forward(self, src_tokens, src_lengths, prev_output_tokens):
        return self.decoder(prev_output_tokens, encoder_out=self.encoder(src_tokens, src_lengths=src_lengths))


def build_model(args, dictionary):
    """The sample's build_model with the hint applied: TransformerEncoder / TransformerDecoder."""
    encoder_embed_tokens = nn.Embedding(len(dictionary), args.encoder_embed_dim, dictionary.pad())
    decoder_embed_tokens = nn.Embedding(len(dictionary), args.decoder_embed_dim, dictionary.pad())
    model = Seq2Seq(args, TransformerEncoder(args, dictionary, encoder_embed_tokens),
                    TransformerDecoder(args, dictionary, decoder_embed_tokens))

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

    model.apply(init_params)
    return model


# ------------------------------------------------------------------------------ training
def label_smoothed_nll_loss(lprobs, target, smoothing, ignore_index):
    """(N, V) log-probs, (N,) targets -> summed loss; pads ignored."""
    target = target.unsqueeze(-1)
    nll_loss = -lprobs.gather(dim=-1, index=target)
    smooth_loss = -lprobs.sum(dim=-1, keepdim=True)
    pad_mask = target.eq(ignore_index)
    nll_loss.masked_fill_(pad_mask, 0.0)
    smooth_loss.masked_fill_(pad_mask, 0.0)
    eps_i = smoothing / lprobs.size(-1)
    return (1.0 - smoothing) * nll_loss.sum() + eps_i * smooth_loss.sum()


def get_rate(d_model, step_num, warmup_step):
    # linear warm-up for warmup_step steps, then decay with the inverse square root of the step
    lr = d_model ** (-0.5) * min(step_num ** (-0.5), step_num * warmup_step ** (-1.5))
    return lr


class NoamOpt:
    """Optimizer wrapper that sets the rate factor * get_rate(...) before every step."""

    def __init__(self, model_size, factor, warmup, optimizer):
        self.optimizer, self._step, self.warmup, self.factor, self.model_size = optimizer, 0, warmup, factor, model_size

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    def multiply_grads(self, c):
        for group in self.param_groups:
            for p in group['params']:
                if p.grad is not None:
                    p.grad.data.mul_(c)

    def step(self):
        self._step += 1
        rate = self.rate()
        for p in self.param_groups:
            p['lr'] = rate
        self.optimizer.step()

    def rate(self, step=None):
        step = self._step if step is None else step
        return 0 if not step else self.factor * get_rate(self.model_size, step, self.warmup)


def train_one_epoch(model, dataset, batches, optimizer, cfg, pad):
    """One pass; the loss is summed over tokens and the gradient divided by the token count."""
    model.train()
    losses = []
    for start in range(0, len(batches), cfg.accum_steps):
        model.zero_grad()
        accum_loss, sample_size = 0.0, 0
        for ids in batches[start:start + cfg.accum_steps]:
            sample = dataset.collater(ids)
            sample_size += sample["ntokens"]
            logits, _ = model(**sample["net_input"])
            lprobs = F.log_softmax(logits, -1)
            loss = label_smoothed_nll_loss(lprobs.view(-1, lprobs.size(-1)), sample["target"].view(-1),
                                           cfg.label_smoothing, pad)
            accum_loss += loss.item()
            loss.backward()
        optimizer.multiply_grads(1 / (sample_size or 1.0))
        nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
        optimizer.step()
        losses.append(accum_loss / sample_size)
    return float(np.mean(losses))


def average_state_dicts(states):
    """fairseq's average_checkpoints: the mean of every float tensor."""
    return {k: sum(s[k] for s in states) / len(states) if states[0][k].is_floating_point() else states[-1][k]
            for k in states[0]}


# ---------------------------------------------------------------------------- generation
@torch.no_grad()
def generate(model, sample, dictionary, beam, max_len_a, max_len_b):
    """fairseq's beam search in brief (beam=1: greedy). Returns the best token ids per sentence."""
    model.eval()
    src_tokens = sample["net_input"]["src_tokens"]
    bsz = src_tokens.size(0)
    eos, pad = dictionary.eos(), dictionary.pad()
    max_len = int(max_len_a * src_tokens.size(1) + max_len_b)
    encoder_out = model.encoder(src_tokens, src_lengths=sample["net_input"]["src_lengths"])
    encoder_out = model.encoder.reorder_encoder_out(encoder_out, torch.arange(bsz).repeat_interleave(beam))
    incremental_state = {}
    tokens = torch.full((bsz * beam, 1), eos, dtype=torch.long)          # decoding starts from </s>
    scores = torch.zeros(bsz, beam)
    scores[:, 1:] = -math.inf                                             # all beams start identical
    finished = [[] for _ in range(bsz)]
    for step in range(max_len + 1):
        logits, _ = model.decoder(tokens, encoder_out, incremental_state=incremental_state)
        lprobs = F.log_softmax(logits[:, -1].float(), dim=-1)             # (bsz*beam, V)
        lprobs[:, pad] = lprobs[:, dictionary.bos()] = lprobs[:, dictionary.unk()] = -math.inf
        if step == max_len:
            lprobs[:, :eos] = lprobs[:, eos + 1:] = -math.inf
        vocab = lprobs.size(1)
        top_scores, top_idx = (scores.view(-1, 1) + lprobs).view(bsz, beam * vocab).topk(2 * beam, dim=1)
        top_beam, top_tok = top_idx // vocab, top_idx % vocab
        is_eos = top_tok.eq(eos) & top_scores.gt(-math.inf)
        for i, j in zip(*torch.nonzero(is_eos, as_tuple=True)):
            i, j = int(i), int(j)
            if len(finished[i]) < beam and j < beam:
                hypo = torch.cat([tokens[i * beam + top_beam[i, j], 1:], torch.tensor([eos])])
                finished[i].append({"tokens": hypo, "score": float(top_scores[i, j]) / len(hypo)})
        keep_scores, keep = top_scores.masked_fill(is_eos, -math.inf).topk(beam, dim=1)
        done = torch.tensor([len(f) >= beam for f in finished])
        if bool(done.all()) or step == max_len:
            break
        keep_scores[done] = -math.inf
        reorder = (torch.arange(bsz).unsqueeze(1) * beam + top_beam.gather(1, keep)).view(-1)
        tokens = torch.cat([tokens.index_select(0, reorder), top_tok.gather(1, keep).view(-1, 1)], dim=1)
        scores = keep_scores
        model.decoder.reorder_incremental_state(incremental_state, reorder)
    return [sorted(f, key=lambda h: -h["score"])[0]["tokens"] if f else torch.tensor([eos]) for f in finished]


def translate(model, dataset, dictionary, cfg):
    """Every sentence of `dataset`, batched as the notebook batches its test set; output in input order."""
    out = [None] * len(dataset)
    for ids in make_batches(dataset, cfg.max_tokens):
        sample = dataset.collater(ids)
        for i, toks in zip(ids, generate(model, sample, dictionary, cfg.beam, cfg.max_len_a, cfg.max_len_b)):
            out[i] = dictionary.string(toks) or "<unk>"
    return out


def corpus_bleu(hyps, refs, max_n=4):
    """sacrebleu's corpus BLEU with the zh tokenizer, in brief (sacrebleu is not in the course image)."""
    def tok(s):
        s = re.sub(r'([\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef])', r' \1 ', s)
        return re.sub(r'([^\w\s])', r' \1 ', s).split()
    matches, totals, hyp_len, ref_len = [0] * max_n, [0] * max_n, 0, 0
    for h, r in zip(hyps, refs):
        h, r = tok(h), tok(r)
        hyp_len, ref_len = hyp_len + len(h), ref_len + len(r)
        for n in range(1, max_n + 1):
            hc = collections.Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
            rc = collections.Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
            matches[n - 1] += sum(min(c, rc[g]) for g, c in hc.items())
            totals[n - 1] += max(len(h) - n + 1, 0)
    if min(matches) == 0:
        return 0.0
    return 100 * math.exp(sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n
                          + min(0.0, 1 - ref_len / max(hyp_len, 1)))


# ---------------------------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the release folder (holds DATA/rawdata/ted2020)")
    parser.add_argument("--out", required=True, help="where to write prediction.txt")
    args = parser.parse_args()
    cfg = Config()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    # The notebook's global seeding: python's `random` draws the validation split, torch's global
    # generator the initial weights and the dropout masks.
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)

    raw = Path(args.data) / "DATA" / "rawdata" / "ted2020"
    pairs = clean_corpus(read_lines(raw / "train_dev.raw.en"), read_lines(raw / "train_dev.raw.zh"))
    test_en = [clean_s(s, 'en') for s in read_lines(raw / "test.raw.en")]
    train, valid = split_train_valid(pairs, cfg.valid_ratio)

    bpe = BPE.train([w for s, _ in train + valid for w in s.lower().split()], cfg.num_merges)
    train_tok = [(bpe.encode(s, 'en'), bpe.encode(t, 'zh')) for s, t in train]
    counts = collections.Counter(tok for s, t in train_tok for tok in s + t)   # the joined dictionary
    dictionary = Dictionary(sorted(counts, key=lambda t: (-counts[t], t)))

    def dataset(src_tok, tgt_tok):
        return LanguagePairDataset([dictionary.encode(s) for s in src_tok], [dictionary.encode(t) for t in tgt_tok],
                                   dictionary.pad(), dictionary.eos())
    train_set = dataset(*zip(*train_tok))
    valid_set = dataset([bpe.encode(s, 'en') for s, _ in valid], [bpe.encode(t, 'zh') for _, t in valid])
    test_set = dataset([bpe.encode(s, 'en') for s in test_en], [['。']] * len(test_en))  # pseudo targets
    print(f"train {len(train_set)} valid {len(valid_set)} test {len(test_set)} pairs, dictionary {len(dictionary)}")

    def train(model, optimizer, data, epochs, first_epoch=1, tag=""):
        """Train `epochs` epochs; load the average of the last keep_last_epochs of them."""
        states = []
        for epoch in range(first_epoch, first_epoch + epochs):
            loss = train_one_epoch(model, data, epoch_batches(data, cfg.max_tokens, cfg.seed, epoch),
                                   optimizer, cfg, dictionary.pad())
            states = (states + [{k: v.clone() for k, v in model.state_dict().items()}])[-cfg.keep_last_epochs:]
            print(f"{tag} epoch {epoch}: train loss {loss:.3f}, lr {optimizer.rate():.5f}, {optimizer._step} steps")
        model.load_state_dict(average_state_dicts(states))
        return model

    def new_model():
        model = build_model(cfg, dictionary)
        return model, NoamOpt(cfg.encoder_embed_dim, cfg.lr_factor, cfg.lr_warmup,
                              torch.optim.AdamW(model.parameters(), lr=0, betas=(0.9, 0.98), eps=1e-9,
                                                weight_decay=0.0001))

    # 1. en -> zh on the parallel text, as strong.py
    model, optimizer = new_model()
    train(model, optimizer, train_set, cfg.max_epoch, tag="en-zh")
    # 2. the backward model: the same pairs, the other way round
    backward, back_optimizer = new_model()
    reverse_set = LanguagePairDataset(train_set.tgt, train_set.src, dictionary.pad(), dictionary.eos())
    train(backward, back_optimizer, reverse_set, cfg.backward_epochs, tag="zh-en")
    # 3. back-translate the cleaned monolingual corpus (greedy; the targets are empty placeholders)
    mono = [clean_s(s, 'zh') for s in read_lines(Path(args.data) / "DATA" / "rawdata" / "mono" / "ted_zh_corpus.deduped")]
    mono = [s for s in mono if 1 <= len_s(s, 'zh') <= cfg.mono_max_len]
    mono_set = LanguagePairDataset([dictionary.encode(bpe.encode(s, 'zh')) for s in mono],
                                   [dictionary.encode([])] * len(mono), dictionary.pad(), dictionary.eos())
    greedy = Config(**{**vars(cfg), "beam": 1})
    synthetic_en = translate(backward, mono_set, dictionary, greedy)
    print(f"back-translated {len(mono)} sentences, e.g. {mono[0]!r} -> {synthetic_en[0]!r}")
    # 4. real + synthetic pairs, continuing the forward model's training and schedule
    synthetic = LanguagePairDataset([dictionary.encode(bpe.encode(s, 'en')) for s in synthetic_en],
                                    mono_set.src, dictionary.pad(), dictionary.eos())
    combined = LanguagePairDataset(train_set.src + synthetic.src, train_set.tgt + synthetic.tgt,
                                   dictionary.pad(), dictionary.eos())
    train(model, optimizer, combined, cfg.bt_epochs, first_epoch=cfg.max_epoch + 1, tag="en-zh + back-translation")

    print(f"valid BLEU (greedy): "
          f"{corpus_bleu(translate(model, valid_set, dictionary, greedy), [t for _, t in valid]):.2f}")
    hyps = translate(model, test_set, dictionary, cfg)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for h in hyps:
            f.write(h + "\n")


if __name__ == "__main__":
    main()
