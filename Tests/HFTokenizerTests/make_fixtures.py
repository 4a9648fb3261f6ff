#!/usr/bin/env python3
"""Builds the HFTokenizers parity fixtures: small tokenizers trained here (nothing is downloaded), configured like
the real ones BLIP-2 uses, and what the Hugging Face `tokenizers` library makes of a varied set of texts.

Run from the repository root:  python3 Tests/HFTokenizerTests/make_fixtures.py
Needs: pip install tokenizers sentencepiece   (sentencepiece only for the T5-style charsmap and vocabulary)

Writes Tests/HFTokenizerTests/Fixtures/<name>.tokenizer.json and <name>.expected.json. The library's WordPiece and
Unigram trainers break ties through hash maps, so a rerun may write other (equally valid) vocabularies; the
expectations always come from the tokenizer files written next to them. Each expected file holds, per text:
ids/tokens/type ids with and without the post-processor's special tokens, decodings with and without skipping
special tokens, and the decoding of the first half of the ids (which may cut a character's bytes in two).
"""

import base64
import io
import json
import os
import sys
import tempfile

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Fixtures")

# The training corpus: a few sentences in many scripts, numbers, code and emoji, so that the vocabularies have
# multi-character pieces in several scripts but still miss much of the test texts (unknowns, byte fallback).
CORPUS = """
The quick brown fox jumps over the lazy dog. A picture of a small red circle left of a blue square.
Two cats are sitting on a sofa, and one of them is sleeping. What colour is the circle? It is red.
Question: how many shapes are there? Answer: three. The man's hat isn't here; they're gone, we'll see.
Bootstrapping language-image pre-training with frozen image encoders and large language models.
Le café est très bon à Paris. Où est la bibliothèque ? Elle est fermée depuis l'été dernier.
Über den Wolken muss die Freiheit wohl grenzenlos sein. Größe, Straße, schön, Mädchen.
El niño comió una manzana en la mañana. ¿Dónde está el baño? ¡Qué día tan bonito!
Привет, как дела? Москва — столица России. Я люблю читать книги.
Καλημέρα κόσμε. Η γλώσσα είναι ελληνική. Σοφία και λόγος.
今天天气很好。我们去公园散步吧。机器学习和人工智能。
日本語のテキストです。東京は日本の首都です。ひらがなとカタカナ。
한국어 문장입니다. 서울은 아름다운 도시입니다.
مرحبا بالعالم. اللغة العربية جميلة جدا.
नमस्ते दुनिया। हिंदी एक सुंदर भाषा है।
สวัสดีครับ ภาษาไทยสวยงาม
Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 2023 3.14159 1,000,000 $19.99 50% #1 @home.
def main(): print("hello, world!") return x + y * (z - 1) / 2 ** 3 // 4 % 5 == 6 != 7 <= 8 >= 9
I love pizza 🍕 and coffee ☕. Good job 👍 and party 🎉 with friends 👨‍👩‍👧 today!
email@example.com https://example.org/path?query=value&other=1 C++ C# F# .NET node.js
"""

