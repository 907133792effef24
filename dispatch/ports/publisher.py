"""The publisher port: how a use case hands a committed event to the live
path. Implemented by dispatch.live.sequencer.Sequencer, which delivers it to
this worker's hub at once and to the other workers over the bus."""

from __future__ import annotations

from typing import Protocol

from dispatch.core.model import Event


class Publisher(Protocol):
    async def publish(self, event: Event) -> None:
        """Deliver an event the store has committed; never blocks on the bus."""
        ...
