"""HW5 (machine translation, English -> Traditional Chinese) dataset builder.

``build(ctx)`` writes, in the course's layout (the notebook's ``./DATA/rawdata``):

    release/DATA/rawdata/ted2020/train_dev.raw.en   English, one sentence per line
    release/DATA/rawdata/ted2020/train_dev.raw.zh   its Chinese translation, line by line
    release/DATA/rawdata/ted2020/test.raw.en        the sentences to translate
    release/DATA/rawdata/ted2020/test.raw.zh        a pseudo translation, '。' on every line (as in the course)
    release/DATA/rawdata/mono/ted_zh_corpus.deduped Chinese-only text, for back-translation
    release/sample_submission.txt                   the format: one line per test sentence
    hidden/answers.csv                              line,translation (the test references)
    hidden_inputs/schedule.json                     learning-rate probe points for the hidden checks

The course's data is TED2020 (about 394k pairs), which cannot be redistributed here, so the source is
``generated``: a TED-like parallel corpus of an English fragment and a Chinese rendering of it.

The English side is plain English over a fixed vocabulary: subjects and objects with determiners,
numbers (words up to ten, digits above), one or two adjectives, possessives, relative clauses and
names; verbs with tense, aspect, negation and agreement (reads / read / will read / is reading / did
not read, a/an, is/are, irregular plurals and pasts); time and place phrases, manner adverbs; clause
pairs joined by because / when / if / but / and / before / after, reported speech, yes/no questions;
TED fillers ("Thank you.") and stage notes ("(Laughter)").

The Chinese side is written like Traditional Chinese (sacrebleu's ``zh`` tokenizer splits it into
characters; full-width punctuation, no spaces) with a grammar that differs from the English one:

* verb-final clauses: action verbs take their object before the verb with 把 (老師把書讀完了),
  perception and emotion verbs keep it after (老師看見了貓); which one depends on the verb;
* the time phrase moves behind the subject, then come the place (在…裡 / 附近 / 下面), aspect and
  negation (了 / 正在 / 會 / 沒有 / 不 / 不會), the manner adverb (…地) and the verb group;
* relative clauses go before their noun (讀完書的學生); "A because B" and "because B, A" both become
  因為B，所以A (the clauses swap); "A before B" becomes 在B之前，A;
* agreement: a counted noun takes its own classifier (三本書, 一匹馬; 兩, not 二, before one),
  human plurals take 們 only when not counted, negation depends on tense (沒有 / 不), "old" is 老 for
  people and animals and 舊 for things;
* idioms: English idioms translate as one fixed four-character phrase ("spill the beans" ->
  洩漏天機), never word by word, although their words (cat, bag, stone, fire) also occur literally;
* names are transliterated syllable by syllable (Kamira -> 卡米拉), and test sentences carry names
  never seen in training: a word vocabulary cannot translate them, subword units can;
* ambiguous words: every talk is about technology or about everyday life, and eighteen English
  nouns translate by that domain (mouse: 滑鼠 / 老鼠, window: 視窗 / 窗戶, server: 伺服器 / 服務生 …).
  The domain shows in the rest of the talk's vocabulary (engineers, offices and computers, or
  animals, forests and farmers), so a translator can tell, but only from examples.

Domain shift, which is what back-translation pays for: the parallel talks are mostly about
technology (90 %); the talks to translate, and the monolingual text, mostly about everyday life
(90 %). A model trained on the parallel text alone has seen the everyday senses a few times and
prefers the technical ones; the monolingual corpus shows them in context thousands of times, and a
reverse (zh -> en) model translates them back easily (both senses give the same English word).

What each level of the ladder gains (reference_solutions/hw05):

* simple, the course's RNN sample: a GRU encoder-decoder whose attention is queried by the previous
  target *embedding*, a few epochs at a constant learning rate. It learns frequent words and short
  sentences; reordered and two-clause sentences defeat it.
* medium: the inverse-square-root warm-up schedule and twice the epochs: warm-up lets a much higher
  peak rate be used, and the decay settles the weights.
* strong: a Transformer. Verb-final order, swapped clauses and pre-nominal relative clauses need an
  attention queried by the decoder *state*; most sentences are long enough (two clauses: up to ~45
  characters) for the RNN's bottleneck to show.
* boss: back-translation of the monolingual corpus (the domain above), then beam search.

``ctx.scale``: ``ci`` (1,200 raw pairs, 1,000 test sentences, 4,000 monolingual sentences, a smaller
vocabulary; the whole ladder fits the CI budget) or ``full`` (the course's shapes: 398,066 raw pairs,
4,000 test sentences, 400,000 monolingual sentences, the whole vocabulary). Every draw comes from
``ctx.seed`` through local generators: the same seed gives byte-identical files.
"""
from __future__ import annotations

import csv
import json
import random
import re
from pathlib import Path

import numpy as np

SIZES = {  # raw parallel pairs, test sentences, monolingual sentences
    "ci": (1200, 1000, 4000),
    "full": (398066, 4000, 400000),
}
LEXICON = {"ci": 0.6, "full": 1.0}   # share of each word list in use (frequency order)
ZIPF = 1.0                           # word frequencies fall as 1 / rank^ZIPF
LIFE_PARALLEL, LIFE_TEST = 0.1, 0.9  # share of everyday-life talks: parallel text vs test and mono
DOMAIN_BOOST = 2.0                   # a talk's own domain words are this much likelier (the other's 1/this)
NAMES = 0.08                         # share of noun phrases that are names

