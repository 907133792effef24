"""SMS length, as carriers count it (3GPP TS 23.038): a text in the GSM 7-bit
alphabet takes 160 septets in one segment, 153 per segment once it is split
(the rest carries the concatenation header); a character of the extension
table (^ { } [ ] ~ \\ | €, form feed) costs two septets. Any other character
sends the whole text in UCS-2: 70 UTF-16 units in one segment, 67 once
split. Pure; the composer's preview and the outbox use the same count."""

from __future__ import annotations

import math

_GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = "^{}\\[~]|€\f"
GSM_BASIC = frozenset(_GSM_BASIC)
GSM_EXTENDED = frozenset(_GSM_EXTENDED)


def is_gsm7(text: str) -> bool:
    return all(c in GSM_BASIC or c in GSM_EXTENDED for c in text)


def units(text: str) -> tuple[str, int]:
    """("gsm7", septets) or ("ucs2", UTF-16 code units)."""
    if is_gsm7(text):
        return "gsm7", sum(2 if c in GSM_EXTENDED else 1 for c in text)
    return "ucs2", len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """How many segments the text is sent in (at least 1)."""
    encoding, n = units(text)
    single, multi = (160, 153) if encoding == "gsm7" else (70, 67)
    return 1 if n <= single else math.ceil(n / multi)


def stop_suffix(number: str) -> str:
    """The stop instruction every SMS ends with (the intake reads STOP)."""
    return f" STOP au {number}" if number else " STOP"


def fit(text: str, suffix: str, max_segments: int) -> str:
    """`text` + `suffix` within `max_segments`: a longer text is cut on a
    word where it can be, and marked with an ellipsis ("..." in GSM-7, "…" in
    UCS-2, so the cut does not change the encoding). Truncating rather than
    refusing: an urgent message must go out, and the full text is in the app
    and the e-mail."""
    whole = text + suffix
    if segments(whole) <= max_segments:
        return whole
    mark = "..." if is_gsm7(whole) else "…"
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits
        mid = (lo + hi + 1) // 2
        if segments(text[:mid].rstrip() + mark + suffix) <= max_segments:
            lo = mid
        else:
            hi = mid - 1
    cut = text[:lo]
    space = cut.rfind(" ")
    if space > lo * 3 // 4:
        cut = cut[:space]
    return cut.rstrip() + mark + suffix
