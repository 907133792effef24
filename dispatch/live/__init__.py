"""The live path of one worker: the sequencer (each channel's events in
order, exactly once, gaps repaired from the store), the hub (who listens
where, bounded queues, encode once per audience), the raw frame writes and
the uvicorn protocol that exposes them, and the garbage-collection policy
that keeps the fan-out free of long pauses.

May import: dispatch.core, dispatch.ports, geo, dispatch.telemetry (and uvicorn's protocol, for
raw frames). Never the use cases, adapters or the HTTP edge.
"""