# ------------------------------------------------------------------------------------ lexicon
# nouns: singular, plural, Chinese, classifier, kind (h human / a animal / t thing), domain (T tech,
# L life, "" both)
NOUNS = [
    ("teacher", "teachers", "老師", "位", "h", ""), ("student", "students", "學生", "位", "h", ""),
    ("doctor", "doctors", "醫生", "位", "h", ""), ("farmer", "farmers", "農夫", "位", "h", "L"),
    ("child", "children", "孩子", "個", "h", "L"), ("woman", "women", "女人", "個", "h", ""),
    ("man", "men", "男人", "個", "h", ""), ("friend", "friends", "朋友", "個", "h", ""),
    ("scientist", "scientists", "科學家", "位", "h", "T"), ("artist", "artists", "藝術家", "位", "h", "L"),
    ("engineer", "engineers", "工程師", "位", "h", "T"), ("writer", "writers", "作家", "位", "h", ""),
    ("singer", "singers", "歌手", "位", "h", "L"), ("mother", "mothers", "母親", "位", "h", "L"),
    ("father", "fathers", "父親", "位", "h", "L"), ("girl", "girls", "女孩", "個", "h", ""),
    ("boy", "boys", "男孩", "個", "h", ""), ("king", "kings", "國王", "位", "h", "L"),
    ("soldier", "soldiers", "士兵", "個", "h", ""), ("nurse", "nurses", "護士", "位", "h", "L"),
    ("lawyer", "lawyers", "律師", "位", "h", "T"), ("neighbor", "neighbors", "鄰居", "位", "h", "L"),
    ("worker", "workers", "工人", "個", "h", "T"), ("person", "people", "人", "個", "h", ""),
    ("designer", "designers", "設計師", "位", "h", "T"), ("manager", "managers", "經理", "位", "h", "T"),
    ("cat", "cats", "貓", "隻", "a", "L"), ("dog", "dogs", "狗", "條", "a", "L"),
    ("bird", "birds", "鳥", "隻", "a", "L"), ("monkey", "monkeys", "猴子", "隻", "a", "L"),
    ("rabbit", "rabbits", "兔子", "隻", "a", "L"), ("chicken", "chickens", "雞", "隻", "a", "L"),
    ("tiger", "tigers", "老虎", "隻", "a", "L"), ("elephant", "elephants", "大象", "頭", "a", "L"),
    ("horse", "horses", "馬", "匹", "a", "L"), ("cow", "cows", "牛", "頭", "a", "L"),
    ("fish", "fish", "魚", "條", "a", "L"), ("snake", "snakes", "蛇", "條", "a", "L"),
    ("bear", "bears", "熊", "隻", "a", "L"), ("sheep", "sheep", "羊", "隻", "a", "L"),
    ("wolf", "wolves", "狼", "匹", "a", "L"),
    ("book", "books", "書", "本", "t", ""), ("notebook", "notebooks", "筆記本", "本", "t", ""),
    ("magazine", "magazines", "雜誌", "本", "t", ""), ("car", "cars", "車", "輛", "t", ""),
    ("bicycle", "bicycles", "腳踏車", "輛", "t", "L"), ("bus", "buses", "公車", "輛", "t", ""),
    ("chair", "chairs", "椅子", "把", "t", ""), ("photo", "photos", "照片", "張", "t", ""),
    ("map", "maps", "地圖", "張", "t", ""), ("letter", "letters", "信", "封", "t", "L"),
    ("computer", "computers", "電腦", "台", "t", "T"), ("phone", "phones", "手機", "支", "t", "T"),
    ("pen", "pens", "筆", "支", "t", ""), ("song", "songs", "歌", "首", "t", "L"),
    ("idea", "ideas", "想法", "個", "t", ""), ("question", "questions", "問題", "個", "t", ""),
    ("story", "stories", "故事", "個", "t", "L"), ("house", "houses", "房子", "棟", "t", "L"),
    ("tree", "trees", "樹", "棵", "t", "L"), ("flower", "flowers", "花", "朵", "t", "L"),
    ("apple", "apples", "蘋果", "顆", "t", "L"), ("egg", "eggs", "蛋", "顆", "t", "L"),
    ("bridge", "bridges", "橋", "座", "t", ""), ("door", "doors", "門", "扇", "t", ""),
    ("picture", "pictures", "畫", "幅", "t", "L"), ("film", "films", "電影", "部", "t", ""),
    ("machine", "machines", "機器", "台", "t", "T"), ("robot", "robots", "機器人", "個", "t", "T"),
    ("cake", "cakes", "蛋糕", "塊", "t", "L"), ("box", "boxes", "盒子", "個", "t", ""),
    ("bag", "bags", "包包", "個", "t", ""), ("knife", "knives", "刀", "把", "t", "L"),
    ("umbrella", "umbrellas", "雨傘", "把", "t", "L"), ("shirt", "shirts", "襯衫", "件", "t", "L"),
    ("coat", "coats", "外套", "件", "t", "L"), ("gift", "gifts", "禮物", "份", "t", "L"),
    ("newspaper", "newspapers", "報紙", "份", "t", ""), ("stone", "stones", "石頭", "顆", "t", "L"),
    ("boat", "boats", "船", "艘", "t", "L"), ("ball", "balls", "球", "顆", "t", "L"),
    ("bottle", "bottles", "瓶子", "個", "t", ""), ("clock", "clocks", "時鐘", "個", "t", ""),
    ("lamp", "lamps", "燈", "盞", "t", ""), ("report", "reports", "報告", "份", "t", "T"),
    ("plan", "plans", "計畫", "個", "t", "T"), ("camera", "cameras", "相機", "台", "t", "T"),
]
# ambiguous nouns: singular, plural, technology sense, everyday-life sense; a sense is
# (Chinese, classifier, kind)
AMBIGUOUS = [
    ("mouse", "mice", ("滑鼠", "個", "t"), ("老鼠", "隻", "a")),
    ("window", "windows", ("視窗", "個", "t"), ("窗戶", "扇", "t")),
    ("key", "keys", ("按鍵", "個", "t"), ("鑰匙", "把", "t")),
    ("table", "tables", ("表格", "張", "t"), ("桌子", "張", "t")),
    ("plant", "plants", ("工廠", "座", "t"), ("植物", "株", "t")),
    ("cell", "cells", ("電池", "顆", "t"), ("細胞", "個", "t")),
    ("star", "stars", ("明星", "位", "h"), ("星星", "顆", "t")),
    ("cloud", "clouds", ("雲端", "個", "t"), ("雲", "朵", "t")),
    ("fan", "fans", ("風扇", "台", "t"), ("粉絲", "個", "h")),
    ("program", "programs", ("程式", "個", "t"), ("節目", "個", "t")),
    ("bug", "bugs", ("漏洞", "個", "t"), ("蟲子", "隻", "a")),
    ("tablet", "tablets", ("平板", "台", "t"), ("藥片", "顆", "t")),
    ("crane", "cranes", ("起重機", "台", "t"), ("鶴", "隻", "a")),
    ("web", "webs", ("網站", "個", "t"), ("蜘蛛網", "張", "t")),
    ("chip", "chips", ("晶片", "片", "t"), ("洋芋片", "包", "t")),
    ("driver", "drivers", ("驅動程式", "個", "t"), ("司機", "位", "h")),
    ("server", "servers", ("伺服器", "台", "t"), ("服務生", "位", "h")),
    ("memory", "memories", ("記憶體", "個", "t"), ("回憶", "個", "t")),
]
AMBIGUOUS_SHARE = 0.5   # of the common-noun phrases
# places for "in / near / behind / under / on the X": English, Chinese, domain
PLACES = [
    ("park", "公園", "L"), ("school", "學校", ""), ("kitchen", "廚房", "L"), ("office", "辦公室", "T"),
    ("library", "圖書館", ""), ("hospital", "醫院", ""), ("market", "市場", "L"), ("garden", "花園", "L"),
    ("museum", "博物館", ""), ("restaurant", "餐廳", "L"), ("classroom", "教室", ""), ("station", "車站", "T"),
    ("village", "村子", "L"), ("forest", "森林", "L"), ("lab", "實驗室", "T"), ("city", "城市", "T"),
    ("river", "河", "L"), ("mountain", "山", "L"), ("house", "房子", "L"), ("car", "車", ""),
    ("factory", "工廠", "T"), ("bridge", "橋", ""), ("box", "盒子", ""), ("company", "公司", "T"),
]
PREPS = [("in", "裡"), ("near", "附近"), ("behind", "後面"), ("under", "下面"), ("on", "上面")]
# action verbs (object before the verb, with 把): base, 3sg, past, -ing, Chinese (verb + result), domain
BA_VERBS = [
    ("read", "reads", "read", "reading", "讀完", ""), ("write", "writes", "wrote", "writing", "寫好", ""),
    ("buy", "buys", "bought", "buying", "買下", ""), ("sell", "sells", "sold", "selling", "賣掉", ""),
    ("find", "finds", "found", "finding", "找到", ""), ("lose", "loses", "lost", "losing", "弄丟", ""),
    ("build", "builds", "built", "building", "蓋好", "T"), ("draw", "draws", "drew", "drawing", "畫好", "L"),
    ("carry", "carries", "carried", "carrying", "搬走", "L"), ("open", "opens", "opened", "opening", "打開", ""),
    ("close", "closes", "closed", "closing", "關上", ""), ("clean", "cleans", "cleaned", "cleaning", "打掃乾淨", "L"),
    ("fix", "fixes", "fixed", "fixing", "修好", "T"), ("wash", "washes", "washed", "washing", "洗乾淨", "L"),
    ("break", "breaks", "broke", "breaking", "打破", ""), ("hide", "hides", "hid", "hiding", "藏起來", "L"),
    ("move", "moves", "moved", "moving", "移開", ""), ("take", "takes", "took", "taking", "拿走", ""),
    ("bring", "brings", "brought", "bringing", "帶來", ""), ("send", "sends", "sent", "sending", "寄出", "T"),
    ("eat", "eats", "ate", "eating", "吃掉", "L"), ("cook", "cooks", "cooked", "cooking", "煮熟", "L"),
    ("paint", "paints", "painted", "painting", "漆好", "L"), ("finish", "finishes", "finished", "finishing", "完成", "T"),
    ("catch", "catches", "caught", "catching", "抓住", "L"), ("push", "pushes", "pushed", "pushing", "推開", ""),
    ("throw", "throws", "threw", "throwing", "丟掉", ""), ("keep", "keeps", "kept", "keeping", "留下", ""),
    ("forget", "forgets", "forgot", "forgetting", "忘記", ""), ("change", "changes", "changed", "changing", "改變", "T"),
    ("save", "saves", "saved", "saving", "救出", "L"), ("return", "returns", "returned", "returning", "歸還", ""),
    ("sign", "signs", "signed", "signing", "簽好", "T"), ("share", "shares", "shared", "sharing", "分享", ""),
    ("destroy", "destroys", "destroyed", "destroying", "摧毀", ""), ("check", "checks", "checked", "checking", "檢查", "T"),
    ("print", "prints", "printed", "printing", "印出來", "T"), ("drop", "drops", "dropped", "dropping", "弄掉", ""),
    ("steal", "steals", "stole", "stealing", "偷走", ""), ("test", "tests", "tested", "testing", "測試", "T"),
]
# perception / emotion verbs (object after the verb, no progressive)
SVO_VERBS = [
    ("see", "sees", "saw", "seeing", "看見", ""), ("like", "likes", "liked", "liking", "喜歡", ""),
    ("love", "loves", "loved", "loving", "愛", "L"), ("hate", "hates", "hated", "hating", "討厭", ""),
    ("know", "knows", "knew", "knowing", "認識", ""), ("want", "wants", "wanted", "wanting", "想要", ""),
    ("need", "needs", "needed", "needing", "需要", "T"), ("remember", "remembers", "remembered", "remembering", "記得", "L"),
    ("meet", "meets", "met", "meeting", "遇見", ""), ("follow", "follows", "followed", "following", "跟著", ""),
    ("miss", "misses", "missed", "missing", "想念", "L"), ("trust", "trusts", "trusted", "trusting", "相信", ""),
    ("hear", "hears", "heard", "hearing", "聽見", "L"), ("visit", "visits", "visited", "visiting", "拜訪", ""),
    ("help", "helps", "helped", "helping", "幫助", ""), ("understand", "understands", "understood", "understanding", "了解", "T"),
]
# adjectives: English, Chinese for people and animals, Chinese for things
ADJECTIVES = [
    ("big", "大", "大"), ("small", "小", "小"), ("old", "老", "舊"), ("new", "新", "新"),
    ("red", "紅色", "紅色"), ("blue", "藍色", "藍色"), ("green", "綠色", "綠色"),
    ("white", "白色", "白色"), ("black", "黑色", "黑色"), ("yellow", "黃色", "黃色"),
    ("beautiful", "漂亮", "漂亮"), ("young", "年輕", "年輕"), ("happy", "快樂", "快樂"),
    ("sad", "難過", "難過"), ("tall", "高", "高"), ("heavy", "重", "重"), ("famous", "有名", "有名"),
    ("strange", "奇怪", "奇怪"), ("smart", "聰明", "聰明"), ("lazy", "懶惰", "懶惰"),
    ("kind", "善良", "善良"), ("angry", "生氣", "生氣"), ("cheap", "便宜", "便宜"),
    ("expensive", "昂貴", "昂貴"), ("interesting", "有趣", "有趣"), ("dangerous", "危險", "危險"),
    ("quiet", "安靜", "安靜"), ("busy", "忙碌", "忙碌"), ("strong", "強壯", "堅固"), ("clean", "乾淨", "乾淨"),
]
ADVERBS = [("quickly", "很快地"), ("slowly", "慢慢地"), ("carefully", "小心地"), ("happily", "開心地"),
           ("quietly", "安靜地"), ("suddenly", "突然"), ("finally", "終於"), ("secretly", "偷偷地")]
