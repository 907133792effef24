"""What a resident's text message to the town's number means (issue 19).

A text is `KEYWORD [place]`: the keyword names a category (several French
synonyms each, case and accents ignored: "Incendie", "INCENDIE" and
"incendié" are one word), the rest of the text is the place, a street
address (geo/streets.py finds it; without one the alert is at the home).
STOP or ARRET, alone or first, turns the SMS channel off for the sender:
every SMS we send ends with that short way to stop. Anything else gets the
help text, which lists the keywords, and makes no alert.

The table is what docs/reference.md ("SMS intake") documents, word for word
(tests/test_sms_keywords.py keeps the two equal).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from dispatch.core.categories import CATEGORIES
from dispatch.core.sms_text import is_gsm7
from geo.streets import fold

# category -> its keywords, folded (geo.streets.fold); the first is the one
# the help text shows
KEYWORDS: dict[str, tuple[str, ...]] = {
    "fire": ("feu", "incendie", "fumee", "flammes"),
    "burglary": ("cambriolage", "cambrioleur", "cambrioleurs", "effraction"),
    "theft": ("vol", "voleur", "voleurs", "vole"),
    "suspicious": ("suspect", "suspecte", "suspects", "louche"),
    "vandalism": ("vandalisme", "degradation", "degradations", "casse", "tag", "tags"),
    "rodeo": ("rodeo", "rodeos", "moto", "motos", "quad"),
    "weather": ("meteo", "intemperie", "tempete", "orage", "inondation", "grele"),
    "ecology": ("dechets", "depot", "ordures", "pollution", "ecologie"),
    "solidarity": ("aide", "solidarite", "entraide", "voisin"),
}
STOP_WORDS = ("stop", "arret", "arreter", "desinscription")
MAX_PLACE = 200  # characters kept of the place: a street address, not a story

_BY_WORD = {word: category for category, words in KEYWORDS.items() for word in words}


@dataclass(frozen=True)
class Report:
    """`KEYWORD [place]`: an alert of this category at the place (or home)."""

    category: str
    place: str  # as written, without the keyword; "" when none


@dataclass(frozen=True)
class Stop:
    """STOP: no more SMS for this account."""


@dataclass(frozen=True)
class Unreadable:
    """No keyword first: answer with the help text."""


Intent = Report | Stop | Unreadable


def read_sms(text: str) -> Intent:
    """The meaning of one inbound text (pure)."""
    parts = text.strip().split(maxsplit=1)
    # "Feu!" folds to "feu", "!!!" to nothing; "feu,rue Droite" to two words
    words = fold(parts[0]).split() if parts else []
    if not words:
        return Unreadable()
    if words[0] in STOP_WORDS:
        return Stop()
    category = _BY_WORD.get(words[0])
    if category is None:
        return Unreadable()
    rest = parts[1].strip() if len(parts) > 1 else ""
    place = " ".join(p for p in (" ".join(words[1:]), rest) if p)
    return Report(category, place[:MAX_PLACE])


def help_text() -> str:
    """The answer to an unreadable text: how to write one, the keywords.
    GSM-7 only (no "°", no curly quote), so it fits one segment and a half,
    and the stop instruction after it still fits the preview's two."""
    words = ", ".join(KEYWORDS[c][0].upper() for c in KEYWORDS)
    return f"Pour signaler : MOT-CLE puis la rue, ex. FEU 12 rue Droite. Mots-cles : {words}. Urgence : 17, 18, 112."


def confirmation_text(category: str, alert_id: int, placed: str) -> str:
    """The answer to a report: its category and number, and where it was put
    ("placé Rue Droite" from the gazetteer, or "placé au domicile")."""
    label = CATEGORIES[category].label
    return gsm7(f"Signalement {alert_id} ({label}) recu, {placed}. Urgence : 17, 18, 112.")


def gsm7(text: str) -> str:
    """The text in the GSM 7-bit alphabet: a letter outside it loses its
    accent ("dépôt" -> "dépot": é is in it, ô is not), so one such letter
    does not make the whole SMS UCS-2, at 70 characters a segment."""
    out = []
    for ch in text:
        if not is_gsm7(ch):
            ch = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)) or "?"
        out.append(ch if is_gsm7(ch) else "?")
    return "".join(out)


def stopped_text() -> str:
    return "Vous ne recevrez plus de SMS. Reactivez-les dans les reglages de l'application."
