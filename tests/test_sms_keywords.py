"""The SMS intake's words (dispatch/core/sms_keywords.py) and the street
gazetteer (geo/streets.py): pure, no server."""

from __future__ import annotations

import re

import pytest

from dispatch.core.categories import CATEGORIES
from dispatch.core.outbox import KINDS
from dispatch.core.sms_keywords import (
    KEYWORDS,
    STOP_WORDS,
    Report,
    Stop,
    Unreadable,
    confirmation_text,
    help_text,
    read_sms,
    stopped_text,
)
from dispatch.core.sms_text import is_gsm7, segments, stop_suffix
from dispatch.settings import load_settings
from geo import load_city
from geo.streets import StreetFileError, fold, load_streets, parse_streets, street_key
from tests.support import REPO


@pytest.mark.parametrize(
    ("text", "category", "place"),
    [
        ("FEU", "fire", ""),
        ("feu 12 rue Droite", "fire", "12 rue Droite"),
        ("Incendié   cours Mirabeau ", "fire", "cours Mirabeau"),
        ("INCENDIE\nplace Bistan", "fire", "place Bistan"),
        ("Vol bd Gambetta", "theft", "bd Gambetta"),
        ("cambriolage", "burglary", ""),
        ("RODÉO av de Gruissan", "rodeo", "av de Gruissan"),
        ("rodeo", "rodeo", ""),
        ("Aide", "solidarity", ""),
        ("SOLIDARITÉ rue Parerie", "solidarity", "rue Parerie"),
        ("Feu!", "fire", ""),
        ("feu,rue droite", "fire", "rue droite"),
    ],
)
def test_a_keyword_names_its_category_and_the_rest_is_the_place(text: str, category: str, place: str) -> None:
    assert read_sms(text) == Report(category, place)


@pytest.mark.parametrize("text", ["STOP", "stop", "Arrêt", "ARRET merci", " Stop "])
def test_stop_and_arret_stop(text: str) -> None:
    assert read_sms(text) == Stop()


@pytest.mark.parametrize("text", ["", "   ", "!!!", "bonjour", "au feu", "12 rue Droite feu"])
def test_anything_else_is_unreadable(text: str) -> None:
    assert read_sms(text) == Unreadable()


def test_every_category_has_several_keywords_and_none_is_shared() -> None:
    assert set(KEYWORDS) == set(CATEGORIES)
    words = [w for ws in KEYWORDS.values() for w in ws]
    assert len(words) == len(set(words)), "a keyword names two categories"
    assert not set(words) & set(STOP_WORDS)
    for category, ws in KEYWORDS.items():
        assert len(ws) >= 2, category
        assert all(w == fold(w) and " " not in w for w in ws), category  # stored folded


def test_the_keywords_are_documented_word_for_word() -> None:
    doc = (REPO / "docs" / "reference.md").read_text(encoding="utf-8")
    section = doc.split("### SMS intake", 1)[1].split("\n## ", 1)[0]
    for category, words in KEYWORDS.items():
        row = re.search(rf"^\| `{category}` \|(.*)\|$", section, re.M)
        assert row, f"no row for {category}"
        assert re.findall(r"`([A-Z]+)`", row.group(1)) == [w.upper() for w in words], category
    for word in STOP_WORDS:
        assert f"`{word.upper()}`" in section


def test_each_outbox_kind_has_its_own_letter() -> None:
    # ext_id() names a message by its kind's first letter: two kinds sharing
    # one would make the second message a duplicate of the first, never sent
    assert len({k[0] for k in KINDS}) == len(KINDS)


def test_the_answers_name_what_they_should() -> None:
    assert all(words[0].upper() in help_text() for words in KEYWORDS.values())
    text = confirmation_text("fire", 42, "rue Droite")
    assert "42" in text and CATEGORIES["fire"].label in text and "rue Droite" in text


def test_the_answers_fit_the_shipped_segments_with_the_stop_instruction() -> None:
    # GSM-7 only (a "°" or a curly quote would make it UCS-2, 70 characters a
    # segment), and within notify.sms_max_segments once "STOP au ..." is added
    settings = load_settings(REPO / "config.toml", env={})
    suffix = stop_suffix("+33600000000")
    longest_label = max(CATEGORIES, key=lambda c: len(CATEGORIES[c].label))
    longest_street = "placé " + max((s.name for s in load_streets(settings.city_streets).streets.values()), key=len)  # type: ignore[arg-type]
    for text in (help_text(), stopped_text(), confirmation_text(longest_label, 10**9, longest_street)):
        assert is_gsm7(text + suffix), text
        assert segments(text + suffix) <= settings.notify_sms_max_segments, text


# -- the gazetteer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("Rue de l'Étang", "rue de l etang"),
        ("12 bis, RUE DROITE", "rue droite"),
        ("3b bd Gambetta", "boulevard gambetta"),
        ("av. de St-Pierre", "avenue de saint pierre"),
        ("Place de l’Hôtel-de-Ville", "place de l hotel de ville"),
    ],
)
def test_street_keys_fold_numbers_accents_and_abbreviations(written: str, key: str) -> None:
    assert street_key(written) == key


def test_the_demo_city_ships_a_gazetteer_whose_streets_lie_in_the_city() -> None:
    settings = load_settings(REPO / "config.toml", env={})
    assert settings.city_streets is not None
    streets = load_streets(settings.city_streets)
    city = load_city(settings.city_sectors)
    assert len(streets.streets) >= 20
    for street in streets.streets.values():
        assert city.sector_of(street.lat, street.lon) is not None, street.name
    found = streets.locate("12 rue droite")
    assert found is not None and found.name == "Rue Droite"
    assert streets.locate("chemin qui n'existe pas") is None
    assert streets.locate("") is None


def test_a_bad_street_file_is_refused_with_its_reason() -> None:
    with pytest.raises(StreetFileError, match="should be"):
        parse_streets({"streets": {"rue x": {"name": "Rue Droite", "lat": 43.18, "lon": 3.0}}})
    with pytest.raises(StreetFileError, match="needs name"):
        parse_streets({"streets": {"rue droite": {"name": "Rue Droite"}}})
    with pytest.raises(StreetFileError):
        parse_streets([])
