"""Priority scoring of alerts and incidents.

Pure: no I/O, no clock, no event loop. The caller passes the age of the item
and whatever it knows about it; `score` returns a number (higher = more urgent)
and the reasons behind it.

API
---
``TriageConfig``
    Frozen weights and word list. ``TriageConfig()`` is the default;
    ``TriageConfig.from_mapping(settings.triage)`` reads config.toml's
    ``[triage]`` table (keys below; an unknown key is a ValueError naming it).
``score(category, witnesses, texts, age_s, acknowledged, pinned, cfg, *, vulnerable=None) -> Score``
    The priority of one item (an alert, or an incident: ``witnesses`` is then
    its number of distinct authors and ``texts`` the texts of its alerts, or
    ``vulnerable=`` the flag already computed from them). ``acknowledged``:
    any status change out of "new" (model.Incident.acknowledged_at set).
``vulnerable_matches(texts, cfg) -> tuple[str, ...]``
    The configured words found in the texts (configuration order).
``ack_target_s(category, cfg)``, ``overdue_at(category, created_at_epoch_s, cfg)``,
``escalation_steps(category, age_s, acknowledged, cfg)`` (0..``cfg.max_steps``),
``next_escalation_at(category, created_at_epoch_s, now_epoch_s, cfg)``
    When an item becomes overdue, and when its priority next changes while it
    stays unacknowledged (for the live system's timers).
``PRIORITY_BANDS``
    The display bands of a priority (crit, high, med, low), for the ops pages.

Formula (default weights)
-------------------------
::

    computed = severity_weight  * severity                          10 x (1..5)
             + min(witness_cap, witness_weight * log2(witnesses))   0, 5, 7.9, 10 ... capped at 20 (16 witnesses)
             + vulnerable_bonus   if a text names a vulnerable person      +15
             + escalation         if unacknowledged and overdue
    escalation = min(overdue_cap, overdue_bonus + overdue_step * (steps - 1))
    steps      = floor(age / ack_target)            (0 while age < ack_target)

so +20 the moment the acknowledgement target is reached, +30 at twice the
target, +40 (the cap) from three times the target on. ``priority`` is
``pinned`` when a supervisor pinned one, else ``computed``. The range is
10..125 with the default weights, well inside the 0..1000 accepted by the
alert patch validation.

Escalation is in whole steps so the priority only changes at known instants
(``next_escalation_at``): the live system re-scores on a timer instead of
continuously. An item is overdue from ``age >= ack_target`` inclusive (with a
microsecond of slack, so a timer armed at ``overdue_at`` always finds it
overdue despite float rounding). Acknowledged items are never overdue and
never escalate. A negative age (clock skew) counts as 0.

Properties (tests/test_triage_scoring.py): more witnesses never lower the
priority; an overdue unacknowledged item ranks above the same item not yet
overdue; acknowledging removes escalation; vulnerable words raise it; with the
default targets (which shrink as severity grows) a more severe category always
outranks a less severe one given the same other inputs, e.g. fire > ecology.
An override of ``ack_targets_min`` that gives a less severe category a
*shorter* target than a more severe one can break that last property for
overdue items -- by design, overdue escalation is meant to lift an item.

Vulnerable words
----------------
Matched case-insensitively and accent-insensitively (NFKD, combining marks
dropped, casefold, oe/ae ligatures expanded) on word boundaries, with an
optional plural "s" on each word ("enfants", "blessés" match "enfant",
"blessé"; "personnes âgées" matches "personne âgée"). A multi-word entry
matches across any run of spaces or hyphens ("personne-agee"). Accent folding
has a cost: "âgé" also matches the noun "âge" ("un certain âge"). No negation handling: "pas de blessé" matches "blessé".

Reasons
-------
Stable machine codes, for the ops UI to translate: ``"severity:5"``,
``"witnesses:3"`` (only when > 1), ``"vulnerable:<word>"`` (one per matched
configured word; plain ``"vulnerable"`` when the caller passes the flag), ``"overdue:<steps>"``, ``"pinned"``.

[triage] keys
-------------
``vulnerable_words`` (list of strings; replaces the default list),
``ack_targets_min`` (table category -> minutes > 0; overrides categories.py
per category), ``severity_weight``, ``witness_weight``, ``witness_cap``,
``vulnerable_bonus``, ``overdue_bonus``, ``overdue_step``, ``overdue_cap``
(numbers >= 0). A sub-table ``[triage.grouping]`` is left to
``dispatch.core.grouping.GroupingConfig.from_mapping``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from dispatch.core.categories import CATEGORIES

DEFAULT_VULNERABLE_WORDS: tuple[str, ...] = (
    "enfant",
    "bébé",
    "personne âgée",
    "âgé",
    "âgée",
    "handicapé",
    "handicapée",
    "malaise",
    "blessé",
    "blessée",
    "inconscient",
    "inconsciente",
    "seul",
    "seule",
    "canicule",
    "fragile",
    "vulnérable",
)

# Priority bands, for display only (the ops pages colour maps, lists and
# legends by them; dispatch/http/pages.py serves them to the pages): each
# band's id and lowest priority, most urgent first. Anything below the last
# threshold is in the last band (priorities are >= 0 anyway). With the
# default weights a band starts at a severity's base score (10 x severity):
# a fire (5) is "crit" from its first alert, a burglary (4) "high", and
# witnesses, a vulnerable person or overdue escalation lift an item into a
# higher band. Nothing in triage depends on them.
PRIORITY_BANDS: tuple[tuple[str, float], ...] = (("crit", 50.0), ("high", 40.0), ("med", 30.0), ("low", 0.0))

# Sub-tables of [triage] that belong to other modules.
_DELEGATED_KEYS = frozenset({"grouping"})

_WEIGHT_KEYS = (
    "severity_weight",
    "witness_weight",
    "witness_cap",
    "vulnerable_bonus",
    "overdue_bonus",
    "overdue_step",
    "overdue_cap",
)

# A timer armed at overdue_at() must find the item overdue even when
# (created + target) - created rounds to a hair under target.
_SLACK_S = 1e-6

_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})


def normalise(text: str) -> str:
    """Lower-case, accent-free form used for matching ("Âgée" -> "agee")."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold().translate(_LIGATURES)


