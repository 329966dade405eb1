"""Agent runtimes: one protocol, one small adapter per agent CLI, one event model.

`registry.runtime(name, path=...)` finds an adapter; `build(request)` describes the process;
`parser(request)` turns its stdout into `events`. See the README's "Agent runtimes" table.
"""
