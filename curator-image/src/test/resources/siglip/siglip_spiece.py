"""Reference for SiglipCaptionTokenizerTest, run with Debian's python3-sentencepiece.

  siglip_spiece.py train PREFIX CORPUS.txt   trains a T5-style unigram model (nmt_nfkc; <pad> 0,
                                             </s> 1, <unk> 2), as SigLIP's spiece.model is made
  siglip_spiece.py encode MODEL CAPTIONS.json MAX_LENGTH
                                             prints the ids of each caption as Hugging Face's
                                             SiglipTokenizer(text, truncation=True,
                                             max_length=MAX_LENGTH) computes them

The encode steps follow transformers' SiglipTokenizer and PreTrainedTokenizer.tokenize line by
line: "▁" prefix, lower-casing outside special tokens, splitting at the special tokens (which strip
the whitespace beside them), canonicalize_text, the "<unk>" prefix trick, and the end-of-text token.
"""
import json
import re
import string
import sys

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as model_pb2

SPIECE_UNDERLINE = "\u2581"
EOS, UNK, PAD = "</s>", "<unk>", "</s>"
SPECIAL = [EOS, UNK]


def train(prefix, corpus):
    spm.SentencePieceTrainer.train(
        input=corpus, model_prefix=prefix, vocab_size=80, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, normalization_rule_name="nmt_nfkc",
        character_coverage=1.0, minloglevel=2)


def processor(model_file):
    with open(model_file, "rb") as f:
        model = model_pb2.ModelProto.FromString(f.read())
    normalizer_spec = model_pb2.NormalizerSpec()
    normalizer_spec.add_dummy_prefix = False
    model.normalizer_spec.MergeFrom(normalizer_spec)
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(model.SerializeToString())
    return sp


def canonicalize_text(text):
    text = text.translate(str.maketrans("", "", string.punctuation))
    text = re.sub(r"\s+", " ", text)
    return text.strip()


def tokenize(sp, text):
    # SiglipTokenizer.tokenize
    text = SPIECE_UNDERLINE + text.replace(SPIECE_UNDERLINE, " ")
    # PreTrainedTokenizer.tokenize: do_lower_case outside the special tokens
    escaped = [re.escape(t) for t in SPECIAL]
    pattern = r"(" + r"|".join(escaped) + r")|" + r"(.+?)"
    text = re.sub(pattern, lambda m: m.groups()[0] or m.groups()[1].lower(), text)
    # the added-tokens trie split; every special token has lstrip and rstrip
    tokens = re.split(r"(" + r"|".join(escaped) + r")", text)
    for i, token in enumerate(tokens):
        if token in SPECIAL:
            left = tokens[i - 1] if i > 0 else None
            right = tokens[i + 1] if i < len(tokens) - 1 else None
            if right:
                tokens[i + 1] = right.lstrip()
            if left:
                tokens[i - 1] = left.rstrip()
    out = []
    unk_token_length = len(sp.encode(UNK))
    for token in tokens:
        if not token:
            continue
        if token in SPECIAL:
            out.append(token)
        else:
            # SiglipTokenizer._tokenize
            canonical = canonicalize_text(token)
            pieces = sp.encode(UNK + canonical, out_type=str)
            out.extend(pieces[unk_token_length:] if len(pieces) >= unk_token_length else pieces)
    # SiglipTokenizer.tokenize
    if len(out) > 1 and out[0] == SPIECE_UNDERLINE and out[1] in SPECIAL:
        out = out[1:]
    return out


def encode(sp, text, max_length):
    ids = [sp.piece_to_id(t) for t in tokenize(sp, text)]
    eos = sp.piece_to_id(EOS)
    if len(ids) + 1 > max_length:
        ids = ids[: max_length - 1]
    if not (len(ids) > 0 and ids[-1] == eos):
        ids = ids + [eos]
    return ids


def main():
    if sys.argv[1] == "train":
        train(sys.argv[2], sys.argv[3])
    else:
        sp = processor(sys.argv[2])
        with open(sys.argv[3], encoding="utf-8") as f:
            captions = json.load(f)
        max_length = int(sys.argv[4])
        print(json.dumps([encode(sp, c, max_length) for c in captions]))


main()