def _word_pattern(word: str) -> re.Pattern[str]:
    parts = re.split(r"[\s\-]+", normalise(word).strip())
    parts = [p for p in parts if p]
    if not parts:
        raise ValueError(f"vulnerable word {word!r} is empty once normalised")
    body = r"[\s\-]+".join(re.escape(p) + "s?" for p in parts)
    return re.compile(rf"(?<!\w){body}(?!\w)")


def _default_targets() -> Mapping[str, float]:
    return {cid: float(c.ack_target_min) for cid, c in CATEGORIES.items()}


def _number(raw: Any, name: str, *, positive: bool = False) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ValueError(f"[triage] {name}: expected a number, got {raw!r}")
    value = float(raw)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"[triage] {name}: expected a finite number {bound}, got {raw!r}")
    return value


@dataclass(frozen=True)
class TriageConfig:
    vulnerable_words: tuple[str, ...] = DEFAULT_VULNERABLE_WORDS
    # category -> minutes; categories absent here use categories.py
    ack_targets_min: Mapping[str, float] = field(default_factory=_default_targets, hash=False)
    severity_weight: float = 10.0
    witness_weight: float = 5.0
    witness_cap: float = 20.0
    vulnerable_bonus: float = 15.0
    overdue_bonus: float = 20.0
    overdue_step: float = 10.0
    overdue_cap: float = 40.0
    _patterns: tuple[tuple[str, re.Pattern[str]], ...] = field(
        init=False, repr=False, compare=False, hash=False, default=()
    )

    def __post_init__(self) -> None:
        if isinstance(self.vulnerable_words, str):
            raise ValueError("[triage] vulnerable_words: expected a list of strings, got a string")
        words = tuple(self.vulnerable_words)
        for w in words:
            if not isinstance(w, str):
                raise ValueError(f"[triage] vulnerable_words: expected strings, got {w!r}")
        targets: dict[str, float] = {}
        for cat, minutes in self.ack_targets_min.items():
            if cat not in CATEGORIES:
                raise ValueError(f"[triage] ack_targets_min: unknown category {cat!r}")
            targets[cat] = _number(minutes, f"ack_targets_min.{cat}", positive=True)
        for name in _WEIGHT_KEYS:
            object.__setattr__(self, name, _number(getattr(self, name), name))
        object.__setattr__(self, "vulnerable_words", words)
        object.__setattr__(self, "ack_targets_min", MappingProxyType(targets))
        object.__setattr__(self, "_patterns", tuple((w, _word_pattern(w)) for w in words))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> TriageConfig:
        """Build from config.toml's [triage] table; defaults for absent keys."""
        kwargs: dict[str, Any] = {}
        for key, value in raw.items():
            if key in _DELEGATED_KEYS:
                continue
            if key == "vulnerable_words":
                if isinstance(value, str) or not isinstance(value, Sequence):
                    raise ValueError("[triage] vulnerable_words: expected a list of strings")
                kwargs[key] = tuple(value)
            elif key == "ack_targets_min":
                if not isinstance(value, Mapping):
                    raise ValueError("[triage] ack_targets_min: expected a table category -> minutes")
                kwargs[key] = {**_default_targets(), **value}
            elif key in _WEIGHT_KEYS:
                kwargs[key] = _number(value, key)
            else:
                raise ValueError(f"[triage] unknown key {key!r}")
        return cls(**kwargs)

    @property
    def max_steps(self) -> int:
        """Escalation steps after which the escalation bonus stops growing."""
        if self.overdue_step <= 0 or self.overdue_cap <= self.overdue_bonus:
            return 1
        return 1 + math.ceil((self.overdue_cap - self.overdue_bonus) / self.overdue_step)

    def escalation_bonus(self, steps: int) -> float:
        if steps <= 0:
            return 0.0
        return min(self.overdue_cap, self.overdue_bonus + self.overdue_step * (steps - 1))


