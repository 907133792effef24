"""dispatch/core/scoring.py: table-driven examples of the scoring formula and
hypothesis properties of the ranking. Pure: no event loop."""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dispatch.core.categories import CATEGORIES
from dispatch.core.scoring import (
    DEFAULT_TRIAGE,
    Score,
    TriageConfig,
    ack_target_s,
    next_escalation_at,
    overdue_at,
    score,
    vulnerable_matches,
)

PROPS = settings(derandomize=True, deadline=None, database=None, max_examples=300)

# ---------------------------------------------------------------------------
# The formula, written out (default weights): severity x 10, + min(20, 5 log2 w),
# + 15 if vulnerable, + 20/30/40 at 1/2/3+ acknowledgement targets overdue.

# (category, witnesses, texts, age_s, acknowledged, pinned) -> (priority, overdue, reasons)
SCORES: list[tuple[str, int, tuple[str, ...], float, bool, float | None, float, bool, tuple[str, ...]]] = [
    ("fire", 1, (), 0, False, None, 50, False, ("severity:5",)),
    ("ecology", 1, (), 0, False, None, 10, False, ("severity:1",)),
    ("burglary", 0, (), 0, False, None, 40, False, ("severity:4",)),
    ("burglary", 2, (), 0, False, None, 45, False, ("severity:4", "witnesses:2")),
    ("burglary", 4, (), 0, False, None, 50, False, ("severity:4", "witnesses:4")),
    ("burglary", 16, (), 0, False, None, 60, False, ("severity:4", "witnesses:16")),
    ("burglary", 1000, (), 0, False, None, 60, False, ("severity:4", "witnesses:1000")),  # capped
    (
        "theft",
        1,
        ("Un enfant pleure devant la boutique",),
        0,
        False,
        None,
        45,
        False,
        ("severity:3", "vulnerable:enfant"),
    ),
    (
        "solidarity",
        1,
        ("Personne âgée seule chez elle, canicule",),
        0,
        False,
        None,
        35,
        False,
        ("severity:2", "vulnerable:personne âgée", "vulnerable:âgée", "vulnerable:seule", "vulnerable:canicule"),
    ),
    (
        "vandalism",
        1,
        ("Tags sur le mur", "un BLESSÉ à terre"),
        0,
        False,
        None,
        35,
        False,
        ("severity:2", "vulnerable:blessé"),
    ),
    # fire: target 2 min
    ("fire", 1, (), 119.9, False, None, 50, False, ("severity:5",)),
    ("fire", 1, (), 120, False, None, 70, True, ("severity:5", "overdue:1")),
    ("fire", 1, (), 239, False, None, 70, True, ("severity:5", "overdue:1")),
    ("fire", 1, (), 240, False, None, 80, True, ("severity:5", "overdue:2")),
    ("fire", 1, (), 360, False, None, 90, True, ("severity:5", "overdue:3")),
    ("fire", 1, (), 86_400, False, None, 90, True, ("severity:5", "overdue:3")),  # capped
    ("fire", 1, (), 86_400, True, None, 50, False, ("severity:5",)),  # acknowledged: no escalation
    ("fire", 1, (), -30, False, None, 50, False, ("severity:5",)),  # clock skew counts as 0
    # burglary 5 min, solidarity 30 min, ecology 60 min
    ("burglary", 3, (), 299, False, None, 40 + 5 * math.log2(3), False, ("severity:4", "witnesses:3")),
    ("burglary", 3, (), 300, False, None, 60 + 5 * math.log2(3), True, ("severity:4", "witnesses:3", "overdue:1")),
    ("solidarity", 1, (), 1800, False, None, 40, True, ("severity:2", "overdue:1")),
    ("ecology", 1, (), 3599, False, None, 10, False, ("severity:1",)),
    ("ecology", 1, (), 3600, False, None, 30, True, ("severity:1", "overdue:1")),
    # everything at once: 50 + 20 (cap) + 15 + 40 (cap) = 125, the top of the scale
    (
        "fire",
        50,
        ("bébé inconscient",),
        3600,
        False,
        None,
        125,
        True,
        ("severity:5", "witnesses:50", "vulnerable:bébé", "vulnerable:inconscient", "overdue:3"),
    ),
    # pinned by a supervisor: wins, whatever the formula says
    ("ecology", 1, (), 0, False, 99.0, 99, False, ("severity:1", "pinned")),
    ("fire", 1, (), 600, False, 0.0, 0, True, ("severity:5", "overdue:3", "pinned")),
]


