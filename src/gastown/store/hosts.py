"""The processes of a town spread over several hosts: its town processes (one leads, the others
stand by) and its `gt worker`s, each with a heartbeat. Plain functions over a `Tx`.

A name is held by one live process at a time: registering a name whose holder still beats is
refused, and a name whose holder stopped beating long ago is taken over (that process is gone).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from gastown.clock import parse_stamp
from gastown.record import Record, field
from gastown.store.rows import ACTIVE_RUNS

if TYPE_CHECKING:
    from gastown.store.sql import Tx

Role = Literal["leader", "standby", "worker"]
LEADER: Role = "leader"
STANDBY: Role = "standby"
WORKER: Role = "worker"
_COLUMNS = "name, role, hostname, pid, slots, labels, draining, started_at, heartbeat_at"


class Host(Record):
    """One process of the town as it last said."""

    name: str
    """Unique in the town: a worker's `--name`, or `town@<hostname>:<pid>`."""
    role: Role
    """`leader`, `standby` or `worker`."""
    hostname: str
    """The machine it runs on."""
    pid: int
    """Its process id there."""
    slots: int = 0
    """A worker's number of runs at once (0 for a town process)."""
    labels: list[str] = field(default_factory=list)
    """A worker's labels, which a rig's `worker_labels` must all be among."""
    draining: bool = False
    """A worker finishing what it runs and taking nothing more."""
    started_at: str = ""
    """When it registered."""
    heartbeat_at: str = ""
    """When it last said it was alive."""

    def to_json(self) -> dict[str, object]:
        """The registration as `gt status --json` prints it."""
        return {name: getattr(self, name) for name in self.__fields__}

    def alive(self, now: datetime, window: float) -> bool:
        """Whether it beat within the last `window` seconds."""
        return (now - parse_stamp(self.heartbeat_at)).total_seconds() <= window


def _host(row: tuple[object, ...]) -> Host:
    name, role, hostname, pid, slots, labels, draining, started, beat = row
    return Host(
        str(name),
        role,  # type: ignore[arg-type]
        str(hostname),
        int(pid),  # type: ignore[call-overload]
        int(slots),  # type: ignore[call-overload]
        list(json.loads(str(labels))),
        bool(draining),
        str(started),
        str(beat),
    )


def register(tx: Tx, host: Host, now: datetime, window: float) -> Host | None:
    """Claim `host.name` for this process; the live holder (None when the name was free or
    its holder is gone, and then the name is ours)."""
    row = tx.db.execute(
        f"SELECT {_COLUMNS} FROM hosts WHERE name = ?{tx.db.lock_clause}", (host.name,)
    ).fetchone()
    if row is not None:
        held = _host(row)
        same = held.hostname == host.hostname and held.pid == host.pid
        if not same and held.alive(now, window):
            return held
        tx.db.execute("DELETE FROM hosts WHERE name = ?", (host.name,))
    tx.db.execute(
        f"INSERT INTO hosts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            host.name,
            host.role,
            host.hostname,
            host.pid,
            host.slots,
            json.dumps(sorted(host.labels)),
            int(host.draining),
            host.started_at,
            host.heartbeat_at,
        ),
    )
    return None


def beat(tx: Tx, name: str, pid: int, at: str, role: Role | None = None) -> bool:
    """Say `name` is alive (and, with `role`, what it now is). False when the name is no longer
    this process's: another took it over while this one was silent."""
    sets, params = "heartbeat_at = ?", [at]
    if role is not None:
        sets += ", role = ?"
        params.append(role)
    cur = tx.db.execute(f"UPDATE hosts SET {sets} WHERE name = ? AND pid = ?", (*params, name, pid))
    return cur.rowcount == 1


def set_draining(tx: Tx, name: str) -> bool:
    """Mark a worker as draining; False if no such worker."""
    cur = tx.db.execute("UPDATE hosts SET draining = 1 WHERE name = ?", (name,))
    return cur.rowcount == 1


def leave(tx: Tx, name: str, pid: int) -> None:
    """Forget this process's registration (a clean exit)."""
    tx.db.execute("DELETE FROM hosts WHERE name = ? AND pid = ?", (name, pid))