# What every tokenizer is asked to encode: ASCII, accents (composed and decomposed), CJK, emoji (with ZWJ and
# variation selectors), other scripts, whitespace of every kind, numbers, punctuation, controls, compatibility
# characters (for NFKC and the charsmap), an empty string and a very long word.
TEXTS = [
    "Hello world!",
    "The quick brown fox jumps over the lazy dog.",
    "a picture of a small red circle left of a blue square",
    "HELLO World, How ARE you?",
    "Le café est très bon à Paris.",
    "Cafe\u0301 vs café: decomposed and composed",
    "Über Größe straße ÅNGSTRÖM İstanbul ΣΟΦΟΣ σοφος",
    "今天天气很好。",
    "日本語のテキスト、カタカナとひらがな",
    "한국어 문장",
    "Привет, мир! Как дела?",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "สวัสดีครับ",
    "I love pizza 🍕 and coffee ☕️!",
    "family 👨‍👩‍👧 flags 🇫🇷 skin 👍🏽",
    "multiple   spaces    here",
    "  leading and trailing  ",
    "tabs\tand\nnewlines\r\nand\u000bvertical",
    "\t\n  \u3000 ",
    "non\u00a0breaking\u2009thin\u2003em\u3000ideographic",
    "Numbers: 0 1 42 3.14159 1,000,000 $19.99 50% 2023-10-05",
    "12345678901234567890",
    "Punctuation!!! ... ??? (brackets) [square] {curly} <angle> \"quotes\" 'single' — – - _ ~ ^ ` | \\ /",
    "don't can't I'll we've they're it's she'd I'm",
    "email@example.com https://example.org/path?query=value&other=1",
    "def f(x): return x ** 2 // 3 != 4",
    "fullwidth ＡＢＣ１２３！ ligatures ﬁ ﬂ ﬃ roman Ⅻ circled ① ② superscript x² ½",
    "zero\u200bwidth soft\u00adhyphen joiner\u200dhere bom\ufeffmark",
    "control\u0000null\u0007bell\u001bescape\u007fdel",
    "replacement \ufffd character",
    "private \ue000 use and math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and ancient 𐍈",
    "",
    " ",
    "a",
    "supercalifragilisticexpialidocious" * 4,
    "x" * 150,
    "ThisIsAVeryLongCamelCaseIdentifierWithoutAnySpacesAtAllThatGoesOnAndOnAndOnForQuiteAWhileLongerThanAHundredCharactersInTotal",
    "Mixed 中文 and English 和 日本語 with 한국어 and emoji 😀😃😄",
    "▁already▁has▁metaspace ▁ marks",
    "Ġalready Ġbyte-level ĠĠ marks ÃĤ",
    "##hash ##prefixed [brackets] <s> words",
    "<0x41> byte-looking text <0xZZ>",
]

# A few pairs for the tokenizers whose post-processor has a pair template.
PAIRS = [
    ("What colour is the circle?", "It is red."),
    ("Hello", ""),
    ("Le café", "今天天气很好"),
]


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")