DEFAULT_TRIAGE = TriageConfig()


@dataclass(frozen=True)
class Score:
    priority: float  # what to sort by: pinned if pinned, else computed
    overdue: bool  # unacknowledged and past its acknowledgement target
    reasons: tuple[str, ...]
    computed: float  # the formula's value, even when pinned
    vulnerable: bool
    escalation: int  # escalation steps (0 unless overdue)


def _category(category: str) -> int:
    try:
        return CATEGORIES[category].severity
    except KeyError:
        raise ValueError(f"unknown category {category!r}") from None


def ack_target_s(category: str, cfg: TriageConfig = DEFAULT_TRIAGE) -> float:
    """The acknowledgement target of a category, in seconds."""
    _category(category)
    minutes = cfg.ack_targets_min.get(category, CATEGORIES[category].ack_target_min)
    return float(minutes) * 60.0


def overdue_at(category: str, created_at_epoch_s: float, cfg: TriageConfig = DEFAULT_TRIAGE) -> float:
    """Epoch seconds at which an unacknowledged item becomes overdue."""
    return created_at_epoch_s + ack_target_s(category, cfg)


def escalation_steps(category: str, age_s: float, acknowledged: bool, cfg: TriageConfig = DEFAULT_TRIAGE) -> int:
    if acknowledged:
        return 0
    target = ack_target_s(category, cfg)
    steps = math.floor((max(0.0, age_s) + _SLACK_S) / target)
    return min(cfg.max_steps, steps)


def next_escalation_at(
    category: str, created_at_epoch_s: float, now_epoch_s: float, cfg: TriageConfig = DEFAULT_TRIAGE
) -> float | None:
    """When an unacknowledged item's priority next changes, or None once the
    escalation is capped."""
    steps = escalation_steps(category, now_epoch_s - created_at_epoch_s, False, cfg)
    if steps >= cfg.max_steps:
        return None
    return created_at_epoch_s + (steps + 1) * ack_target_s(category, cfg)


def vulnerable_matches(texts: Sequence[str], cfg: TriageConfig = DEFAULT_TRIAGE) -> tuple[str, ...]:
    """The configured vulnerable words found in any of the texts, in
    configuration order."""
    if isinstance(texts, str):
        texts = (texts,)
    normalised = [normalise(t) for t in texts]
    return tuple(w for w, pat in cfg._patterns if any(pat.search(t) for t in normalised))


def witness_bonus(witnesses: int, cfg: TriageConfig = DEFAULT_TRIAGE) -> float:
    if witnesses <= 1:
        return 0.0
    return min(cfg.witness_cap, cfg.witness_weight * math.log2(witnesses))


def score(
    category: str,
    witnesses: int,
    texts: Sequence[str],
    age_s: float,
    acknowledged: bool,
    pinned: float | None,
    cfg: TriageConfig = DEFAULT_TRIAGE,
    *,
    vulnerable: bool | None = None,
) -> Score:
    """Priority of one alert or incident; see the module docstring.

    ``vulnerable``, when given, replaces the text matching (``texts`` is then
    ignored): for a caller that stored the flag rather than the texts, e.g.
    model.Incident.vulnerable. Its reason is then plain ``"vulnerable"``."""
    severity = _category(category)
    if witnesses < 0:
        raise ValueError(f"witnesses must be >= 0, got {witnesses}")
    if not math.isfinite(age_s):
        raise ValueError(f"age_s must be finite, got {age_s}")
    if pinned is not None and not math.isfinite(pinned):
        raise ValueError(f"pinned must be finite, got {pinned}")

    reasons = [f"severity:{severity}"]
    computed = cfg.severity_weight * severity
    if witnesses > 1:
        reasons.append(f"witnesses:{witnesses}")
        computed += witness_bonus(witnesses, cfg)
    if vulnerable is None:
        words = vulnerable_matches(texts, cfg)
        flagged = bool(words)
        reasons.extend(f"vulnerable:{w}" for w in words)
    else:
        flagged = vulnerable
        if flagged:
            reasons.append("vulnerable")
    if flagged:
        computed += cfg.vulnerable_bonus
    steps = escalation_steps(category, age_s, acknowledged, cfg)
    if steps:
        reasons.append(f"overdue:{steps}")
        computed += cfg.escalation_bonus(steps)
    if pinned is not None:
        reasons.append("pinned")
    return Score(
        priority=float(pinned) if pinned is not None else computed,
        overdue=steps > 0,
        reasons=tuple(reasons),
        computed=computed,
        vulnerable=flagged,
        escalation=steps,
    )
