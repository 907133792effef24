"""What a message says on each out-of-band channel (French, as the pages):
the e-mail's subject, plain text and HTML, the SMS (ending with the stop
instruction, within the configured segments: core.sms_text) and the push
notification's text. Pure."""

from __future__ import annotations

import html

from dispatch.core.categories import CATEGORIES
from dispatch.core.outbox import Texts
from dispatch.core.sms_text import fit, stop_suffix

LEVEL_WORDS = {"info": "Information", "warning": "Vigilance", "urgent": "URGENT"}
SENDER = "Police municipale"


def sms_text(text: str, number: str, max_segments: int) -> str:
    return fit(text, stop_suffix(number), max_segments)


def broadcast_texts(text: str, level: str, number: str, max_segments: int) -> Texts:
    word = LEVEL_WORDS.get(level, level)
    return Texts(
        subject=f"[{SENDER}] {word}",
        email=f"{word} — message de la {SENDER.lower()} :\n\n{text}\n",
        sms=sms_text(f"{SENDER} ({word}) : {text}", number, max_segments),
        push=text,
    )


def alert_texts(category: str, sector_name: str, number: str, max_segments: int) -> Texts:
    """A nearby alert without its text or point (the resident view tells
    no more than the category and the sector)."""
    label = CATEGORIES[category].label if category in CATEGORIES else category
    line = f"Signalement près de chez vous ({sector_name}) : {label}."
    return Texts(
        subject=f"[{SENDER}] Signalement : {label}",
        email=f"{line}\n\nOuvrez l'application pour le voir sur la carte.\n",
        sms=sms_text(line, number, max_segments),
        push=line,
    )


def decision_texts(validated: bool, reason: str | None) -> Texts:
    if validated:
        subject = f"[{SENDER}] Votre compte est validé"
        body = (
            "Votre compte a été validé : vous pouvez maintenant signaler et recevoir les messages de votre secteur.\n"
        )
    else:
        subject = f"[{SENDER}] Votre demande n'a pas été acceptée"
        body = f"Votre demande de compte n'a pas été acceptée.\n\nMotif : {reason or '-'}\n"
    return Texts(subject=subject, email=body, sms="", push="")


def email_html(subject: str, text: str, unsubscribe_url: str) -> str:
    """The HTML part, from the plain text (escaped: the text is the author's)."""
    paragraphs = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in text.strip().split("\n\n"))
    return (
        f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{html.escape(subject)}</title></head>'
        f"<body>{paragraphs}<hr><p><small>Vous recevez ce message parce que vous l'avez demandé. "
        f'<a href="{html.escape(unsubscribe_url, quote=True)}">Gérer mes notifications</a></small></p></body></html>'
    )
