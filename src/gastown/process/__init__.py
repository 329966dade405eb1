"""The town process: one per town, serving the HTTP API (and, as it grows, the reconciler and
the agents' supervisor). `gt up` runs it; `gt down` stops it; `gt status` reports it."""
