"""beads interop: the town as `bd export` JSONL, and such a file read back in.

A line is one issue: bd's field names in bd's order, compact, `<>&` escaped as Go escapes them,
sorted by id. Gas Town's own fields travel under `metadata.gastown`. A convoy travels as an
`epic` line whose `metadata.gastown.kind` is `convoy`, and each of its beads carries a
`parent-child` edge to it, so bd shows the beads as the epic's children. Fields bd has and Gas
Town does not model are kept in `Bead.extra` on import and written back in their place.

Import reads and checks the whole file before it writes anything, then upserts by id in one
transaction: a line older than the town's copy is stale and skipped, labels and edges are
unioned, nothing is deleted, and importing the same file twice changes nothing the second time.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gastown.clock import parse_stamp
from gastown.errors import UserError
from gastown.model import (
    BEAD_TYPES,
    CLOSED,
    CONVOY_CANCELLED,
    CONVOY_FAILED,
    CONVOY_LANDED,
    CONVOY_OPEN,
    DEFAULT_PRIORITY,
    FAILED,
    IN_PROGRESS,
    IN_REVIEW,
    OPEN,
    PARENT_CHILD,
    Bead,
    BeadStatus,
    Convoy,
)
from gastown.record import Record, field
from gastown.services.ledger import Ledger

_BD_FIELDS = (
    "id title description design acceptance_criteria notes spec_id status priority issue_type "
    "assignee owner estimated_minutes created_at created_by updated_at started_at closed_at "
    "close_reason closed_by_session due_at defer_until external_ref source_system metadata "
    "compaction_level compacted_at compacted_at_commit original_size labels dependencies "
    "comments sender ephemeral no_history wisp_type pinned is_template bonded_from await_type "
    "await_id timeout waiters source_formula source_location mol_type work_type event_kind "
    "actor target payload"
)
ISSUE_FIELDS = tuple(_BD_FIELDS.split())
"""bd's issue fields in the order `bd export` writes them, between `_type` and the counts."""
ALWAYS = frozenset({"id", "title", "status", "priority", "issue_type", "created_at", "updated_at"})
"""Written even when empty (no `omitempty` in bd)."""
COUNTS = ("dependency_count", "dependent_count", "comment_count")
MODELED = frozenset(
    {"_type", "id", "title", "description", "status", "priority", "issue_type", "assignee"}
    | {"created_at", "created_by", "updated_at", "started_at", "closed_at", "close_reason"}
    | {"metadata", "labels", "dependencies", *COUNTS}
)
"""bd fields Gas Town keeps in its own columns (or derives); every other field goes to `extra`."""
STRUCT_ORDER = {
    "comments": ("id", "issue_id", "author", "text", "created_at"),
    "bonded_from": ("source_id", "bond_type", "bond_point"),
}
"""Key order of bd's nested records, restored on export (the store keeps JSON keys sorted)."""
DEP_ORDER = (
    "issue_id",
    "depends_on_id",
    "type",
    "created_at",
    "created_by",
    "metadata",
    "thread_id",
)
"""bd's dependency fields in order; the first five are columns of the deps table."""
DEP_FIELDS = "_dep_fields"
"""`extra` key holding per-edge bd fields the deps table has no column for, by target id."""

FROM_BD_STATUS: dict[str, tuple[BeadStatus, bool]] = {
    "open": (OPEN, False),
    "in_progress": (IN_PROGRESS, False),
    "hooked": (IN_PROGRESS, False),
    "blocked": (OPEN, True),
    "deferred": (OPEN, True),
    "pinned": (OPEN, True),
    "closed": (CLOSED, False),
    IN_REVIEW: (IN_REVIEW, False),
    FAILED: (FAILED, False),
}
"""A bd status as (Gas Town status, held). Statuses that keep bd from offering an issue as
ready work become a held open bead, so Gas Town does not dispatch it either."""
TO_BD_STATUS = {
    OPEN: "open",
    IN_PROGRESS: "in_progress",
    IN_REVIEW: "in_progress",
    CLOSED: "closed",
    FAILED: "blocked",
}
"""Gas Town status → a status every bd accepts (the exact one rides in `metadata.gastown`)."""
CONVOY_TO_BD = {
    CONVOY_OPEN: "open",
    CONVOY_LANDED: "closed",
    CONVOY_CANCELLED: "closed",
    CONVOY_FAILED: "blocked",
}
TYPE_ALIASES = {"enhancement": "feature", "feat": "feature"}
CONVOY_KIND = "convoy"
GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
"""What Go's encoder escapes that Python's leaves alone."""
GO_ZERO_TIME = "0001-01-01T00:00:00Z"
"""How Go writes a time that was never set (bd has no `omitempty` on created/updated)."""


