"""Which characters are CJK, by Unicode script: the tokenizers' one definition.

A character is CJK here when its Script is Han, Hiragana, Katakana, Hangul or Bopomofo, or when it is a
letter whose Script_Extensions name one of those (the prolonged sound mark ー, the iteration mark 〆).
Marks and punctuation shared with Latin text (combining dots, the middle dot) are left out so Vietnamese
or French words are never split. The ranges are generated from the `regex` module's Unicode tables by
`generate_ranges()` (slow: it walks every code point) and written out so tokenizing stays on `re`;
tests/metrics/test_options.py regenerates them and checks they are equal.
"""

from __future__ import annotations

SCRIPTS = ("Han", "Hiragana", "Katakana", "Hangul", "Bopomofo")

CJK_RANGES = (
    (0x02C7, 0x02C7), (0x02C9, 0x02CB), (0x02EA, 0x02EB), (0x1100, 0x11FF),
    (0x2E80, 0x2E99), (0x2E9B, 0x2EF3), (0x2F00, 0x2FD5), (0x3005, 0x3007),
    (0x3021, 0x3029), (0x302E, 0x302F), (0x3031, 0x3035), (0x3038, 0x303C),
    (0x3041, 0x3096), (0x309D, 0x309F), (0x30A1, 0x30FA), (0x30FC, 0x30FF),
    (0x3105, 0x312F), (0x3131, 0x318E), (0x31A0, 0x31BF), (0x31F0, 0x321E),
    (0x3260, 0x327E), (0x32D0, 0x32FE), (0x3300, 0x3357), (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF), (0xA960, 0xA97C), (0xAC00, 0xD7A3), (0xD7B0, 0xD7C6),
    (0xD7CB, 0xD7FB), (0xF900, 0xFA6D), (0xFA70, 0xFAD9), (0xFF66, 0xFFBE),
    (0xFFC2, 0xFFC7), (0xFFCA, 0xFFCF), (0xFFD2, 0xFFD7), (0xFFDA, 0xFFDC),
    (0x16FE2, 0x16FE3), (0x16FF0, 0x16FF6), (0x1AFF0, 0x1AFF3), (0x1AFF5, 0x1AFFB),
    (0x1AFFD, 0x1AFFE), (0x1B000, 0x1B128), (0x1B132, 0x1B132), (0x1B150, 0x1B152),
    (0x1B155, 0x1B155), (0x1B164, 0x1B168), (0x1F200, 0x1F200), (0x20000, 0x2A6DF),
    (0x2A700, 0x2B81E), (0x2B820, 0x2CEAD), (0x2CEB0, 0x2EBE0), (0x2EBF0, 0x2EE5D),
    (0x2F800, 0x2FA1D), (0x30000, 0x3134A), (0x31350, 0x33479),
)
# A character class body for `re`: [CJK_CLASS] matches one CJK character.
CJK_CLASS = "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in CJK_RANGES)


def generate_ranges() -> list[tuple[int, int]]:
    """CJK_RANGES computed from the installed `regex` module's Unicode tables."""
    import unicodedata

    import regex

    script = regex.compile("[" + "".join(f"\\p{{sc={s}}}" for s in SCRIPTS) + "]")
    extended = regex.compile("[" + "".join(f"\\p{{scx={s}}}" for s in SCRIPTS) + "]")
    ranges: list[tuple[int, int]] = []
    start = None
    for cp in range(0x110001):
        c = chr(cp) if cp < 0x110000 else ""
        hit = bool(c) and (script.match(c) is not None
                           or (extended.match(c) is not None and unicodedata.category(c).startswith("L")))
        if hit and start is None:
            start = cp
        elif not hit and start is not None:
            ranges.append((start, cp - 1))
            start = None
    return ranges
