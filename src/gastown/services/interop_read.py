"""Reading a beads JSONL file: every line parsed and checked before anything is written.

Each issue line becomes the `Bead` or `Convoy` it describes. bd's own rules apply (title 1–500
characters, priority 0–4 with a missing one read as 0, `closed_at` only when closed, RFC 3339
times), and the first line that breaks one stops the import with its line number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from gastown.clock import parse_stamp, stamp
from gastown.config import RUNTIMES
from gastown.errors import ImportFormatError, InvalidValue
from gastown.ids import valid_id
from gastown.limits import bad_character
from gastown.limits import shown as quoted
from gastown.model import (
    BEAD_STATUSES,
    BLOCKS,
    CLOSED,
    CONVOY_CANCELLED,
    CONVOY_LANDED,
    CONVOY_OPEN,
    CONVOY_STATUSES,
    MERGE_MODES,
    OPEN,
    PRIORITIES,
    REVIEW_THEN_LAND,
    Bead,
    Convoy,
    Dependency,
)
from gastown.record import Record
from gastown.services import beads
from gastown.services.beads import MAX_LABEL, MAX_TITLE
from gastown.services.interop import (
    CONVOY_KIND,
    DEP_FIELDS,
    DEP_ORDER,
    FROM_BD_STATUS,
    MODELED,
    PROGRESS_AT,
    TO_BD_STATUS,
    ImportSummary,
    Progress,
    empty,
    our_type,
)

RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")
MAX_DEP_TYPE = 50
NOT_AN_ID = "which is not an id (letters, digits, - and _, in parts joined by dots)"

Choice = TypeVar("Choice", bound=str)
"""One of a closed set of words (a bead status, a convoy status)."""


class Incoming(Record):
    """One issue line, checked, as the record it becomes."""

    line: int
    """Its line number in the file."""
    record: Bead | Convoy
    """The bead or convoy it becomes."""
    ours: bool = False
    """The line carries `metadata.gastown`: Gas Town wrote it, so all of its fields are there."""


class Line:
    """One line of the file, for checks whose errors name it."""

    def __init__(self, number: int, shown: str, doc: dict[str, Any]) -> None:
        self.number = number
        self.shown = shown
        self.doc = doc
        self.id = ""

    def fail(self, problem: str) -> NoReturn:
        """Refuse the import: this line has `problem` (words that follow its name)."""
        which = f" ({self.id})" if self.id else ""
        raise ImportFormatError(f"Line {self.number} of {self.shown}{which} {problem}.")

    def text(self, key: str, doc: dict[str, Any] | None = None) -> str | None:
        """The string under `key` (in `doc`, else the line), None when absent or empty;
        anything but a string is refused."""
        value = (self.doc if doc is None else doc).get(key)
        if value is None or isinstance(value, str):
            return value or None
        self.fail(f"has a {key} that is not a string")

    def time(self, key: str, doc: dict[str, Any] | None = None) -> str | None:
        """An RFC 3339 time, stored as the town stores times (UTC, microseconds)."""
        value = self.text(key, doc)
        if value is None:
            return None
        try:
            if RFC3339.fullmatch(value):
                return stamp(parse_stamp(value.upper()))
        except ValueError:
            pass
        self.fail(f"has {key} '{value}', which is not an RFC 3339 time")

    def flag(self, key: str, doc: dict[str, Any]) -> bool:
        """The true or false under `key` in `doc` (false when absent); anything else is refused."""
        value = doc.get(key, False)
        if isinstance(value, bool):
            return value
        self.fail(f"has a {key} that is not true or false")

    def choice(self, key: str, value: Any, allowed: Sequence[Choice]) -> Choice:
        """`value` as the one of `allowed` it is; anything else is refused."""
        for one in allowed:
            if one == value:
                return one
        self.fail(f"has {key} '{value}', which is not one of {', '.join(allowed)}")


def read(
    path: Path, shown: str, summary: ImportSummary, progress: Progress | None = None
) -> list[Incoming]:
    """Every issue line of the file, parsed and checked; the first bad line stops it all."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFormatError(f"Cannot read {shown}: {exc.strerror or exc}.") from None
    lines: list[Line] = []
    for number, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            doc = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ImportFormatError(f"Line {number} of {shown} is not UTF-8 text.") from None
        except json.JSONDecodeError as exc:
            raise ImportFormatError(
                f"Line {number} of {shown} is not valid JSON: {exc.msg} (column {exc.colno})."
            ) from None
        except ValueError:  # a number of more digits than Python reads
            raise ImportFormatError(f"Line {number} of {shown} has a number too long.") from None
        if not isinstance(doc, dict):
            raise ImportFormatError(f"Line {number} of {shown} is not a JSON object.")
        if b"\\u0000" in raw and _has_nul(doc):  # neither database keeps a NUL in text
            raise ImportFormatError(f"Line {number} of {shown} has a NUL character in a string.")
        lines.append(Line(number, shown, doc))
    if progress is not None and len(lines) >= PROGRESS_AT:
        progress(f"Read {len(lines):,} lines of {shown}; checking them.")
    records: list[Incoming] = []
    for line in lines:
        record = decode(line)
        if record is None:
            summary.skipped += 1
        else:
            records.append(record)
    return records


