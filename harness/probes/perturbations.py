"""Input perturbations, each a pure function ``(text, severity, rng) -> text``.

Severity is the probability that each eligible site (a word, a character, a gap) is perturbed.
Every draw comes from ``rng``, seeded per (run seed, perturbation, example), so every model is
scored on exactly the same perturbed inputs.
"""
from __future__ import annotations

import random
import re
from functools import lru_cache
from typing import Callable

from harness.resources import builtin_dir

Perturbation = Callable[[str, float, random.Random], str]
PERTURBATIONS: dict[str, Perturbation] = {}

_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
_ADJACENT: dict[str, str] = {}
for r, row in enumerate(_ROWS):
    for c, ch in enumerate(row):
        near = [row[c + d] for d in (-1, 1) if 0 <= c + d < len(row)]
        near += [_ROWS[rr][cc] for rr in (r - 1, r + 1) if 0 <= rr < 3 for cc in (c, c + 1) if 0 <= cc < len(_ROWS[rr])]
        _ADJACENT[ch] = "".join(near)

HOMOGLYPHS = {"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у", "i": "і", "j": "ј", "s": "ѕ",
              "A": "Α", "B": "Β", "E": "Ε", "H": "Η", "K": "Κ", "M": "Μ", "O": "Ο", "P": "Ρ", "T": "Τ", "X": "Χ"}
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060"]
BIDI = [("\u202e", "\u202c"), ("\u2067", "\u2069"), ("\u200f", "")]     # RLO..PDF, RLI..PDI, a lone RLM
CONTRACTIONS = {"do not": "don't", "does not": "doesn't", "did not": "didn't", "is not": "isn't", "are not": "aren't",
                "was not": "wasn't", "were not": "weren't", "cannot": "can't", "will not": "won't", "it is": "it's",
                "that is": "that's", "there is": "there's", "i am": "i'm", "you are": "you're", "they are": "they're",
                "we are": "we're", "has not": "hasn't", "have not": "haven't", "would not": "wouldn't", "let us": "let's"}
_WORD = re.compile(r"[A-Za-z]+")


def perturbation(name: str):
    def register(fn: Perturbation) -> Perturbation:
        PERTURBATIONS[name] = fn
        return fn
    return register


def _map_words(text: str, fn: Callable[[str], str]) -> str:
    return _WORD.sub(lambda m: fn(m.group(0)), text)


@perturbation("typo")
def keyboard_typo(text: str, severity: float, rng: random.Random) -> str:
    """Each word of 3+ letters, with probability severity, gets one letter replaced by a QWERTY neighbour."""
    def typo(word: str) -> str:
        if len(word) < 3 or rng.random() >= severity:
            return word
        i = rng.randrange(len(word))
        near = _ADJACENT.get(word[i].lower())
        if not near:
            return word
        ch = rng.choice(near)
        return word[:i] + (ch.upper() if word[i].isupper() else ch) + word[i + 1:]
    return _map_words(text, typo)


@perturbation("case")
def case_change(text: str, severity: float, rng: random.Random) -> str:
    """Each word, with probability severity, becomes UPPER, lower or Title case."""
    def change(word: str) -> str:
        if rng.random() >= severity:
            return word
        return rng.choice([str.upper, str.lower, str.title])(word)
    return _map_words(text, change)


@perturbation("whitespace_punct")
def whitespace_punctuation(text: str, severity: float, rng: random.Random) -> str:
    """Each space, with probability severity, is doubled, dropped, or gets stray punctuation."""
    out = []
    for ch in text:
        if ch == " " and rng.random() < severity:
            out.append(rng.choice(["  ", "", " , ", " ; ", "  . "]))
        else:
            out.append(ch)
    return "".join(out)


@perturbation("contractions")
def contractions(text: str, severity: float, rng: random.Random) -> str:
    """Contracts expanded forms and expands contracted ones, each site with probability severity."""
    table = {**CONTRACTIONS, **{v: k for k, v in CONTRACTIONS.items()}}
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, table), key=len, reverse=True)) + r")\b", re.IGNORECASE)

    def swap(m: re.Match) -> str:
        if rng.random() >= severity:
            return m.group(0)
        new = table[m.group(0).lower()]
        return new[0].upper() + new[1:] if m.group(0)[0].isupper() else new
    return pattern.sub(swap, text)


@lru_cache(maxsize=1)
def synonym_table() -> dict[str, list[str]]:
    """tasks/robustness/synonyms.tsv: a word, then its synonyms, tab-separated (project-written)."""
    table: dict[str, list[str]] = {}
    for line in (builtin_dir("tasks") / "robustness" / "synonyms.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            word, *syns = [w.strip() for w in line.split("\t") if w.strip()]
            table[word.lower()] = syns
    return table


@perturbation("synonyms")
def synonym_swap(text: str, severity: float, rng: random.Random) -> str:
    """Each word with an entry in the shipped synonym list, with probability severity, becomes a synonym."""
    table = synonym_table()

    def swap(word: str) -> str:
        options = table.get(word.lower())
        if not options or rng.random() >= severity:
            return word
        new = rng.choice(options)
        return new[0].upper() + new[1:] if word[0].isupper() else new
    return _map_words(text, swap)


@perturbation("homoglyphs")
def homoglyphs(text: str, severity: float, rng: random.Random) -> str:
    """Each Latin letter that has a Cyrillic or Greek look-alike, with probability severity, is replaced by it."""
    return "".join(HOMOGLYPHS[ch] if ch in HOMOGLYPHS and rng.random() < severity else ch for ch in text)


@perturbation("zero_width")
def zero_width(text: str, severity: float, rng: random.Random) -> str:
    """After each character, with probability severity, an invisible zero-width character."""
    return "".join(ch + (rng.choice(ZERO_WIDTH) if rng.random() < severity else "") for ch in text)


@perturbation("bidi")
def bidi_controls(text: str, severity: float, rng: random.Random) -> str:
    """Each word, with probability severity, is wrapped in bidirectional override or isolate controls."""
    def wrap(word: str) -> str:
        if rng.random() >= severity:
            return word
        start, end = rng.choice(BIDI)
        return start + word + end
    return _map_words(text, wrap)


def perturb(name: str, text: str, severity: float, seed: int) -> str:
    return PERTURBATIONS[name](text, severity, random.Random(seed))
