"""A small street gazetteer: a street's name -> one position on it.

The SMS intake (issue 19) places an alert texted as `KEYWORD [place]` at the
place's position. A town has no geocoding service we may call, and a
resident's text is short ("FEU 12 rue droite"), so the city ships a file of
its streets, each with one representative point (its middle), and we look
the street up by its normalised name:

  * fold(): lower case, accents and punctuation gone, spaces collapsed, so
    "Rue de l'Étang" and "RUE DE L ETANG" are one key;
  * street_key(): fold(), then drop a leading house number ("12", "12 bis",
    "12b") and spell out the usual abbreviations ("bd" -> "boulevard",
    "av" -> "avenue", ...), so the key is the street itself.

A house number does not move the point: the street's middle is at most a
few hundred metres off, which is what the radius of a nearby alert absorbs.
The file is JSON: {"streets": {"<key>": {"name", "lat", "lon"}}}, each key
already street_key(name) (load_streets checks it).
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import dataclass

ABBREVIATIONS = {
    "av": "avenue",
    "ave": "avenue",
    "bd": "boulevard",
    "bld": "boulevard",
    "bvd": "boulevard",
    "ch": "chemin",
    "crs": "cours",
    "imp": "impasse",
    "pl": "place",
    "pde": "promenade",
    "qu": "quai",
    "r": "rue",
    "rte": "route",
    "sq": "square",
    "st": "saint",
    "ste": "sainte",
}
_NUMBER = re.compile(r"^\d+\s*(?:bis|ter|quater|[a-z])?\s+")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower case, without accents or punctuation, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_WORD.sub(" ", bare.replace("œ", "oe").replace("æ", "ae")).strip()


def street_key(text: str) -> str:
    """The gazetteer's key for a street written any usual way."""
    folded = _NUMBER.sub("", fold(text) + " ").strip()
    words = [ABBREVIATIONS.get(w, w) for w in folded.split()]
    return " ".join(words)


@dataclass(frozen=True)
class Street:
    name: str
    lat: float
    lon: float


class StreetFileError(ValueError):
    pass


class Gazetteer:
    def __init__(self, streets: dict[str, Street]) -> None:
        self.streets = streets

    def locate(self, place: str) -> Street | None:
        """The street the text names, or None (then the caller uses the home)."""
        return self.streets.get(street_key(place)) if place.strip() else None


def parse_streets(data: object, source: str = "<memory>") -> Gazetteer:
    if not isinstance(data, dict) or not isinstance(data.get("streets"), dict):
        raise StreetFileError(f"{source}: expected an object with a 'streets' object")
    out: dict[str, Street] = {}
    for key, value in data["streets"].items():
        try:
            street = Street(str(value["name"]), float(value["lat"]), float(value["lon"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise StreetFileError(f"{source}: street {key!r} needs name, lat and lon") from exc
        if street_key(street.name) != key:
            raise StreetFileError(f"{source}: key {key!r} should be {street_key(street.name)!r}")
        out[key] = street
    return Gazetteer(out)


def load_streets(path: str | os.PathLike[str]) -> Gazetteer:
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise StreetFileError(f"{source}: cannot read the street file: {exc}") from exc
    return parse_streets(data, source)
