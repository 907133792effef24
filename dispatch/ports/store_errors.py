"""What the store port raises: the adapters turn their drivers' errors into
these, so that the use cases and the HTTP edge never see a driver's own."""

from __future__ import annotations


class DuplicateEmail(Exception):
    """An account with this email exists. `index` is the position in the batch."""

    def __init__(self, email: str, index: int) -> None:
        super().__init__(f"an account with email {email!r} already exists")
        self.email = email
        self.index = index


class NotFound(Exception):
    """No row has this id."""


class DuplicateUnit(Exception):
    """A patrol unit with this name exists."""


class DuplicateFlag(Exception):
    """This resident has flagged this alert already."""


class StoreUnavailable(Exception):
    """The store cannot be reached now (connection refused or lost, pool or
    connect timeout, SQLite I/O error or lock past busy_timeout): the one
    error the adapters raise for it; the HTTP edge answers 503 unavailable."""