def encoding_record(tok, text, pair=None):
    """What the library makes of one text (or pair)."""
    with_special = tok.encode(text, pair, add_special_tokens=True)
    plain = tok.encode(text, pair, add_special_tokens=False)
    half = plain.ids[: len(plain.ids) // 2]
    record = {
        "text": text,
        "ids": with_special.ids,
        "tokens": with_special.tokens,
        "plainIds": plain.ids,
        "plainTokens": plain.tokens,
        "decoded": tok.decode(with_special.ids, skip_special_tokens=True),
        "decodedWithSpecial": tok.decode(with_special.ids, skip_special_tokens=False),
        "decodedHalf": tok.decode(half, skip_special_tokens=False),
    }
    if pair is not None:
        record["pair"] = pair
        record["typeIds"] = with_special.type_ids
        record["plainTypeIds"] = plain.type_ids
    return record


def save(name, tok, specials_in_text, pairs=False, json_transform=None, note=""):
    """Writes <name>.tokenizer.json (after an optional transform of its JSON, re-read by the library so that the
    expectations come from the transformed file) and <name>.expected.json."""
    data = json.loads(tok.to_str())
    if json_transform is not None:
        json_transform(data)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    tok = Tokenizer.from_str(text)
    with open(os.path.join(FIXTURES, f"{name}.tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    cases = [encoding_record(tok, t) for t in TEXTS + specials_in_text]
    if pairs:
        cases += [encoding_record(tok, a, b) for a, b in PAIRS]
    size = tok.get_vocab_size(with_added_tokens=True)
    # Decoding ids the vocabulary does not have: the library skips them.
    odd = [0, 1, 2, size + 5, 3, 4, 5, 10 * size]
    expected = {
        "note": note,
        "vocabularySize": size,
        "cases": cases,
        "decodeOnly": [
            {"ids": odd, "decoded": tok.decode(odd, skip_special_tokens=True),
             "decodedWithSpecial": tok.decode(odd, skip_special_tokens=False)},
        ],
    }
    write_json(os.path.join(FIXTURES, f"{name}.expected.json"), expected)
    print(f"{name}: vocabulary {size}, {len(cases)} cases")


def corpus_lines(repeat=3):
    return [line for line in CORPUS.strip().split("\n")] * repeat


# --- WordPiece (BERT, the Q-Former's tokenizer) -------------------------------------------------------------------

def bert():
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(corpus_lines(), trainers.WordPieceTrainer(vocab_size=900, special_tokens=specials,
                                                                      show_progress=False))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    # A normalized (matched after lowercasing) non-special token, and a special one that must stand alone.
    tok.add_tokens([AddedToken("blip2", normalized=True)])
    tok.add_special_tokens([AddedToken("[DEC]", single_word=True)])
    texts = ["[CLS] hello [SEP] world [MASK]", "[cls] lowercase is not special", "BLIP2 and Blip2 and blip2",
             "a[DEC]b [DEC] x[DEC] [DEC]", "[PAD][PAD][UNK]"]
    save("bert", tok, texts, pairs=True, note="BERT-style WordPiece: BertNormalizer, BertPreTokenizer, "
         "TemplateProcessing, WordPiece decoder; an added normalized token and a single-word special token")

    def cased(data):
        # bert-base-cased style: no lowercasing (so no accent stripping) and BertProcessing.
        data["normalizer"] = {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": False,
                              "strip_accents": None, "lowercase": False}
        data["post_processor"] = {"type": "BertProcessing", "sep": ["[SEP]", sep], "cls": ["[CLS]", cls]}
        data["model"]["max_input_chars_per_word"] = 20
    save("bert-cased", tok, texts, pairs=True, json_transform=cased,
         note="the BERT vocabulary with a cased BertNormalizer, BertProcessing and max_input_chars_per_word 20")


# --- Byte-level BPE (GPT-2, OPT) ----------------------------------------------------------------------------------

def train_byte_level(specials, vocab_size=1000):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus_lines(), trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    return tok


def merges_as_strings(data):
    """The older merges format: "a b" strings instead of [a, b] pairs."""
    data["model"]["merges"] = [" ".join(pair) if isinstance(pair, list) else pair for pair in data["model"]["merges"]]


def byte_level():
    tok = train_byte_level(["<|endoftext|>"])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_tokens([AddedToken("hello world", normalized=False)])
    tok.add_special_tokens([AddedToken("<img>", rstrip=True, single_word=True)])
    texts = ["Hello<|endoftext|> world<|endoftext|>", "say hello world twice: hello worldhello world",
             "<img>   caption <img>x <img> end<img>"]
    save("gpt2", tok, texts, note="GPT-2-style byte-level BPE (merges as [a, b] pairs), ByteLevel post-processor; "
         "an added non-special token with a space and an rstrip single-word special token")

    tok = train_byte_level(["<s>", "<pad>", "</s>", "<unk>"])
    bos = tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(single="</s>:0 $A:0", pair="</s>:0 $A:0 $B:1",
                                                       special_tokens=[("</s>", bos)])
    texts = ["</s>Hello</s>", "<s> a <pad> b <unk> c </s>", "<s><s></s>"]
    save("opt", tok, texts, pairs=True, json_transform=merges_as_strings,
         note="OPT-style byte-level BPE (merges as \"a b\" strings), TemplateProcessing prepending </s>")

    tok.add_special_tokens([AddedToken("<mask>", lstrip=True)])

    def roberta(data):
        data["pre_tokenizer"]["add_prefix_space"] = True
        data["post_processor"] = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                                  "trim_offsets": True, "add_prefix_space": True}
    save("roberta", tok, ["The <mask> sat.", "   <mask>", "a<mask>b <mask>  <mask>"], pairs=True,
         json_transform=roberta, note="RoBERTa-style: add_prefix_space, RobertaProcessing, an lstrip <mask>")


# --- Unigram (T5 / SentencePiece) ---------------------------------------------------------------------------------

def protobuf_fields(buffer):
    """(field, wire type, value) of a protobuf message; enough to read a SentencePiece model without protobuf."""
    def varint(i):
        result = shift = 0
        while True:
            byte = buffer[i]
            i += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return result, i
    i = 0
    while i < len(buffer):
        key, i = varint(i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(i)
        elif wire == 1:
            value, i = buffer[i:i + 8], i + 8
        elif wire == 2:
            length, i = varint(i)
            value, i = buffer[i:i + length], i + length
        elif wire == 5:
            value, i = buffer[i:i + 4], i + 4
        else:
            raise ValueError(f"protobuf wire type {wire}")
        yield field, wire, value


# A small normalization rule set in SentencePiece's TSV format (source code points, target code points), so that
# the charsmap stays a few kilobytes instead of nmt_nfkc's 240 kB while using every part of the format: one-to-one,
# one-to-many, many-to-one (a grapheme cluster as the source) and deletions.
def charsmap_rules():
    import unicodedata
    rules = {}
    sources = list(range(0xFF01, 0xFF5F)) + list(range(0xFB00, 0xFB07)) + list(range(0x2160, 0x2170)) \
        + list(range(0x2460, 0x2474)) + [0x00B2, 0x00B3, 0x00B9, 0x00BD, 0x2126, 0x212B, 0x1D518, 0x1D52B, 0x1D526,
                                         0x1D520, 0x1D52C, 0x1D521, 0x1D522]
    for code in sources:
        target = unicodedata.normalize("NFKC", chr(code))
        if target != chr(code):
            rules[(code,)] = tuple(ord(c) for c in target)
    for space in [0x00A0, 0x2002, 0x2003, 0x2009, 0x3000, 0x0009, 0x000A, 0x000D]:
        rules[(space,)] = (0x20,)
    for removed in [0x200B, 0x00AD, 0xFEFF, 0x0007, 0x001B, 0x007F]:
        rules[(removed,)] = ()
    rules[(0x65, 0x301)] = (0xE9,)          # e + combining acute -> é (a two-code-point grapheme)
    rules[(0x41, 0x30A)] = (0xC5,)          # A + combining ring -> Å
    rules[(0x1F44D,)] = (0x2B,)             # a rule whose source is a prefix of the next one's
    rules[(0x1F44D, 0x1F3FD)] = (0x1F44D,)  # drop a skin tone from one emoji
    lines = []
    for source, target in sorted(rules.items()):
        lines.append(" ".join(f"{c:X}" for c in source) + "\t" + " ".join(f"{c:X}" for c in target))
    return "\n".join(lines) + "\n"


def train_sentencepiece(vocab_size, rules_tsv):
    import sentencepiece as spm
    with tempfile.TemporaryDirectory() as directory:
        rules = os.path.join(directory, "rules.tsv")
        with open(rules, "w", encoding="utf-8") as f:
            f.write(rules_tsv)
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(corpus_lines()), model_writer=model, vocab_size=vocab_size, model_type="unigram",
            normalization_rule_tsv=rules, pad_id=0, eos_id=1, unk_id=2, bos_id=-1, num_threads=1,
            hard_vocab_limit=False, minloglevel=3)
    pieces, charsmap = [], b""
    for field, _, value in protobuf_fields(model.getvalue()):
        if field == 1:  # SentencePiece: piece = 1, score = 2 (float)
            piece = dict((f, v) for f, _, v in protobuf_fields(value))
            import struct
            pieces.append((piece[1].decode("utf-8"), struct.unpack("<f", piece[2])[0] if 2 in piece else 0.0))
        elif field == 3:  # NormalizerSpec: precompiled_charsmap = 2
            charsmap = dict((f, v) for f, _, v in protobuf_fields(value)).get(2, b"")
    return pieces, charsmap


def unigram():
    pieces, charsmap = train_sentencepiece(700, charsmap_rules())
    assert charsmap, "sentencepiece wrote no charsmap"
    # T5's layout (as transformers' T5Tokenizer builds it): <pad> 0, </s> 1, <unk> 2, the pieces, then the
    # sentinels <extra_id_N> ... <extra_id_0> at the end of the vocabulary.
    sentinels = 5
    vocab = pieces + [(f"<extra_id_{i}>", 0.0) for i in reversed(range(sentinels))]
    tok = Tokenizer(models.Unigram(vocab, unk_id=2, byte_fallback=False))
    tok.normalizer = normalizers.Precompiled(charsmap)
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.add_special_tokens(["<pad>", "</s>", "<unk>"] + [f"<extra_id_{i}>" for i in range(sentinels)])
    tok.post_processor = processors.TemplateProcessing(
        single=["$A", "</s>"], pair=["$A", "</s>", "$B", "</s>"], special_tokens=[("</s>", 1)])
    texts = ["The <extra_id_0> walks in <extra_id_1> park</s>", "<pad><unk> unk and pad written out",
             "<extra_id_4>x<extra_id_3>"]
    save("t5", tok, texts, pairs=True, note="T5-style Unigram trained with sentencepiece: Precompiled charsmap "
         "(a small rule set), WhitespaceSplit + Metaspace, TemplateProcessing appending </s>, sentinels")

    # Unigram trained by the tokenizers library, used in two more pipelines.
    base = Tokenizer(models.Unigram())
    base.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    base.train_from_iterator(corpus_lines(), trainers.UnigramTrainer(
        vocab_size=600, special_tokens=["<unk>", "<s>", "</s>"], unk_token="<unk>", show_progress=False))
    data = json.loads(base.to_str())
    trained = data["model"]["vocab"]

    # Llama-style: byte fallback (<0x00> ... <0xFF> right after the specials), Prepend + Replace normalizers, no
    # pre-tokenizer, and the Replace / ByteFallback / Fuse / Strip decoder chain.
    byte_tokens = [[f"<0x{b:02X}>", 0.0] for b in range(256)]
    llama = Tokenizer(models.Unigram([tuple(v) for v in trained[:3] + byte_tokens + trained[3:]], unk_id=0,
                                     byte_fallback=True))
    llama.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    llama.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                       decoders.Strip(content=" ", left=1, right=0)])
    llama.add_special_tokens(["<unk>", "<s>", "</s>"])
    llama.post_processor = processors.TemplateProcessing(single="<s>:0 $A:0", pair="<s>:0 $A:0 <s>:1 $B:1",
                                                         special_tokens=[("<s>", 1)])
    save("unigram-byte-fallback", llama, ["<s>Hello</s> <s> world", "<0x41><0x42>"],
         note="Llama-style Unigram with byte_fallback: Prepend + Replace normalizers, ByteFallback/Fuse/Strip decoders")

    # SentencePiece-converter style: NFKC + Strip + Replace(regex) normalizers, Metaspace with prepend_scheme
    # "first" (no ▁ after a special token), Metaspace decoder.
    first = Tokenizer(models.Unigram([tuple(v) for v in trained], unk_id=0, byte_fallback=False))
    first.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Strip(left=False, right=True),
                                             normalizers.Replace(Regex(" {2,}"), "▁")])
    first.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    first.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    first.add_special_tokens(["<unk>", "<s>", "</s>"])
    save("unigram-first", first, ["<s>Hello</s> world", "Hello <s> world", "<s> <s>a"],
         note="Unigram with NFKC/Strip/Replace(regex) normalizers and Metaspace prepend_scheme first")


