"""Making invisible and look-alike characters visible in report.html.

Zero-width characters, bidirectional controls and homoglyphs (a Cyrillic "а" for a Latin "a") are
exactly what the robustness probe plants, and in a browser they look like the original text; a bidi
override even reorders what is drawn. ``reveal`` splits a string into plain segments and marked
ones (⟨ZWSP⟩, ⟨U+202E⟩, ⟨Cyrillic а⟩) that the template draws as highlighted text - escaped like
every other string. Pure function."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

SHORT = {0x200B: "ZWSP", 0x200C: "ZWNJ", 0x200D: "ZWJ", 0x2060: "WJ", 0xFEFF: "BOM", 0x00AD: "SHY",
         0x00A0: "NBSP", 0x202F: "NNBSP", 0x180E: "MVS", 0x034F: "CGJ", 0x2061: "FA", 0x2062: "IT", 0x2063: "IS",
         0x2064: "IP", 0x3000: "IDSP"}
VISIBLE_WHITESPACE = {"\n", "\t", " ", "\r"}
# Letters of other scripts that look like Latin ones (the robustness probe's set, and common others).
LOOKALIKES = set("аесорхуіјѕԁһӏԛԝґӕАВЕНІЈКМОРСТХЅԌԚԜΑΒΕΖΗΙΚΜΝΟΡΤΥΧαονρτυχϲϳ")


@dataclass(frozen=True)
class Segment:
    text: str
    kind: str = ""        # "" plain, "invisible" (control/format/odd space), "homoglyph"
    title: str = ""       # the characters' Unicode names, for a tooltip


def _script(ch: str) -> str:
    return unicodedata.name(ch, "UNKNOWN").split(" ")[0]


def _is_invisible(ch: str) -> bool:
    if ch in VISIBLE_WHITESPACE:
        return False
    category = unicodedata.category(ch)
    return (category in ("Cf", "Cc", "Zl", "Zp", "Co", "Cn", "Cs") or (category == "Zs" and ch != " ")
            or 0xFE00 <= ord(ch) <= 0xFE0F or 0xE0100 <= ord(ch) <= 0xE01EF or ord(ch) in SHORT)


def _latin_letters(text: str) -> int:
    return sum(1 for ch in text if ch.isalpha() and _script(ch) == "LATIN")


def _words(text: str):
    start = None
    for i, ch in enumerate(text + " "):
        if ch.isalpha() and start is None:
            start = i
        elif not ch.isalpha() and start is not None:
            yield start, i
            start = None


def _homoglyph_positions(text: str) -> set[int]:
    """Non-Latin letters inside a word that also has Latin letters (mixed script), and Latin
    look-alikes from other scripts in mostly-Latin text (a word replaced letter by letter)."""
    positions: set[int] = set()
    mostly_latin = None
    for start, end in _words(text):
        word = text[start:end]
        scripts = [_script(ch) for ch in word]
        if "LATIN" in scripts:
            positions.update(start + i for i, s in enumerate(scripts) if s not in ("LATIN", "UNKNOWN"))
        elif all(ch in LOOKALIKES for ch in word):
            if mostly_latin is None:
                letters = sum(1 for ch in text if ch.isalpha())
                mostly_latin = _latin_letters(text) * 2 > letters
            if mostly_latin:
                positions.update(range(start, end))
    for i, ch in enumerate(text):
        name = unicodedata.name(ch, "")
        if name.startswith(("FULLWIDTH LATIN", "MATHEMATICAL")):
            positions.add(i)
    return positions


def label(ch: str) -> str:
    """⟨ZWSP⟩ for the zero-width family, ⟨U+202E⟩ for other invisible characters."""
    return "⟨" + SHORT.get(ord(ch), f"U+{ord(ch):04X}") + "⟩"


def reveal(text) -> tuple[Segment, ...]:
    """``text`` as segments; joining the plain ones and the marked ones' labels reads like the
    original with every invisible character and homoglyph spelt out."""
    text = "" if text is None else str(text)
    homoglyphs = _homoglyph_positions(text)
    segments: list[Segment] = []
    plain = []
    for i, ch in enumerate(text):
        if _is_invisible(ch):
            kind, shown = "invisible", label(ch)
        elif i in homoglyphs:
            kind, shown = "homoglyph", f"⟨{_script(ch).title()} {ch}⟩"
        else:
            plain.append(ch)
            continue
        if plain:
            segments.append(Segment("".join(plain)))
            plain = []
        segments.append(Segment(shown, kind, f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')}"))
    if plain or not segments:
        segments.append(Segment("".join(plain)))
    return tuple(segments)


def revealed(text) -> str:
    """The plain-text reading of ``reveal`` (for the terminal and tests)."""
    return "".join(s.text for s in reveal(text))


def has_hidden(text) -> bool:
    return any(s.kind for s in reveal(text))