def go_json(value: Any) -> str:
    """Compact JSON as Go's `encoding/json` writes it: UTF-8, HTML characters escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in GO_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


def go_time(value: str | None) -> str | None:
    """A stored time as Go's RFC 3339 (UTC, the fraction without trailing zeros)."""
    if not value:
        return None
    moment = parse_stamp(value)
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def empty(value: Any) -> bool:
    """Absent as far as the file goes: dropped on import, left out on export."""
    return value is None or (isinstance(value, str | list | dict) and not value)


def our_type(bd_type: str) -> str:
    """The Gas Town bead type for a bd issue type; types Gas Town lacks become `task`."""
    return bd_type if bd_type in BEAD_TYPES else TYPE_ALIASES.get(bd_type, "task")


# --- export -------------------------------------------------------------------------------


class ExportSummary(Record):
    """What `gt export --out FILE` wrote."""

    file: str
    """The file written."""
    beads: int
    """Beads written."""
    convoys: int
    """Convoys written."""

    def to_json(self) -> dict[str, Any]:
        """The summary as `gt export --json` prints it."""
        return {"file": self.file, "beads": self.beads, "convoys": self.convoys}


def export_text(ledger: Ledger) -> tuple[str, int, int]:
    """The whole town as beads JSONL, with how many beads and convoys it holds."""
    with ledger.store.reader() as tx:
        beads = tx.list_beads()
        convoys = {c.id: c for c in tx.list_convoys()}
    dependents = Counter(d.depends_on_id for b in beads for d in b.dependencies)
    dependents.update(b.convoy_id for b in beads if b.convoy_id in convoys)
    lines = [(b.id, bead_line(b, dependents[b.id], convoys.get(b.convoy_id or ""))) for b in beads]
    lines += [(c.id, convoy_line(c, dependents[c.id])) for c in convoys.values()]
    lines.sort(key=lambda pair: pair[0])
    return "".join(line + "\n" for _, line in lines), len(beads), len(convoys)


def export_file(ledger: Ledger, path: Path, shown: str) -> ExportSummary:
    """Write the export to `path` atomically: a reader sees the old file or the new, whole."""
    text, n_beads, n_convoys = export_text(ledger)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # os.open, not mkstemp: the file gets the usual mode (0666 less the umask), not 0600.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"Cannot write {shown}: {exc.strerror or exc}.") from None
    return ExportSummary(shown, n_beads, n_convoys)


def bead_line(bead: Bead, dependent_count: int, convoy: Convoy | None) -> str:
    """One bead as a bd issue line."""
    extra = bead.extra
    values = {k: v for k, v in extra.items() if k not in MODELED and k != DEP_FIELDS}
    original = extra.get("status")
    status = TO_BD_STATUS[bead.status]
    if original in FROM_BD_STATUS and FROM_BD_STATUS[original] == (bead.status, bead.held):
        status = original
    kind = extra.get("issue_type")
    # Status and hold ride in metadata only where bd's status does not already say them.
    implied_status, implied_held = FROM_BD_STATUS[status]
    gastown = {
        "convoy_id": bead.convoy_id,
        "held": bead.held if bead.held != implied_held else None,
        "model": bead.model,
        "rig": bead.rig,
        "runtime": bead.runtime,
        "slung": bead.slung or None,
        "status": bead.status if bead.status != implied_status else None,
    }
    per_edge = extra.get(DEP_FIELDS, {})
    deps = [
        {
            "issue_id": bead.id,
            "depends_on_id": d.depends_on_id,
            "type": d.type,
            "created_at": go_time(d.created_at),
            "created_by": d.created_by,
            **per_edge.get(d.depends_on_id, {}),
        }
        for d in bead.dependencies
    ]
    if convoy is not None:
        deps.append(
            {
                "issue_id": bead.id,
                "depends_on_id": convoy.id,
                "type": PARENT_CHILD,
                "created_at": go_time(bead.created_at),
                "created_by": convoy.created_by,
            }
        )
    deps.sort(key=lambda d: str(d["depends_on_id"]))
    values.update(
        id=bead.id,
        title=bead.title,
        description=bead.body,
        status=status,
        priority=bead.priority,
        issue_type=kind if isinstance(kind, str) and our_type(kind) == bead.type else bead.type,
        assignee=bead.assignee,
        created_at=go_time(bead.created_at) or GO_ZERO_TIME,
        created_by=bead.created_by,
        updated_at=go_time(bead.updated_at) or GO_ZERO_TIME,
        started_at=go_time(bead.started_at),
        closed_at=go_time(bead.closed_at),
        close_reason=bead.close_reason,
        metadata=_metadata(extra.get("metadata"), gastown),
        labels=sorted(bead.labels),
        dependencies=[{k: d[k] for k in (*DEP_ORDER, *d) if not empty(d.get(k))} for d in deps],
    )
    comments = extra.get("comments")
    return _line(values, (len(deps), dependent_count, len(comments) if comments else 0))