# --- More BPE pipelines: end-of-word suffix, continuing-subword prefix, Whitespace pre-tokenizer -------------------

def bpe_variants():
    tok = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(), normalizers.Lowercase(),
                                           normalizers.NFC()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(corpus_lines(), trainers.BpeTrainer(
        vocab_size=700, special_tokens=["<unk>", "<|startoftext|>", "<|endoftext|>"], end_of_word_suffix="</w>",
        show_progress=False))
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    save("bpe-suffix", tok, ["<|startoftext|>a photo<|endoftext|>"],
         note="BPE with end_of_word_suffix </w> and unk, NFD/StripAccents/Lowercase/NFC, Whitespace, BPEDecoder")

    tok = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", fuse_unk=True))
    tok.normalizer = normalizers.NFKD()
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.train_from_iterator(corpus_lines(), trainers.BpeTrainer(
        vocab_size=600, special_tokens=["[UNK]"], continuing_subword_prefix="##", limit_alphabet=60,
        show_progress=False))
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    save("bpe-prefix", tok, [],
         note="BPE with continuing_subword_prefix ## and fused unknowns over a limited alphabet, NFKD, WhitespaceSplit")


def code_ranges(codes):
    """Sorted code points as [first, last] ranges of consecutive ones."""
    ranges = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return ranges


