"""Domain values. Frozen dataclasses; no I/O, no event loop."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

from geo.polygon import Polygon

if TYPE_CHECKING:
    from dispatch.core.outbox import Fanout, Nearby

ROLES = ("resident", "referent", "dispatcher", "supervisor", "moderator", "admin")
STAFF_ROLES = frozenset({"dispatcher", "supervisor", "moderator", "admin"})
# Roles allowed to act on alerts and send broadcasts (contract: dispatcher, supervisor).
OPERATOR_ROLES = frozenset({"dispatcher", "supervisor"})
RESIDENT_ROLES = frozenset({"resident", "referent"})
# Who may see the operational picture (every exact point and author: the
# staff view of alerts, /ws/ops, incidents, hand-over): those who act on it.
# Moderators see identities through moderation only; admins administer
# accounts and units (docs/reference.md, Roles).
OPS_VIEW_ROLES = OPERATOR_ROLES
MODERATOR_ROLES = frozenset({"moderator"})
ACCOUNT_ADMIN_ROLES = frozenset({"moderator", "admin"})
UNIT_ADMIN_ROLES = frozenset({"supervisor", "admin"})

# An account's standing: only a validated one may do more than log in and
# read GET /api/me. Joining makes a pending account; the CLI a validated one.
ACCOUNT_STATUSES = ("pending", "validated", "rejected", "suspended")

BroadcastLevel = Literal["info", "warning", "urgent"]
BROADCAST_LEVELS = ("info", "warning", "urgent")


def utcnow() -> datetime:
    return datetime.now(UTC)


T = TypeVar("T")


def evolve(obj: T, **changes: Any) -> T:
    """dataclasses.replace for this module's frozen dataclasses (plain
    __dict__, no __post_init__), without re-running __init__: a field-by-field
    frozen __init__ was a sixth of the grouping transaction's CPU."""
    new = object.__new__(type(obj))
    d = new.__dict__
    d.update(obj.__dict__)
    for name, value in changes.items():
        if name not in d:
            raise TypeError(f"{type(obj).__name__} has no field {name!r}")
        d[name] = value
    return new


def iso(ts: datetime) -> str:
    """ISO 8601 UTC with a Z, millisecond precision (truncated)."""
    if ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    # isoformat is C; strftime plus an f-string cost 4x more, on every
    # timestamp of every event and view
    return ts.isoformat(timespec="milliseconds")[:-6] + "Z"


@dataclass(frozen=True)
class NewUser:
    role: str
    email: str
    password_hash: str
    name: str = ""
    home_lat: float | None = None
    home_lon: float | None = None
    home_sector: str | None = None
    validated: bool = True
    # joining (POST /api/residents): None means "validated" or "pending" as
    # `validated` says, so older callers keep their meaning
    status: str | None = None
    address: str | None = None
    phone: str | None = None  # E.164
    on_behalf_of: str | None = None  # a proxy account: whose home this is
    id: int | None = None  # chosen by the caller (joining draws it at random)

    @property
    def account_status(self) -> str:
        if self.status is not None:
            return self.status
        return "validated" if self.validated else "pending"


@dataclass(frozen=True)
class Home:
    """Where a resident's alerts and broadcasts are aimed: the home position
    and its sector (None outside every sector), as the store keeps it."""

    user_id: int
    lat: float
    lon: float
    sector: str | None


@dataclass(frozen=True)
class User:
    id: int
    role: str
    email: str
    password_hash: str
    name: str
    home_lat: float | None
    home_lon: float | None
    home_sector: str | None
    status: str
    created_at: datetime
    reason: str | None = None  # why rejected or suspended
    address: str | None = None
    phone: str | None = None
    on_behalf_of: str | None = None

    @property
    def validated(self) -> bool:
        return self.status == "validated"

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_resident(self) -> bool:
        return self.role in RESIDENT_ROLES

    @property
    def home(self) -> Home | None:
        """The home sector is derived once, when the account is written, and
        again at start-up if the city's sectors changed
        (Store.set_home_sectors): never recomputed per request."""
        if self.home_lat is None or self.home_lon is None:
            return None
        return Home(self.id, self.home_lat, self.home_lon, self.home_sector)


@dataclass(frozen=True)
class Session:
    """A login as the store keeps it. A wall session (a wall screen's) is
    read-only and has no idle timeout; `last_used_at` is when a request
    last used it, to within a minute."""

    user: User
    wall: bool
    last_used_at: datetime