# idioms: head verb forms, the rest of the English phrase, the Chinese phrase
IDIOMS = [
    (("kill", "kills", "killed", "killing"), "two birds with one stone", "一石二鳥"),
    (("hit", "hits", "hit", "hitting"), "the nail on the head", "一針見血"),
    (("break", "breaks", "broke", "breaking"), "the ice", "打破僵局"),
    (("spill", "spills", "spilled", "spilling"), "the beans", "洩漏天機"),
    (("let", "lets", "let", "letting"), "the cat out of the bag", "露出馬腳"),
    (("burn", "burns", "burned", "burning"), "the midnight oil", "挑燈夜戰"),
    (("beat", "beats", "beat", "beating"), "around the bush", "拐彎抹角"),
    (("add", "adds", "added", "adding"), "fuel to the fire", "火上加油"),
    (("miss", "misses", "missed", "missing"), "the boat", "錯失良機"),
    (("cry", "cries", "cried", "crying"), "over spilled milk", "覆水難收"),
    (("go", "goes", "went", "going"), "the extra mile", "精益求精"),
    (("bite", "bites", "bit", "biting"), "the bullet", "咬緊牙關"),
    (("face", "faces", "faced", "facing"), "the music", "自食其果"),
    (("bark", "barks", "barked", "barking"), "up the wrong tree", "張冠李戴"),
    (("pull", "pulls", "pulled", "pulling"), "out all the stops", "全力以赴"),
]
# name syllables -> transliteration characters
SYLLABLES = [
    ("ka", "卡"), ("ri", "里"), ("to", "托"), ("mi", "米"), ("na", "娜"), ("su", "蘇"), ("ke", "克"),
    ("ra", "拉"), ("mo", "莫"), ("li", "利"), ("sa", "薩"), ("no", "諾"), ("ta", "塔"), ("ni", "尼"),
    ("ma", "馬"), ("lo", "洛"), ("be", "貝"), ("da", "達"), ("ro", "羅"), ("si", "西"), ("ve", "維"),
    ("fa", "法"), ("go", "戈"), ("te", "特"), ("pe", "佩"), ("mu", "穆"), ("an", "安"), ("el", "艾"),
    ("ha", "哈"), ("ju", "朱"), ("ze", "澤"), ("bo", "波"), ("di", "迪"), ("ku", "庫"), ("ya", "雅"),
]
PRONOUNS = [  # subject, object, possessive, Chinese, person-number (for agreement)
    ("I", "me", "my", "我", "1s"), ("you", "you", "your", "你", "2"), ("he", "him", "his", "他", "3s"),
    ("she", "her", "her", "她", "3s"), ("we", "us", "our", "我們", "p"), ("they", "them", "their", "他們", "p"),
]
# determiners and their weights; the counting ones need the noun's classifier in Chinese (三本書)
SINGULAR_DETS = {"the": 0.40, "a": 0.30, "this": 0.10, "that": 0.08, "every": 0.05, "poss": 0.07}
PLURAL_DETS = {"the": 0.35, "num": 0.25, "many": 0.12, "some": 0.10, "these": 0.09, "those": 0.05, "poss": 0.04}
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}
DIGITS_ZH = "零一二三四五六七八九"
TIMES = {  # tense -> (English, Chinese)
    "past": [("yesterday", "昨天"), ("last week", "上週"), ("last year", "去年"), ("this morning", "今天早上")],
    "present": [("every day", "每天"), ("every week", "每週"), ("today", "今天")],
    "prog": [("now", "現在"), ("right now", "現在")],
    "future": [("tomorrow", "明天"), ("next week", "下週"), ("next year", "明年"), ("later", "晚點")],
}
SAY_VERBS = [(("say", "says", "said"), "說"), (("think", "thinks", "thought"), "認為"),
             (("believe", "believes", "believed"), "相信"), (("know", "knows", "knew"), "知道")]