def swift_lines(items):
    """Swift array elements, wrapped at 118 columns with a 4-space indent."""
    lines, line = [], "   "
    for item in items:
        if len(line) + len(item) + 1 > 118:
            lines.append(line)
            line = "   "
        line += " " + item
    return "\n".join(lines + [line])


# --- A sweep over every assigned code point, kept as digests -------------------------------------------------------

SWEEP_CHUNK = 48
SWEEP_BLOCKS = 32
SWEEP_INSERTIONS = [" ", "a", "e", "\u0301", "\u200d", "'s", "  ", "\t", "1", "!", "\u0316", "\u3000"]


def sweep_texts(ranges):
    """Every code point of `ranges` in order, in texts of SWEEP_CHUNK code points, with spaces and other short
    insertions at pseudo-random places (a 64-bit LCG that the Swift test reproduces)."""
    state = 1
    texts, current, count = [], [], 0
    for first, last in ranges:
        for code in range(first, last + 1):
            current.append(chr(code))
            state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
            draw = state >> 33
            if draw % 100 < 15:
                current.append(" ")
            elif draw % 100 < 22:
                current.append(SWEEP_INSERTIONS[(draw >> 8) % len(SWEEP_INSERTIONS)])
            count += 1
            if count == SWEEP_CHUNK:
                texts.append("".join(current))
                current, count = [], 0
    if current:
        texts.append("".join(current))
    return texts


