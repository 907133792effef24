"""Helpers for the joining and moderation tests: real proof files (made with
Pillow, which matplotlib brings), the multipart POST /api/residents, and a
roster holding one logged-in account of every role and status, made the way
a town makes them (the CLI, joining, a moderator's decisions)."""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image

from tests.e2e import CENTRE, PASSWORD, Accounts
from tests.support import Client, login

ROLES = (
    "none",
    "pending",
    "rejected",
    "suspended",
    "resident",
    "proxy",
    "referent",
    "dispatcher",
    "supervisor",
    "moderator",
    "admin",
)
STAFF = ("dispatcher", "supervisor", "moderator", "admin")


@functools.cache  # the same bytes every time (a PDF carries its creation time)
def _image(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, format=fmt)
    return out.getvalue()


def real_pdf() -> bytes:
    return _image("PDF")


def real_jpeg() -> bytes:
    return _image("JPEG")


def real_png() -> bytes:
    return _image("PNG")


def form(email: str, **over: Any) -> dict[str, str]:
    fields = {
        "name": "Jeanne Test",
        "email": email,
        "password": PASSWORD,
        "address": "3 rue du Pont, 11100 Narbonne",
        "lat": str(CENTRE[0]),
        "lon": str(CENTRE[1]),
    }
    fields.update({k: str(v) for k, v in over.items() if v is not None})
    return {k: v for k, v in fields.items() if v != ""}


async def join(
    http: httpx.AsyncClient,
    email: str,
    proof: bytes | None = None,
    filename: str = "justificatif.pdf",
    content_type: str = "application/pdf",
    **fields: Any,
) -> httpx.Response:
    files = {"proof": (filename, real_pdf() if proof is None else proof, content_type)}
    return await http.post("/api/residents", data=form(email, **fields), files=files)


@dataclass
class Roster:
    """One account of each role and status, logged in (`none`: no account)."""

    url: str
    clients: dict[str, Client] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)

    def token(self, role: str) -> str | None:
        return None if role == "none" else self.clients[role].token

    def headers(self, role: str) -> dict[str, str]:
        token = self.token(role)
        return {} if token is None else {"Authorization": f"Bearer {token}"}

    async def aclose(self) -> None:
        for c in self.clients.values():
            await c.aclose()


async def decide(mod: Client, account_id: int, decision: str, reason: str | None = None) -> None:
    body = {"decision": decision} | ({"reason": reason} if reason else {})
    r = await mod.http.post(f"/api/moderation/residents/{account_id}", json=body)
    assert r.status_code == 200, r.text


async def roster(url: str, env: dict[str, str], tag: str = "", home: tuple[float, float] = CENTRE) -> Roster:
    """Every role: CLI accounts for residents and staff; pending, rejected and
    proxy through joining; suspended by the moderator, then logged in again."""
    out = Roster(url)
    accounts = Accounts(env)
    for role in ("resident", "referent", *STAFF):
        email = f"{role}{tag}@example.org"
        lat, lon = home if role in ("resident", "referent") else (None, None)
        out.ids[role] = accounts.add(role, email, lat, lon, name=f"Nom {role}{tag}")
        out.emails[role] = email
    out.ids["suspended"] = accounts.add("resident", f"suspended{tag}@example.org", *home, name=f"Nom suspendu{tag}")
    out.emails["suspended"] = f"suspended{tag}@example.org"
    mod = await login(url, out.emails["moderator"], PASSWORD)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for role in ("pending", "rejected", "proxy"):
            email = f"{role}{tag}@example.org"
            extra = {"on_behalf_of": f"Mme Aînée{tag}"} if role == "proxy" else {}
            r = await join(http, email, name=f"Nom {role}{tag}", lat=home[0], lon=home[1], **extra)
            assert r.status_code == 201, r.text
            out.ids[role], out.emails[role] = r.json()["id"], email
    await decide(mod, out.ids["proxy"], "validate")
    await decide(mod, out.ids["rejected"], "reject", "justificatif illisible")
    r = await mod.http.post(
        f"/api/moderation/accounts/{out.ids['suspended']}", json={"action": "suspend", "reason": "abus"}
    )
    assert r.status_code == 200, r.text
    await mod.aclose()
    for role in ROLES[1:]:
        out.clients[role] = await login(url, out.emails[role], PASSWORD)
    return out