FILLERS = [("Thank you.", "謝謝。"), ("Thank you very much.", "非常感謝。"), ("Okay.", "好。"),
           ("Right?", "對吧？"), ("So.", "所以。"), ("Thank you so much.", "非常謝謝你們。")]
STAGE = [("(Laughter)", "（笑聲）"), ("(Applause)", "（掌聲）")]


def zh_number(n: int) -> str:
    """2..99 in Chinese numerals before a classifier: 兩 for 2 (兩本書), 十七, 三十, 九十九."""
    if n == 2:
        return "兩"
    tens, ones = divmod(n, 10)
    if tens == 0:
        return DIGITS_ZH[ones]
    return ("十" if tens == 1 else DIGITS_ZH[tens] + "十") + (DIGITS_ZH[ones] if ones else "")


class Grammar:
    """Draws (English, Chinese) sentence pairs from one random stream.

    Word choices follow 1/rank^ZIPF over a rank order drawn once per course (``order``); only the
    first ``keep`` share of every list is used. Each talk (sentence) has a domain, technology or
    life, drawn with ``life`` probability: it boosts its own words and decides the ambiguous nouns.
    """

    def __init__(self, rng: random.Random, order: dict, keep: float, life: float):
        self.r, self.life = rng, life
        lists = {"noun": NOUNS, "amb": AMBIGUOUS, "place": PLACES, "ba": BA_VERBS, "svo": SVO_VERBS,
                 "adj": ADJECTIVES, "adv": ADVERBS, "idiom": IDIOMS}
        self.w = {}
        for dom in "TL":
            for k, items in lists.items():
                n_keep = max(2, round(keep * len(items))) if k != "amb" else len(items)
                tags = [it[-1] if k in ("noun", "place", "ba", "svo") else "" for it in items]
                self.w[dom, k] = [
                    (1.0 / (rank + 1) ** ZIPF) * (DOMAIN_BOOST if tag == dom else 1 / DOMAIN_BOOST if tag else 1.0)
                    if rank < n_keep else 0.0
                    for rank, tag in zip(order[k], tags)]
        self.syllables = SYLLABLES[:max(8, round(keep * len(SYLLABLES)))]
        self.dom = "T"

    # ---- helpers
    def p(self, prob: float) -> bool:
        return self.r.random() < prob

    def pick(self, kind: str, items: list):
        return items[self.r.choices(range(len(items)), weights=self.w[self.dom, kind])[0]]

    def name(self):
        syl = [self.r.choice(self.syllables) for _ in range(self.r.choice((2, 2, 3)))]
        return "".join(s for s, _ in syl).capitalize(), "".join(c for _, c in syl)

    def noun(self, role: str):
        """(singular, plural, Chinese, classifier, kind); subjects are mostly people and animals."""
        want = self.r.choices("hat", weights=(0.7, 0.2, 0.1))[0] if role == "subj" else None
        while True:
            if self.p(AMBIGUOUS_SHARE):
                sg, pl, tech, life = self.pick("amb", AMBIGUOUS)
                zh, cl, kind = tech if self.dom == "T" else life
            else:
                sg, pl, zh, cl, kind, _ = self.pick("noun", NOUNS)
            if want is None or kind == want:
                return sg, pl, zh, cl, kind

    # ---- noun phrases: (english words, chinese, person-number, is_human)
    def np(self, role: str, depth: int = 0, allow_pronoun: bool = True):
        r = self.r
        if allow_pronoun and self.p(0.18):
            sub, obj, _, zh, pn = r.choice(PRONOUNS)
            return [sub if role == "subj" else obj], zh, pn, True
        if self.p(NAMES):
            en, zh = self.name()
            return [en], zh, "3s", True
        sg, pl, zh_n, cl, kind = self.noun(role)
        plural = self.p(0.35)
        adjs = []
        n_adj = r.choices((0, 1, 2), weights=(0.55, 0.35, 0.10))[0]
        while len(adjs) < n_adj:
            a = self.pick("adj", ADJECTIVES)
            if a not in adjs:
                adjs.append(a)
        zh_adjs = [a[1] if kind in "ha" else a[2] for a in adjs]
        # Chinese: adjectives of two characters or more take 的 and come first, single ones sit on the noun
        zh_adj = "".join(a + "的" for a in zh_adjs if len(a) > 1) + "".join(a for a in zh_adjs if len(a) == 1)
        head_en = [a[0] for a in adjs] + [pl if plural else sg]
        dets = PLURAL_DETS if plural else SINGULAR_DETS
        det = r.choices(list(dets), weights=list(dets.values()))[0]
        if det == "the":
            det_en, det_zh = ["the"], ""
        elif det == "num":
            n = r.randint(2, 99) if self.p(0.4) else r.randint(2, 10)
            det_en, det_zh = [NUMBER_WORDS.get(n, str(n))], zh_number(n) + cl
        elif det == "a":
            det_en, det_zh = ["an" if head_en[0][0] in "aeiou" else "a"], "一" + cl
        elif det in ("this", "that", "every"):
            det_en, det_zh = [det], {"this": "這", "that": "那", "every": "每"}[det] + cl
        elif det in ("many", "some", "these", "those"):
            det_en, det_zh = [det], {"many": "很多", "some": "一些", "these": "這些", "those": "那些"}[det]
        elif self.p(0.5):                  # possessives: my / his / Kamira's / the teacher's
            _, _, poss, zh_p, _ = r.choice(PRONOUNS)
            det_en, det_zh = [poss], zh_p + "的"
        else:
            if self.p(0.5):
                owner_en, owner_zh = self.name()
            else:
                o = self.noun("owner")
                owner_en, owner_zh = "the " + o[0], o[2]
            det_en, det_zh = [owner_en + "'s"], owner_zh + "的"
        men = "們" if plural and kind == "h" and det == "the" else ""
        rel_en, rel_zh = [], ""
        if depth == 0 and self.p(0.06):
            rel_en, rel_zh = self.relative(kind == "h", plural)
        return det_en + head_en + rel_en, rel_zh + det_zh + zh_adj + zh_n + men, ("p" if plural else "3s"), kind == "h"

    def relative(self, human: bool, plural: bool):
        """'who reads the book' -> 把書讀完的 (the relative clause goes before its noun)."""
        ba = self.p(0.6)
        verb = self.pick("ba" if ba else "svo", BA_VERBS if ba else SVO_VERBS)
        past = self.p(0.5)
        obj_en, obj_zh, _, _ = self.np("obj", depth=1, allow_pronoun=False)
        en = ["who" if human else "that", verb[2] if past else verb[0] if plural else verb[1]] + obj_en
        return en, ("把" + obj_zh + verb[4] if ba else verb[4] + obj_zh) + "的"

    # ---- clauses: (english words, chinese, is_question)
    def clause(self, allow_question: bool = False, alone: bool = False):
        r = self.r
        subj_en, subj_zh, pn, _ = self.np("subj")
        tense = r.choices(("past", "present", "prog", "future"), weights=(0.40, 0.25, 0.15, 0.20))[0]
        neg = self.p(0.15)
        kind = r.choices(("ba", "svo", "idiom"), weights=(0.55, 0.33, 0.12))[0]
        if kind == "svo" and tense == "prog":
            tense = "present"
        question = allow_question and self.p(0.10)
        if kind == "idiom":
            verb, rest, zh_verb = self.pick("idiom", IDIOMS)
            obj_en, obj_zh = rest.split(), ""
        else:
            verb = self.pick(kind, BA_VERBS if kind == "ba" else SVO_VERBS)
            zh_verb = verb[4]
            obj_en, obj_zh, _, _ = self.np("obj")
        third = pn == "3s"
        be = {"1s": "am", "2": "are", "3s": "is", "p": "are"}[pn]
        # English verb group (auxiliary, main words) with agreement; a question fronts the auxiliary
        if tense == "past":
            aux, main = ("did", ["not", verb[0]]) if neg else (("did", [verb[0]]) if question else (None, [verb[2]]))
        elif tense == "present":
            do = "does" if third else "do"
            aux, main = (do, ["not", verb[0]]) if neg else ((do, [verb[0]]) if question else (None, [verb[1] if third else verb[0]]))
        elif tense == "prog":
            aux, main = (be, ["not", verb[3]]) if neg else (be, [verb[3]])
        else:
            aux, main = ("will", ["not", verb[0]]) if neg else ("will", [verb[0]])
        # Chinese aspect and negation
        pre, post = {("past", False): ("", "了"), ("past", True): ("沒有", ""),
                     ("present", False): ("", ""), ("present", True): ("不", ""),
                     ("prog", False): ("正在", ""), ("prog", True): ("不是正在", ""),
                     ("future", False): ("會", ""), ("future", True): ("不會", "")}[tense, neg]
        time_en, time_zh = r.choice(TIMES[tense]) if self.p(0.30) else (None, "")
        place_en, place_zh = [], ""
        if self.p(0.25):
            prep_en, prep_zh = r.choice(PREPS)
            pl_en, pl_zh, _ = self.pick("place", PLACES)
            place_en, place_zh = [prep_en, "the", pl_en], "在" + pl_zh + prep_zh
        adv_en, adv_zh = self.pick("adv", ADVERBS) if kind == "ba" and self.p(0.2) else (None, "")
        # Chinese clause: S TIME PLACE NEG/ASPECT ADV (把 O V | V O | IDIOM) 了
        core = {"ba": "把" + obj_zh + zh_verb + post, "svo": zh_verb + post + obj_zh, "idiom": zh_verb + post}[kind]
        zh = subj_zh + time_zh + place_zh + pre + adv_zh + core
        tail = place_en + ([adv_en] if adv_en else [])
        if question:
            return [aux] + subj_en + main + obj_en + tail + (time_en.split() if time_en else []), zh + "嗎", True
        en = subj_en + ([aux] if aux else []) + main + obj_en + tail
        if time_en:
            en = (time_en.split() + [","] + en) if alone and self.p(0.4) else en + time_en.split()
        return en, zh, False

    def sentence(self):
        """One TED-like line: (raw English, raw Chinese)."""
        r = self.r
        self.dom = "L" if self.p(self.life) else "T"
        roll = r.random()
        if roll < 0.02:
            return r.choice(FILLERS)
        shape = r.choices(("one", "two", "say"), weights=(0.60, 0.32, 0.08))[0]
        if shape == "one":
            en, zh, q = self.clause(allow_question=True, alone=True)
            en_s, zh_s = _en_text(en) + ("?" if q else "."), zh + ("？" if q else "。")
        elif shape == "say":
            subj_en, subj_zh, pn, _ = self.np("subj")
            forms, zh_say = r.choice(SAY_VERBS)
            v = forms[2] if self.p(0.5) else (forms[1] if pn == "3s" else forms[0])
            en, zh, _ = self.clause()
            en_s, zh_s = _en_text(subj_en + [v, "that"] + en) + ".", subj_zh + zh_say + "，" + zh + "。"
        else:
            (a_en, a_zh, _), (b_en, b_zh, _) = self.clause(), self.clause()
            conj = r.choices(("because", "when", "if", "but", "and", "before", "after"),
                             weights=(0.22, 0.16, 0.12, 0.16, 0.12, 0.11, 0.11))[0]
            if conj == "because":     # A because B  /  because B, A   ->  因為B，所以A
                en = a_en + ["because"] + b_en if self.p(0.6) else ["because"] + b_en + [","] + a_en
                zh = "因為" + b_zh + "，所以" + a_zh
            elif conj == "when":      # A when B  /  when B, A   ->  當B的時候，A
                en = a_en + ["when"] + b_en if self.p(0.5) else ["when"] + b_en + [","] + a_en
                zh = "當" + b_zh + "的時候，" + a_zh
            elif conj == "if":        # if B, A   ->  如果B，A
                en, zh = ["if"] + b_en + [","] + a_en, "如果" + b_zh + "，" + a_zh
            elif conj == "but":
                en, zh = a_en + [",", "but"] + b_en, a_zh + "，但是" + b_zh
            elif conj == "and":
                en, zh = a_en + [",", "and"] + b_en, a_zh + "，而且" + b_zh
            elif conj == "before":    # A before B  ->  在B之前，A
                en, zh = a_en + ["before"] + b_en, "在" + b_zh + "之前，" + a_zh
            else:                     # A after B  ->  在B之後，A
                en, zh = a_en + ["after"] + b_en, "在" + b_zh + "之後，" + a_zh
            en_s, zh_s = _en_text(en) + ".", zh + "。"
        if roll > 0.98:  # a stage note, as in TED transcripts (the course's clean_s removes it)
            note_en, note_zh = r.choice(STAGE)
            en_s, zh_s = en_s + " " + note_en, zh_s + note_zh
        return en_s, zh_s