@pytest.mark.parametrize(
    ("category", "witnesses", "texts", "age_s", "acknowledged", "pinned", "priority", "overdue", "reasons"), SCORES
)
def test_score_table(
    category: str,
    witnesses: int,
    texts: tuple[str, ...],
    age_s: float,
    acknowledged: bool,
    pinned: float | None,
    priority: float,
    overdue: bool,
    reasons: tuple[str, ...],
) -> None:
    s = score(category, witnesses, texts, age_s, acknowledged, pinned, DEFAULT_TRIAGE)
    assert s.priority == pytest.approx(priority)
    assert s.overdue is overdue
    assert s.reasons == reasons
    if pinned is None:
        assert s.computed == s.priority


@pytest.mark.parametrize("flag", [True, False])
def test_a_stored_vulnerable_flag_replaces_the_texts(flag: bool) -> None:
    s = score("theft", 1, ("un enfant",), 0, False, None, DEFAULT_TRIAGE, vulnerable=flag)
    assert s.vulnerable is flag
    assert s.priority == 30 + (15 if flag else 0)
    assert s.reasons == (("severity:3", "vulnerable") if flag else ("severity:3",))


def test_score_is_frozen() -> None:
    s = score("fire", 1, (), 0, False, None, DEFAULT_TRIAGE)
    assert isinstance(s, Score)
    with pytest.raises(FrozenInstanceError):
        s.priority = 1  # type: ignore[misc]


