"""Numbered migrations, applied in order on open; the version reached is recorded.

Written once for both stores: `{serial}` is the only dialect difference in the DDL. Booleans
are integers and times are RFC 3339 text, so rows read back alike from SQLite and PostgreSQL.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE rigs (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    branch TEXT NOT NULL,
    path TEXT NOT NULL,
    created_at TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE convoys (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    rig TEXT NOT NULL,
    status TEXT NOT NULL,
    staged INTEGER NOT NULL DEFAULT 0,
    merge_mode TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    landed_at TEXT,
    close_reason TEXT,
    created_by TEXT NOT NULL
);
CREATE TABLE beads (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    type TEXT NOT NULL,
    priority INTEGER NOT NULL,
    status TEXT NOT NULL,
    rig TEXT,
    assignee TEXT,
    held INTEGER NOT NULL DEFAULT 0,
    slung INTEGER NOT NULL DEFAULT 0,
    runtime TEXT,
    convoy_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    started_at TEXT,
    closed_at TEXT,
    close_reason TEXT,
    created_by TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX beads_status ON beads (status, priority, created_at);
CREATE INDEX beads_rig ON beads (rig, status);
CREATE INDEX beads_convoy ON beads (convoy_id);
CREATE TABLE labels (
    bead_id TEXT NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (bead_id, label)
);
CREATE INDEX labels_label ON labels (label);
CREATE TABLE deps (
    bead_id TEXT NOT NULL,
    depends_on_id TEXT NOT NULL,
    type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (bead_id, depends_on_id)
);
CREATE INDEX deps_target ON deps (depends_on_id);
CREATE TABLE child_counters (
    parent_id TEXT PRIMARY KEY,
    last_child INTEGER NOT NULL
);
CREATE TABLE events (
    id {serial},
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    bead_id TEXT,
    convoy_id TEXT,
    rig TEXT,
    before_json TEXT,
    after_json TEXT,
    reason TEXT
);
CREATE INDEX events_bead ON events (bead_id, id);
CREATE INDEX events_convoy ON events (convoy_id, id);
""",
    ),
]

MIGRATIONS.append(
    (
        2,
        """
DROP INDEX beads_status;
CREATE INDEX beads_order ON beads (status, priority, created_at, id);
""",
    )
)
"""2: the listing order in full (with id), so ordered reads with a LIMIT stop early."""

LATEST = MIGRATIONS[-1][0]


def statements(sql: str, serial: str) -> list[str]:
    """Split one migration into statements for a dialect."""
    text = sql.replace("{serial}", serial)
    return [s.strip() for s in text.split(";") if s.strip()]