def decode(ln: Line) -> Incoming | None:
    """The record one line describes, checked; None for a line that is not an issue."""
    doc = ln.doc
    if doc.get("_type") == "memory" or doc.get("status") == "tombstone":
        return None
    record_id = doc.get("id")
    if not isinstance(record_id, str) or not record_id or any(c.isspace() for c in record_id):
        ln.fail("has no usable id")
    if not valid_id(record_id):
        ln.fail(f"has id '{quoted(record_id)}', {NOT_AN_ID}")
    ln.id = record_id
    title = ln.text("title") or ""
    if not title.strip():
        ln.fail("has no title")
    if len(title) > MAX_TITLE:
        ln.fail(f"has a title longer than {MAX_TITLE} characters")
    if bad := bad_character(title):
        ln.fail(f"has a title with a control character ({bad})")
    meta = doc.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        ln.fail("has metadata that is not a JSON object")
    meta = dict(meta or {})
    gastown = meta.pop("gastown", None)
    if gastown is not None and not isinstance(gastown, dict):
        ln.fail("has metadata.gastown that is not a JSON object")
    ours, gastown = gastown is not None, gastown or {}
    created, updated = ln.time("created_at"), ln.time("updated_at")
    created, updated = created or updated or "", updated or created or ""
    if gastown.get("kind") == CONVOY_KIND:
        return Incoming(ln.number, _convoy(ln, gastown, title, created, updated), True)

    bd_status = ln.text("status") or OPEN
    if bd_status not in FROM_BD_STATUS:
        ln.fail(f"has status '{bd_status}', which Gas Town does not know")
    status, held = FROM_BD_STATUS[bd_status]
    if ours:
        kept = ln.choice("metadata.gastown.status", gastown.get("status", status), BEAD_STATUSES)
        # Gas Town's status stands while bd leaves the status as Gas Town wrote it; once a bd
        # user moves the issue on, bd's word wins (and a status bd holds for still holds).
        moved = TO_BD_STATUS[kept] != bd_status
        status = status if moved else kept
        if "held" in gastown and not (moved and held):
            held = ln.flag("held", gastown)
    closed_at = ln.time("closed_at")
    if closed_at and status != CLOSED:
        ln.fail(f"has a closed_at but its status is {status}")
    priority = doc.get("priority", 0)  # bd reads a missing priority as 0, as Go does
    if isinstance(priority, bool) or not isinstance(priority, int) or priority not in PRIORITIES:
        ln.fail(f"has priority {json.dumps(priority)}, but a priority is 0 to 4")
    bd_type = ln.text("issue_type") or "task"
    extra = {k: v for k, v in doc.items() if k not in MODELED and not empty(v)}
    if extra.pop("wisp", None) is True:  # the classic name of `ephemeral`
        extra["ephemeral"] = True
    minutes = extra.get("estimated_minutes")
    if minutes is not None and (not isinstance(minutes, int) or isinstance(minutes, bool)):
        ln.fail("has an estimated_minutes that is not a whole number")
    if isinstance(minutes, int) and minutes < 0:
        ln.fail("has a negative estimated_minutes")
    if extra.get("ephemeral") is True and extra.get("no_history") is True:
        ln.fail("is both ephemeral and no_history")
    # The bd status and type Gas Town has no word for are kept, to be written back.
    if bd_status not in BEAD_STATUSES and FROM_BD_STATUS[bd_status] == (status, held):
        extra["status"] = bd_status
    if our_type(bd_type) != bd_type:
        extra["issue_type"] = bd_type
    if meta:
        extra["metadata"] = meta
    runtime = gastown.get("runtime")
    model = ln.text("model", gastown)
    try:
        beads.model(model)
    except InvalidValue as exc:
        ln.fail("has a model that breaks a rule: " + exc.message.rstrip("."))
    body = ln.text("description") or ""
    try:
        beads.body(body)
    except InvalidValue as exc:
        ln.fail("has a description that breaks a rule: " + exc.message.rstrip("."))
    convoy_id = ln.text("convoy_id", gastown)
    if convoy_id is not None and not valid_id(convoy_id):
        ln.fail(f"names convoy '{quoted(convoy_id)}', {NOT_AN_ID}")
    bead = Bead(
        id=record_id,
        title=title,
        body=body,
        type=our_type(bd_type),
        priority=priority,
        status=status,
        rig=ln.text("rig", gastown),
        assignee=ln.text("assignee"),
        held=held,
        slung=ln.flag("slung", gastown),
        runtime=None if runtime is None else ln.choice("runtime", runtime, RUNTIMES),
        model=model,
        convoy_id=convoy_id,
        labels=_labels(ln),
        created_at=created,
        updated_at=updated,
        started_at=ln.time("started_at"),
        closed_at=closed_at,
        close_reason=ln.text("close_reason"),
        created_by=ln.text("created_by") or "",
        extra=extra,
    )
    _dependencies(ln, bead)
    return Incoming(ln.number, bead, ours)


