"""The town's use cases. The CLI, the HTTP API and the mayor's tools call these and nothing
else, so every path through Gas Town validates, writes and records events the same way."""
