"""A PostgreSQL town over several hosts: polecat runs as jobs on procrastinate, `gt worker`
processes that take them, the leader's watch for workers that went silent, and which town
process leads.

Why procrastinate: it keeps its queue in the PostgreSQL the town already has (no broker to
run), wakes a worker by NOTIFY rather than a poll, beats per worker so a silent one's jobs can
be told apart, and takes a job from a worker with an abort. What it does not decide is whether a
run's late writes count: that is the ledger's, and a run taken from its worker is ended there
(see `watch`), so nothing it writes afterwards is accepted.

A SQLite town imports none of this.
"""