def get(tx: Tx, name: str) -> Host | None:
    """One registration, by name."""
    row = tx.db.execute(f"SELECT {_COLUMNS} FROM hosts WHERE name = ?", (name,)).fetchone()
    return None if row is None else _host(row)


def all_hosts(tx: Tx) -> list[Host]:
    """Every registration: town processes first (the leader before standbys), then workers."""
    rows = tx.db.execute(f"SELECT {_COLUMNS} FROM hosts ORDER BY role, name").fetchall()
    order = {LEADER: 0, STANDBY: 1, WORKER: 2}
    return sorted(map(_host, rows), key=lambda h: (order.get(h.role, 3), h.name))


def running(tx: Tx) -> dict[str, int]:
    """Active runs per worker that holds them."""
    rows = tx.db.execute(
        "SELECT host, COUNT(*) FROM runs WHERE host IS NOT NULL "
        f"AND status IN ({ACTIVE_RUNS}) GROUP BY host"
    ).fetchall()
    return {str(h): int(n) for h, n in rows}


def forget_leaders(tx: Tx, but: str) -> None:
    """Drop the registrations of earlier leaders: the lock is `but`'s now, so they are gone."""
    tx.db.execute("DELETE FROM hosts WHERE role = ? AND name <> ?", (LEADER, but))


def prune(tx: Tx, now: datetime, keep: float) -> int:
    """Forget registrations silent for more than `keep` seconds; how many."""
    gone = [h.name for h in all_hosts(tx) if not h.alive(now, keep)]
    for name in gone:
        tx.db.execute("DELETE FROM hosts WHERE name = ?", (name,))
    return len(gone)


TOWN_KEYS = ("town_record.name", "town_record.prefix", "town_record.settings")
"""Where the leader keeps the town's name, bead prefix and town layer of settings (JSON) for
hosts that have no town folder of their own (workers) or are joining (`gt init --db`)."""


LAYER_AT = "town_record.settings_at"
"""When the kept settings were changed (on the host that changed them)."""


def publish_town(
    tx: Tx, name: str, prefix: str, layer: dict[str, object], at: str | None = None
) -> None:
    """Keep the town's name, prefix and settings (changed `at`) where every host reads them."""
    values = (name, prefix, json.dumps(layer, sort_keys=True))
    for key, value in zip(TOWN_KEYS, values, strict=True):
        if tx.get_meta(key) != value:
            tx.set_meta(key, value)
            if key == "town_record.settings" and at is not None:
                tx.set_meta(LAYER_AT, at)


def layer_at(tx: Tx) -> str | None:
    """When the kept settings were last changed (None: never said)."""
    return tx.get_meta(LAYER_AT)


def town_record(tx: Tx) -> tuple[str, str, dict[str, object]] | None:
    """The town's name, prefix and settings as its leader last kept them (None: never)."""
    name, prefix, layer = (tx.get_meta(key) for key in TOWN_KEYS)
    if name is None or prefix is None:
        return None
    return name, prefix, dict(json.loads(layer or "{}"))


STOP_PREFIX = "run.stop:"


def ask_stop(tx: Tx, run_id: str, reason: str, after: str | None) -> None:
    """Ask the worker that runs `run_id` to stop it (it reads this at its next heartbeat)."""
    tx.set_meta(STOP_PREFIX + run_id, json.dumps({"reason": reason, "after": after}))


def stops_asked(tx: Tx, run_ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """The stops asked for any of `run_ids`: reason and what the bead pays, by run."""
    if not run_ids:
        return {}
    marks = ", ".join("?" for _ in run_ids)
    rows = tx.db.execute(
        f"SELECT key, value FROM meta WHERE key IN ({marks})",
        tuple(STOP_PREFIX + r for r in run_ids),
    ).fetchall()
    found = {}
    for key, value in rows:
        asked = json.loads(str(value))
        found[str(key).removeprefix(STOP_PREFIX)] = (str(asked["reason"]), asked.get("after"))
    return found


def forget_stops(tx: Tx, run_ids: list[str]) -> None:
    """Drop the stop requests of runs that have been stopped."""
    for run_id in run_ids:
        tx.db.execute("DELETE FROM meta WHERE key = ?", (STOP_PREFIX + run_id,))