def fnv1a(data, digest=0xCBF29CE484222325):
    for byte in data:
        digest = ((digest ^ byte) * 0x100000001B3) % (1 << 64)
    return digest


def sweep_record(tok, text):
    """The bytes digested for one text: ids, tokens and decodings, each length-prefixed."""
    r = encoding_record(tok, text)
    parts = [",".join(map(str, r["ids"])), "\u0001".join(r["tokens"]), ",".join(map(str, r["plainIds"])),
             r["decoded"], r["decodedWithSpecial"], r["decodedHalf"]]
    out = bytearray()
    for part in parts:
        encoded = part.encode("utf-8")
        out += f"{len(encoded)}:".encode() + encoded
    return bytes(out)


def write_sweep(names):
    """Fixtures/sweep.json: the assigned code points (Python's Unicode data) and, per tokenizer, FNV-1a digests of
    what the library makes of the sweep texts, in SWEEP_BLOCKS blocks (a mismatch names its block's code points)."""
    import unicodedata
    assigned = [c for c in range(0x110000) if unicodedata.category(chr(c)) not in ("Cn", "Cs")
                and not (c >= 0xF0000 and unicodedata.category(chr(c)) == "Co")]
    ranges = code_ranges(assigned)
    texts = sweep_texts(ranges)
    per_block = (len(texts) + SWEEP_BLOCKS - 1) // SWEEP_BLOCKS
    digests = {}
    for name in names:
        tok = Tokenizer.from_file(os.path.join(FIXTURES, f"{name}.tokenizer.json"))
        blocks = []
        for start in range(0, len(texts), per_block):
            digest = 0xCBF29CE484222325
            for text in texts[start:start + per_block]:
                digest = fnv1a(sweep_record(tok, text), digest)
            blocks.append(f"{digest:016x}")
        digests[name] = blocks
    write_json(os.path.join(FIXTURES, "sweep.json"), {
        "note": f"every code point assigned in Unicode {unicodedata.unidata_version} (planes 15-16 private use left "
                "out), see sweep_texts and sweep_record in make_fixtures.py",
        "chunk": SWEEP_CHUNK, "textsPerBlock": per_block, "insertions": SWEEP_INSERTIONS, "ranges": ranges,
        "digests": digests})
    print(f"sweep: {len(assigned)} code points in {len(texts)} texts, {len(names)} tokenizers")


# --- The library's character classes for BERT -------------------------------------------------------------------

