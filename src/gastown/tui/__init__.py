"""`gt feed` on a terminal: a full-screen view of the town (Textual).

`view` reads what is shown, in one pure function over the store; `steer` acts on a choice
through the services the CLI commands use; `screen` and `dialogs` are the Textual widgets.
Only `gt feed` on a terminal imports this package: Textual loads in about a tenth of a second.
"""