def test_pinned_keeps_the_computed_value() -> None:
    s = score("fire", 3, ("enfant",), 600, False, 12.5, DEFAULT_TRIAGE)
    assert s.priority == 12.5
    assert s.computed == score("fire", 3, ("enfant",), 600, False, None, DEFAULT_TRIAGE).priority
    assert s.vulnerable and s.overdue and s.escalation == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("meteor", 1, (), 0, False, None), "unknown category"),
        (("fire", -1, (), 0, False, None), "witnesses"),
        (("fire", 1, (), math.nan, False, None), "age_s"),
        (("fire", 1, (), math.inf, False, None), "age_s"),
        (("fire", 1, (), 0, False, math.nan), "pinned"),
    ],
)
def test_score_rejects(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        score(*args)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Vulnerable words: case-, accent-insensitive, on word boundaries.

WORDS = [
    ("enfant", ("enfant",)),
    ("ENFANT", ("enfant",)),
    ("Des enfants jouent sur la voie", ("enfant",)),
    ("l'enfant du voisin", ("enfant",)),
    ("l’enfant du voisin", ("enfant",)),
    ("un comportement enfantin", ()),
    ("BÉBÉ", ("bébé",)),
    ("bebe", ("bébé",)),
    ("Bébés", ("bébé",)),
    ("personne agee", ("personne âgée", "âgée")),
    ("PERSONNE-ÂGÉE", ("personne âgée", "âgée")),
    ("deux personnes âgées", ("personne âgée", "âgée")),
    ("un homme âgé", ("âgé",)),
    ("un monsieur d'un certain âge", ("âgé",)),  # accent folding: âge == âgé
    ("il range son garage", ()),
    ("handicapee", ("handicapée",)),
    ("un malaise dans le bus", ("malaise",)),
    ("plusieurs blessés", ("blessé",)),
    ("Inconsciente sur le trottoir", ("inconsciente",)),
    ("seulement du bruit", ()),
    ("elle vit seule", ("seule",)),
    ("alerte CANICULE", ("canicule",)),
    ("public fragile et vulnérable", ("fragile", "vulnérable")),
    ("voiture mal garée", ()),
    ("", ()),
]


@pytest.mark.parametrize(("text", "expected"), WORDS)
def test_vulnerable_words(text: str, expected: tuple[str, ...]) -> None:
    assert vulnerable_matches((text,), DEFAULT_TRIAGE) == expected
    s = score("theft", 1, (text,), 0, False, None, DEFAULT_TRIAGE)
    assert s.vulnerable is bool(expected)
    assert s.priority == 30 + (15 if expected else 0)


def test_vulnerable_words_are_configurable() -> None:
    cfg = TriageConfig(vulnerable_words=("chien", "Sans-abri"))
    assert vulnerable_matches(("Un chien errant",), cfg) == ("chien",)
    assert vulnerable_matches(("un sans abri endormi",), cfg) == ("Sans-abri",)
    assert vulnerable_matches(("un enfant",), cfg) == ()
    assert vulnerable_matches(("un enfant",), TriageConfig(vulnerable_words=())) == ()


# ---------------------------------------------------------------------------
# Acknowledgement targets and timers.


@pytest.mark.parametrize(
    ("category", "minutes"),
    [("fire", 2), ("burglary", 5), ("weather", 5), ("suspicious", 10), ("solidarity", 30), ("ecology", 60)],
)
def test_ack_targets_come_from_categories(category: str, minutes: float) -> None:
    assert ack_target_s(category, DEFAULT_TRIAGE) == minutes * 60
    assert overdue_at(category, 1_000.0, DEFAULT_TRIAGE) == 1_000.0 + minutes * 60


def test_ack_targets_can_be_overridden() -> None:
    cfg = TriageConfig.from_mapping({"ack_targets_min": {"fire": 3, "solidarity": 15.5}})
    assert ack_target_s("fire", cfg) == 180
    assert ack_target_s("solidarity", cfg) == 930
    assert ack_target_s("burglary", cfg) == 300  # untouched
    assert not score("fire", 1, (), 150, False, None, cfg).overdue
    assert score("fire", 1, (), 180, False, None, cfg).overdue


def test_next_escalation_at() -> None:
    assert next_escalation_at("fire", 1_000.0, 1_000.0, DEFAULT_TRIAGE) == 1_120.0
    assert next_escalation_at("fire", 1_000.0, 1_130.0, DEFAULT_TRIAGE) == 1_240.0
    assert next_escalation_at("fire", 1_000.0, 1_240.0, DEFAULT_TRIAGE) == 1_360.0
    assert next_escalation_at("fire", 1_000.0, 1_360.0, DEFAULT_TRIAGE) is None  # capped


@PROPS
@given(
    category=st.sampled_from(sorted(CATEGORIES)),
    created=st.floats(min_value=0, max_value=4e9, allow_nan=False),
)
def test_a_timer_at_overdue_at_finds_the_item_overdue(category: str, created: float) -> None:
    due = overdue_at(category, created, DEFAULT_TRIAGE)
    assert score(category, 1, (), due - created, False, None, DEFAULT_TRIAGE).overdue
    assert not score(category, 1, (), due - created - 0.01, False, None, DEFAULT_TRIAGE).overdue
    nxt = next_escalation_at(category, created, due, DEFAULT_TRIAGE)
    assert nxt is not None
    at_next = score(category, 1, (), nxt - created, False, None, DEFAULT_TRIAGE)
    assert at_next.escalation == 2


# ---------------------------------------------------------------------------
# Configuration from config.toml's [triage] table.


def test_from_mapping_defaults() -> None:
    assert TriageConfig.from_mapping({}) == DEFAULT_TRIAGE
    assert hash(TriageConfig.from_mapping({})) == hash(DEFAULT_TRIAGE)


def test_from_mapping_reads_every_key() -> None:
    cfg = TriageConfig.from_mapping(
        {
            "vulnerable_words": ["enfant"],
            "ack_targets_min": {"fire": 1},
            "severity_weight": 100,
            "witness_weight": 1,
            "witness_cap": 2,
            "vulnerable_bonus": 3,
            "overdue_bonus": 4,
            "overdue_step": 5,
            "overdue_cap": 6,
            "grouping": {"window_min": 10},  # belongs to core.grouping
        }
    )
    s = score("fire", 8, ("enfant",), 3600, False, None, cfg)
    assert s.priority == 500 + 2 + 3 + 6
    assert s.escalation == cfg.max_steps == 2


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"vulnerable_word": ["x"]}, "'vulnerable_word'"),
        ({"severity": 10}, "'severity'"),
        ({"vulnerable_words": "enfant"}, "vulnerable_words"),
        ({"vulnerable_words": [1]}, "vulnerable_words"),
        ({"vulnerable_words": ["  "]}, "empty"),
        ({"ack_targets_min": {"meteor": 5}}, "'meteor'"),
        ({"ack_targets_min": {"fire": 0}}, "ack_targets_min.fire"),
        ({"ack_targets_min": {"fire": "2"}}, "ack_targets_min.fire"),
        ({"ack_targets_min": 5}, "ack_targets_min"),
        ({"severity_weight": -1}, "severity_weight"),
        ({"overdue_cap": True}, "overdue_cap"),
        ({"witness_weight": math.nan}, "witness_weight"),
    ],
)
def test_from_mapping_rejects(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TriageConfig.from_mapping(raw)


# ---------------------------------------------------------------------------
# Properties.

CATS = st.sampled_from(sorted(CATEGORIES))
PHRASES = st.sampled_from(
    [
        "voiture garée",
        "bruit de verre",
        "deux enfants",
        "une personne âgée",
        "Blessé léger",
        "porte forcée",
        "fumée noire",
    ]
)
TEXTS = st.lists(st.one_of(PHRASES, st.text(max_size=30)), max_size=3)
AGES = st.floats(min_value=-60, max_value=5 * 3600, allow_nan=False)
WITNESSES = st.integers(min_value=0, max_value=200)
PINNED = st.none() | st.floats(min_value=0, max_value=1000, allow_nan=False)


@PROPS
@given(CATS, WITNESSES, WITNESSES, TEXTS, AGES, st.booleans())
def test_more_witnesses_never_lower_the_priority(
    category: str, w1: int, w2: int, texts: list[str], age_s: float, ack: bool
) -> None:
    lo, hi = sorted((w1, w2))
    assert (
        score(category, lo, texts, age_s, ack, None, DEFAULT_TRIAGE).priority
        <= score(category, hi, texts, age_s, ack, None, DEFAULT_TRIAGE).priority
    )


@PROPS
@given(CATS, WITNESSES, TEXTS, st.floats(0, 1, exclude_max=True), st.floats(1, 20))
def test_overdue_unacknowledged_ranks_above_the_same_item_not_overdue(
    category: str, witnesses: int, texts: list[str], before: float, after: float
) -> None:
    target = ack_target_s(category, DEFAULT_TRIAGE)
    early = score(category, witnesses, texts, before * target * 0.999, False, None, DEFAULT_TRIAGE)
    late = score(category, witnesses, texts, after * target, False, None, DEFAULT_TRIAGE)
    assert not early.overdue and late.overdue
    assert late.priority > early.priority


@PROPS
@given(CATS, WITNESSES, TEXTS, AGES, AGES)
def test_priority_never_decreases_with_age_while_unacknowledged(
    category: str, witnesses: int, texts: list[str], a1: float, a2: float
) -> None:
    lo, hi = sorted((a1, a2))
    assert (
        score(category, witnesses, texts, lo, False, None, DEFAULT_TRIAGE).priority
        <= score(category, witnesses, texts, hi, False, None, DEFAULT_TRIAGE).priority
    )


@PROPS
@given(CATS, WITNESSES, TEXTS, AGES)
def test_acknowledged_items_do_not_escalate(category: str, witnesses: int, texts: list[str], age_s: float) -> None:
    acked = score(category, witnesses, texts, age_s, True, None, DEFAULT_TRIAGE)
    fresh = score(category, witnesses, texts, 0, False, None, DEFAULT_TRIAGE)
    assert not acked.overdue and acked.escalation == 0
    assert acked.priority == fresh.priority
    assert acked.priority <= score(category, witnesses, texts, age_s, False, None, DEFAULT_TRIAGE).priority


@PROPS
@given(
    CATS, WITNESSES, TEXTS, AGES, st.booleans(), st.sampled_from(DEFAULT_TRIAGE.vulnerable_words), st.text(max_size=10)
)
def test_vulnerable_words_raise_the_priority(
    category: str, witnesses: int, texts: list[str], age_s: float, ack: bool, word: str, noise: str
) -> None:
    assume(not vulnerable_matches(texts, DEFAULT_TRIAGE))
    base = score(category, witnesses, texts, age_s, ack, None, DEFAULT_TRIAGE)
    flagged = score(category, witnesses, [*texts, f"{noise} {word.upper()} !"], age_s, ack, None, DEFAULT_TRIAGE)
    assert flagged.vulnerable and not base.vulnerable
    assert flagged.priority == base.priority + DEFAULT_TRIAGE.vulnerable_bonus


@PROPS
@given(WITNESSES, TEXTS, AGES, st.booleans())
def test_a_fire_outranks_an_ecology_report(witnesses: int, texts: list[str], age_s: float, ack: bool) -> None:
    fire = score("fire", witnesses, texts, age_s, ack, None, DEFAULT_TRIAGE)
    ecology = score("ecology", witnesses, texts, age_s, ack, None, DEFAULT_TRIAGE)
    assert fire.priority > ecology.priority


@PROPS
@given(CATS, CATS, WITNESSES, TEXTS, AGES, st.booleans())
def test_more_severe_categories_outrank_with_the_default_targets(
    a: str, b: str, witnesses: int, texts: list[str], age_s: float, ack: bool
) -> None:
    # holds because the default targets shrink as severity grows
    assume(CATEGORIES[a].severity > CATEGORIES[b].severity)
    assert (
        score(a, witnesses, texts, age_s, ack, None, DEFAULT_TRIAGE).priority
        > score(b, witnesses, texts, age_s, ack, None, DEFAULT_TRIAGE).priority
    )


@PROPS
@given(CATS, WITNESSES, TEXTS, AGES, st.booleans(), st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_pinned_wins(category: str, witnesses: int, texts: list[str], age_s: float, ack: bool, pinned: float) -> None:
    free = score(category, witnesses, texts, age_s, ack, None, DEFAULT_TRIAGE)
    pin = score(category, witnesses, texts, age_s, ack, pinned, DEFAULT_TRIAGE)
    assert pin.priority == pinned
    assert pin.computed == free.priority
    assert (pin.overdue, pin.vulnerable, pin.escalation) == (free.overdue, free.vulnerable, free.escalation)
    assert pin.reasons == (*free.reasons, "pinned")


@PROPS
@given(CATS, WITNESSES, TEXTS, AGES, st.booleans(), PINNED)
def test_default_scale(
    category: str, witnesses: int, texts: list[str], age_s: float, ack: bool, pinned: float | None
) -> None:
    s = score(category, witnesses, texts, age_s, ack, pinned, DEFAULT_TRIAGE)
    assert 10 <= s.computed <= 125
    assert s.reasons[0] == f"severity:{CATEGORIES[category].severity}"