def write_unicode_tables():
    """Plugins/HFTokenizers/UnicodeTables.swift: the code points that the library (through crates whose tables are
    older than the current Unicode data) treats as BERT punctuation, as control characters, and as marks to strip,
    found by asking the library about every code point."""
    bert_split = pre_tokenizers.BertPreTokenizer()
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False,
                                       lowercase=False)
    bert_strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True,
                                            lowercase=False)
    strip = normalizers.StripAccents()
    punctuation, removed, bert_marks, marks = [], [], [], []
    for code in range(0x110000):
        if 0xD800 <= code < 0xE000:
            continue
        text = "a" + chr(code) + "b"
        if code >= 0x80 and len(bert_split.pre_tokenize_str(text)) == 3:
            punctuation.append(code)
        if clean.normalize_str(text) == "ab":
            removed.append(code)
        if bert_strip.normalize_str(text) == "ab":
            bert_marks.append(code)
        if strip.normalize_str(text) == "ab":
            marks.append(code)

    def ranges(codes):
        return swift_lines([f"0x{first:X}...0x{last:X}," for first, last in code_ranges(codes)])

    # Canonical compositions (first, second, composite), for composing without Foundation, whose composition on
    # Linux mistakes some supplementary-plane characters for BMP ones (U+21F69 U+0301 -> U+1F6D).
    import unicodedata
    compositions = []
    for code in range(0x110000):
        mapping = unicodedata.decomposition(chr(code)) if not 0xD800 <= code < 0xE000 else ""
        if not mapping or mapping.startswith("<"):
            continue
        parts = [int(part, 16) for part in mapping.split()]
        if len(parts) == 2 and unicodedata.normalize("NFC", chr(parts[0]) + chr(parts[1])) == chr(code):
            compositions.append((parts[0], parts[1], code))

    import tokenizers
    source = f"""// Generated by Tests/HFTokenizerTests/make_fixtures.py from tokenizers {tokenizers.__version__}; do not edit.
// The library classifies characters for its BERT components with the `unicode_categories` crate, whose tables are
// Unicode 8.0's; its StripAccents normalizer (through another crate) removes every kind of combining mark. These
// are those classes as the library applies them, asked of it for every code point, so that tokenization matches
// it exactly.

enum UnicodeTables {{
  /// Non-ASCII characters that BertPreTokenizer isolates as punctuation.
  static let bertPunctuation: [ClosedRange<UInt32>] = [
{ranges(punctuation)}
  ]
  /// Characters that BertNormalizer's clean_text removes (NUL, U+FFFD and control/format/private-use characters).
  static let bertRemoved: [ClosedRange<UInt32>] = [
{ranges(removed)}
  ]
  /// Characters that BertNormalizer's strip_accents removes (after NFD) as non-spacing marks.
  static let bertNonspacingMarks: [ClosedRange<UInt32>] = [
{ranges(bert_marks)}
  ]
  /// Characters that the StripAccents normalizer removes as combining marks (spacing and enclosing ones too).
  static let combiningMarks: [ClosedRange<UInt32>] = [
{ranges(marks)}
  ]
  /// Canonical compositions (Python {sys.version_info.major}.{sys.version_info.minor}'s Unicode {unicodedata.unidata_version}, Hangul excluded), as triples:
  /// first, second, composite.
  static let canonicalCompositions: [UInt32] = [
{swift_lines(f"0x{a:X}, 0x{b:X}, 0x{c:X}," for a, b, c in compositions)}
  ]
}}
"""
    path = os.path.join(os.path.dirname(FIXTURES), "..", "..", "Plugins", "HFTokenizers", "UnicodeTables.swift")
    with open(os.path.normpath(path), "w", encoding="utf-8") as f:
        f.write(source)
    print(f"unicode tables: {len(punctuation)} punctuation, {len(removed)} removed, {len(bert_marks)} BERT marks, "
          f"{len(marks)} combining marks, {len(compositions)} compositions")


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    write_unicode_tables()
    bert()
    byte_level()
    unigram()
    bpe_variants()
    write_sweep(["bert", "bert-cased", "gpt2", "opt", "roberta", "t5", "unigram-byte-fallback", "unigram-first",
                 "bpe-suffix", "bpe-prefix"])
    total = sum(os.path.getsize(os.path.join(FIXTURES, f)) for f in os.listdir(FIXTURES))
    print(f"total fixture size: {total / 1024:.0f} kB")


if __name__ == "__main__":
    sys.exit(main())