def convoy_line(convoy: Convoy, members: int) -> str:
    """A convoy as a bd epic line; its beads point at it with `parent-child` edges."""
    gastown = {
        "kind": CONVOY_KIND,
        "landed_at": go_time(convoy.landed_at),
        "cancelled_at": go_time(convoy.cancelled_at),
        "merge_mode": convoy.merge_mode,
        "rig": convoy.rig,
        "staged": convoy.staged,
        "status": convoy.status,
    }
    values = {
        "id": convoy.id,
        "title": convoy.title,
        "status": CONVOY_TO_BD[convoy.status],
        "priority": DEFAULT_PRIORITY,
        "issue_type": "epic",
        "created_at": go_time(convoy.created_at) or GO_ZERO_TIME,
        "created_by": convoy.created_by,
        "updated_at": go_time(convoy.updated_at) or GO_ZERO_TIME,
        "closed_at": go_time(
            {CONVOY_LANDED: convoy.landed_at, CONVOY_CANCELLED: convoy.cancelled_at}.get(
                convoy.status
            )
        ),
        "close_reason": convoy.close_reason,
        "metadata": _metadata(None, gastown),
    }
    return _line(values, (0, members, 0))


def _metadata(kept: Any, gastown: dict[str, Any]) -> dict[str, Any]:
    meta = dict(kept) if isinstance(kept, dict) else {}
    ours = {k: v for k, v in gastown.items() if v is not None}
    if ours:
        meta["gastown"] = ours
    return dict(sorted(meta.items()))


def _line(values: dict[str, Any], counts: tuple[int, int, int]) -> str:
    out: dict[str, Any] = {"_type": "issue"}
    for key in ISSUE_FIELDS:
        value = values.pop(key, None)
        if key in ALWAYS or not empty(value):
            order = STRUCT_ORDER.get(key)
            if order is not None and isinstance(value, list):
                value = [_reorder(item, order) for item in value]
            out[key] = value
    # Fields this bd version does not know, kept from an import: after the known ones.
    out.update((k, values[k]) for k in sorted(values) if not empty(values[k]))
    out.update(zip(COUNTS, counts, strict=True))
    return go_json(out)


def _reorder(item: Any, order: tuple[str, ...]) -> Any:
    if not isinstance(item, dict):
        return item
    return {k: item[k] for k in (*order, *item) if k in item}


# --- import -------------------------------------------------------------------------------

PROGRESS_AT = 1000
"""Files with at least this many records report progress."""

Progress = Callable[[str], None]


class ImportSummary(Record):
    """What `gt import` did (or, with --dry-run, would do), counted by record."""

    file: str
    """The file read."""
    dry_run: bool = False
    """Nothing was written: the counts say what an import would do."""
    created: int = 0
    """Records new to the town."""
    updated: int = 0
    """Records the file had newer than the town."""
    unchanged: int = 0
    """Records the town already had as the file has them."""
    stale: int = 0
    """Lines older than the town's copy (or than a later line for the same id): skipped."""
    skipped: int = 0
    """Lines that are not issues: bd memories and tombstones."""
    stale_ids: list[str] = field(default_factory=list)
    """The ids of the stale lines."""
    missing_rigs: list[str] = field(default_factory=list)
    """Rigs the imported records name that this town does not have (yet)."""

    def to_json(self) -> dict[str, Any]:
        """The summary as `gt import --json` prints it."""
        return {
            "file": self.file,
            "dry_run": self.dry_run,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "stale": self.stale,
            "skipped": self.skipped,
            "stale_ids": self.stale_ids,
            "missing_rigs": self.missing_rigs,
        }


def import_file(
    ledger: Ledger, path: Path, shown: str, dry_run: bool = False, progress: Progress | None = None
) -> ImportSummary:
    """Read and check every line of a beads JSONL file, then upsert it all in one transaction.

    `shown` names the file in messages and events; `progress` hears about large files.
    """
    from gastown.services import interop_apply, interop_read

    summary = ImportSummary(shown, dry_run)
    records = interop_read.read(path, shown, summary, progress)
    opener = ledger.store.reader if dry_run else ledger.store.transaction
    with opener() as tx:
        plan = interop_apply.plan(tx, records, summary, ledger.now())
        if progress is not None and len(records) >= PROGRESS_AT:
            progress(f"Checked {len(records):,} records against the town.")
        if not dry_run:
            interop_apply.write(ledger, tx, plan, f"imported from {shown}")
    return summary
