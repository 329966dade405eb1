"""The town's `run/` folder and what reads it: the running town's address, lock and token
(`state`), dashboard logins (`login`), the wake-up datagram (`wake`), agents' run tokens
(`run_tokens`) and one JSON call to the running town (`client`). A leaf: anything may import
it, it imports nothing of the town above the records and errors."""
