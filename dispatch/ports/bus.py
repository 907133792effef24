"""The bus port: fast, lossy fan-out of encoded events between workers. Two
adapters, dispatch.adapters.bus_memory.MemoryBus and
dispatch.adapters.bus_redis.RedisBus, chosen by the URL scheme (memory:,
redis:) in dispatch.adapters.open_bus, run one contract suite
(tests/test_bus_contract.py). dispatch.live.sequencer publishes; the
sequencer's subscriptions feed dispatch.live.hub."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[bytes]: ...


class Bus(Protocol):
    """Fast, lossy fan-out of encoded events between workers. Delivery is
    at-most-once; the store is the source of truth, so a consumer that sees a
    gap or a reconnect catches up from Store.events_after()."""

    async def connect(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...

    shared: bool  # False: in-process only, nobody else to tell

    async def publish_batch(self, batch: Sequence[tuple[Sequence[str], bytes]]) -> None:
        """Several messages, each on its channels, in one round trip."""
        ...

    async def subscribe(self, channel: str) -> None: ...
    async def unsubscribe(self, channel: str) -> None: ...
    def messages(self) -> AsyncIterator[tuple[str, bytes]]:
        """(channel, message) for every subscribed channel, as they arrive.
        Never ends while the bus is open: across a lost link it reconnects
        by itself, and calls `on_reconnect` callbacks so the consumer can
        catch up."""
        ...

    def on_reconnect(self, callback: Callable[[], None]) -> None: ...
