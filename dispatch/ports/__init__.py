"""Ports: the small Protocols the use cases and the live path depend on, one
module each (store, bus, grouping, publisher). Adapters implement them
(dispatch/adapters/, chosen by URL scheme); nothing above this layer imports
an adapter.

May import: dispatch.core, geo.
"""