def _convoy(ln: Line, gastown: dict[str, Any], title: str, created: str, updated: str) -> Convoy:
    rig = ln.text("rig", gastown)
    if not rig:
        ln.fail("is a convoy without a rig")
    status = CONVOY_LANDED if ln.text("status") == CLOSED else CONVOY_OPEN
    status = ln.choice("metadata.gastown.status", gastown.get("status", status), CONVOY_STATUSES)
    closed_at = ln.time("closed_at")
    cancelled = status == CONVOY_CANCELLED
    return Convoy(
        id=ln.id,
        title=title,
        rig=rig,
        status=status,
        staged=ln.flag("staged", gastown),
        merge_mode=ln.choice(
            "metadata.gastown.merge_mode", gastown.get("merge_mode", REVIEW_THEN_LAND), MERGE_MODES
        ),
        created_at=created,
        updated_at=updated,
        landed_at=ln.time("landed_at", gastown) or (None if cancelled else closed_at),
        cancelled_at=ln.time("cancelled_at", gastown) or (closed_at if cancelled else None),
        close_reason=ln.text("close_reason"),
        created_by=ln.text("created_by") or "",
    )


def _labels(ln: Line) -> list[str]:
    raw = ln.doc.get("labels") or []
    if not isinstance(raw, list) or not all(isinstance(x, str) and x.strip() for x in raw):
        ln.fail("has labels that are not a list of non-empty strings")
    for label in raw:
        if len(label) > MAX_LABEL or bad_character(label):
            ln.fail(f"has a label longer than {MAX_LABEL} characters or with a control character")
    return sorted({x.strip() for x in raw})


def _has_nul(value: Any) -> bool:
    """Whether a NUL is in any string (or key) of a parsed JSON value."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _dependencies(ln: Line, bead: Bead) -> None:
    raw = ln.doc.get("dependencies") or []
    if not isinstance(raw, list):
        ln.fail("has dependencies that are not a list")
    per_edge: dict[str, dict[str, Any]] = {}
    for item in raw:
        if not isinstance(item, dict):
            ln.fail("has a dependency that is not a JSON object")
        target = ln.text("depends_on_id", item)
        kind = ln.text("type", item) or BLOCKS
        if not target:
            ln.fail("has a dependency without a depends_on_id")
        if not valid_id(target):
            ln.fail(f"depends on '{quoted(target)}', {NOT_AN_ID}")
        if ln.text("issue_id", item) not in (None, bead.id):
            ln.fail(f"lists a dependency of {item['issue_id']}")
        if target == bead.id:
            ln.fail("depends on itself")
        if len(kind) > MAX_DEP_TYPE:
            ln.fail(f"has a dependency type longer than {MAX_DEP_TYPE} characters")
        if any(d.depends_on_id == target for d in bead.dependencies):
            continue  # one edge per pair, as in bd; the first wins
        when = ln.time("created_at", item) or bead.created_at
        bead.dependencies.append(
            Dependency(bead.id, target, kind, when, ln.text("created_by", item) or "")
        )
        rest = {k: v for k, v in item.items() if k not in DEP_ORDER[:5] and not empty(v)}
        if rest:
            per_edge[target] = rest
    bead.dependencies.sort(key=lambda d: d.depends_on_id)
    if per_edge:
        bead.extra[DEP_FIELDS] = per_edge