def _en_text(words: list[str]) -> str:
    text = " ".join(words).replace(" ,", ",")
    return text[0].upper() + text[1:]


# ------------------------------------------------------------------------------------ cleaning
# The course's clean_s for Chinese (strQ2B, parentheses removed, punctuation spaced): the hidden
# references are stored in this form, the form a model trained on the cleaned corpus writes.
def _q2b(s: str) -> str:
    out = []
    for ch in s:
        code = ord(ch)
        if code == 12288:
            code = 32
        elif 65281 <= code <= 65374:
            code -= 65248
        out.append(chr(code))
    return "".join(out)


def clean_zh(s: str) -> str:
    s = _q2b(s)
    s = re.sub(r"\([^()]*\)", "", s)
    s = s.replace(" ", "").replace("—", "").replace("“", '"').replace("”", '"').replace("_", "")
    s = re.sub('([。,;!?()\"~「」])', r" \1 ", s)
    return " ".join(s.strip().split())


# ------------------------------------------------------------------------------------ build
def build(ctx) -> None:
    if ctx.source != "generated":
        raise ValueError(f"hw5: unknown source {ctx.source!r}: only 'generated' exists "
                         "(TED2020 cannot be redistributed with the course)")
    scale = ctx.scale if ctx.scale in SIZES else "ci"
    options = dict(getattr(ctx, "options", None) or {})
    n_pairs, n_test, n_mono = (int(options.get(k, d)) for k, d in zip(("pairs", "test", "mono"), SIZES[scale]))
    keep = float(options.get("lexicon", LEXICON[scale]))
    life_parallel = float(options.get("life_parallel", LIFE_PARALLEL))
    life_test = float(options.get("life_test", LIFE_TEST))

    seeds = np.random.default_rng(ctx.seed).integers(0, 2**63 - 1, size=5)
    order_rng = random.Random(int(seeds[0]))   # one frequency order of every word list per course
    order = {}
    for k, items in {"noun": NOUNS, "amb": AMBIGUOUS, "place": PLACES, "ba": BA_VERBS, "svo": SVO_VERBS,
                     "adj": ADJECTIVES, "adv": ADVERBS, "idiom": IDIOMS}.items():
        ranks = list(range(len(items)))
        order_rng.shuffle(ranks)
        order[k] = ranks
    parallel = Grammar(random.Random(int(seeds[1])), order, keep, life_parallel)
    talks = Grammar(random.Random(int(seeds[2])), order, keep, life_test)

    train = [parallel.sentence() for _ in range(n_pairs)]
    seen = {en for en, _ in train} | {en for en, _ in FILLERS}
    test = []
    while len(test) < n_test:   # no test sentence is a training sentence, a filler, a repeat or a note
        en, zh = talks.sentence()
        if en not in seen and "(" not in en:
            test.append((en, zh))
            seen.add(en)
    references = [clean_zh(zh) for _, zh in test]
    answers = set(references)
    mono = []
    while len(mono) < n_mono:  # the monolingual corpus never holds a test reference
        _, zh = talks.sentence()
        if clean_zh(zh) not in answers:
            mono.append(zh)

    # A few misaligned lines, as in any crawled corpus: clean_corpus's rules drop them.
    noise = random.Random(int(seeds[3]))
    for i in noise.sample(range(n_pairs), k=max(1, n_pairs // 400)):
        train[i] = (train[i][0] + " " + train[i][0], "（掌聲）")

    release = Path(ctx.release_dir)
    ted, mono_dir = release / "DATA" / "rawdata" / "ted2020", release / "DATA" / "rawdata" / "mono"
    ted.mkdir(parents=True, exist_ok=True)
    mono_dir.mkdir(parents=True, exist_ok=True)
    _write_lines(ted / "train_dev.raw.en", [en for en, _ in train])
    _write_lines(ted / "train_dev.raw.zh", [zh for _, zh in train])
    _write_lines(ted / "test.raw.en", [en for en, _ in test])
    _write_lines(ted / "test.raw.zh", ["。"] * len(test))   # the course's pseudo translation
    _write_lines(mono_dir / "ted_zh_corpus.deduped", mono)
    _write_lines(release / "sample_submission.txt", ["。"] * len(test))

    hidden = Path(ctx.hidden_dir)
    hidden.mkdir(parents=True, exist_ok=True)
    with open(hidden / "answers.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["line", "translation"])
        w.writerows(enumerate(references))

    # Probe points for the learning-rate schedule check: (d_model, warmup, steps, factor) the
    # student's get_rate / NoamOpt never saw. Inputs only; the expected rates are computed on the host.
    probe = random.Random(int(seeds[4]))
    points = []
    for _ in range(6):
        warmup = probe.choice((100, 400, 1000, 2500, 4000, 8000))
        steps = sorted({1, warmup, warmup + 1, *(probe.randint(2, 4 * warmup) for _ in range(6)),
                        probe.randint(5 * warmup, 50 * warmup)})
        points.append({"d_model": probe.choice((64, 128, 256, 512, 768, 1024)), "warmup": warmup,
                       "steps": steps, "factor": probe.choice((0.5, 1.0, 2.0, 3.0))})
    inputs = Path(ctx.hidden_inputs_dir)
    inputs.mkdir(parents=True, exist_ok=True)
    (inputs / "schedule.json").write_text(json.dumps({"points": points}, indent=1))


def _write_lines(path: Path, lines: list[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")
