"""GuideLedger's domain: aggregates, events, value objects and pure policies.

Imports nothing but the standard library, the eventsourcing aggregate base and
its own modules, so every rule here can be unit-tested without I/O.
"""
