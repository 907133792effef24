"""The alert categories of the residents' app: French label, pictogram,
default severity (1-5) and acknowledgement target in minutes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Category:
    id: str
    label: str
    pictogram: str
    severity: int
    ack_target_min: float
    solidarity: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "pictogram": self.pictogram,
            "severity": self.severity,
            "ack_target_min": self.ack_target_min,
            # mutual aid: the wall draws it with less weight than an emergency
            "solidarity": self.solidarity,
        }


CATEGORIES: dict[str, Category] = {
    c.id: c
    for c in (
        Category("suspicious", "Comportement suspect", "👁", 3, 10),
        Category("burglary", "Cambriolage", "🏠", 4, 5),
        Category("theft", "Vol", "👜", 3, 10),
        Category("vandalism", "Vandalisme", "🔨", 2, 30),
        Category("rodeo", "Rodéo urbain", "🏍", 3, 10),
        Category("fire", "Incendie", "🔥", 5, 2),
        Category("weather", "Intempérie dangereuse", "⛈", 4, 5),
        Category("ecology", "Écologie / dépôt sauvage", "🌿", 1, 60),
        Category("solidarity", "Entraide et solidarité", "🤝", 2, 30, solidarity=True),
    )
}


def initial_priority(category: str) -> float:
    """Before triage has anything else to go on, priority is severity x 10."""
    return float(CATEGORIES[category].severity * 10)
