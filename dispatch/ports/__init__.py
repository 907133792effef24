"""Ports: the small Protocols the use cases (dispatch.usecases) and the live
path (dispatch.live) depend on, one module each: store (Store and its
errors), bus (Bus), grouping (Grouping, implemented by
dispatch.core.incident_grouping.PolicyGrouping) and publisher (Publisher,
implemented by dispatch.live.sequencer.Sequencer) and proofs (ProofFiles,
the proofs of address). dispatch.adapters implements the store, the bus and
the proof files; only dispatch.wiring and dispatch.cli
choose an adapter (open_store, open_bus), nothing else imports one.

May import: dispatch.core, geo; never dispatch.adapters or anything above.
"""