@dataclass(frozen=True)
class NewAlert:
    author: int
    category: str
    lat: float
    lon: float
    text: str
    client_id: str | None
    sector: str
    cell: str
    priority: float
    created_at: datetime
    # bus channels its event is published on (core.routing)
    channels: tuple[str, ...] = ()
    # its out-of-band messages (issue 19): to the residents nearby who opted
    # in to its category, found in the transaction that stores it
    nearby: Nearby | None = None


@dataclass(frozen=True)
class Alert:
    id: int
    # None once the alert is anonymous: its author erased their account, or
    # retention.alert_detail_days passed after it closed (dispatch purge)
    author: int | None
    category: str
    lat: float
    lon: float
    text: str
    client_id: str | None
    sector: str
    cell: str
    status: str
    priority: float
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    seq: int
    notes: tuple[dict[str, Any], ...] = ()
    incident: int | None = None
    hidden: bool = False  # by a moderator: gone from residents' lists and replays
    hide_reason: str | None = None
    text_hidden: bool = False  # by a moderator: residents see the alert without its text


class Created(NamedTuple):
    """What create_alert_grouped did: the alert; its events (alert.created,
    then what grouping changed; [] when it existed already); how many outbox
    rows it queued (its nearby messages)."""

    alert: Alert
    events: list[Event]
    queued: int = 0


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class NewBroadcast:
    author: int
    sectors: tuple[str, ...] | None  # None with a circle or polygon target
    circle: Circle | None
    text: str
    level: str
    recipients: int
    created_at: datetime
    channels: tuple[str, ...] = ()
    polygon: Polygon | None = None  # rings of (lon, lat), outer first (core/zones.py)
    # the outbox rows to write with it (issue 19): core.outbox.Fanout
    fanout: Fanout | None = None


@dataclass(frozen=True)
class Broadcast:
    id: int
    author: int
    sectors: tuple[str, ...] | None
    circle: Circle | None
    text: str
    level: str
    recipients: int
    created_at: datetime
    seq: int
    polygon: Polygon | None = None


@dataclass(frozen=True)
class Event:
    """One entry of the global event log. `data` is the staff view of the
    subject; audiences and anonymised views are derived from it. `links`
    maps each channel the event is published on to the seq of that
    channel's previous event (0 for the first), so a consumer sees a gap."""

    seq: int
    type: str
    data: dict[str, Any]
    created_at: datetime
    links: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertQuery:
    status: str | None = None
    sector: str | None = None
    category: str | None = None
    since: datetime | None = None
    author: int | None = None
    limit: int = 500
    ids: tuple[int, ...] | None = field(default=None)
    visible_only: bool = False  # leave out hidden alerts


@dataclass(frozen=True)
class Incident:
    """Alerts of compatible categories reported close together in space and
    time (core.grouping), triaged as one."""

    id: int
    category: str
    sector: str
    cell: str  # the first alert's cell at the grouping resolution
    lat: float
    lon: float
    status: str
    priority: float
    pinned: bool
    unit_id: int | None
    alerts: tuple[int, ...]
    authors: tuple[int, ...]  # distinct, in order of first report
    vulnerable: bool  # a report's text flags a vulnerable person
    escalation: int  # escalation steps applied so far (overdue)
    created_at: datetime
    updated_at: datetime
    ack_due_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    # As read from a store: empty (the history is append-only rows, read
    # apart for views); what a change adds here is appended when it is saved.
    history: tuple[dict[str, Any], ...] = ()

    @property
    def witnesses(self) -> int:
        return len(self.authors)


UNIT_STATUSES = ("available", "busy", "off_duty")


@dataclass(frozen=True)
class Unit:
    id: int
    name: str
    status: str
    incident_id: int | None
    updated_at: datetime


@dataclass(frozen=True)
class IncidentQuery:
    status: str | None = None  # a status, "open" or None for all
    sector: str | None = None
    category: str | None = None
    since: datetime | None = None
    limit: int = 500


@dataclass(frozen=True)
class NewProof:
    """A proof of address as stored: a random file name in the proofs
    folder, the media type judged from its bytes, its size."""

    file_name: str
    media_type: str
    size: int
    created_at: datetime


@dataclass(frozen=True)
class Proof:
    id: int
    user_id: int
    file_name: str
    media_type: str
    size: int
    created_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True)
class Flag:
    """A resident's report that an alert should not be shown."""

    id: int
    alert_id: int
    user_id: int
    reason: str
    created_at: datetime
    resolved_at: datetime | None = None
