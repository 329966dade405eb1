"""Numbered migrations, applied in order on open; the version reached is recorded.

Written once for both stores: `{serial}` is the only dialect difference in the DDL. Booleans
are integers and times are RFC 3339 text, so rows read back alike from SQLite and PostgreSQL.
Beyond these, SQLite keeps each bead's JSON in `beads.doc`, a column it adds itself and keeps
in step with the code that builds the JSON (`SqliteStore`, `projection.doc_schema`).
"""

from __future__ import annotations

from gastown.store.projection import blocked_clause

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

MIGRATIONS.append(
    (
        3,
        """
ALTER TABLE beads ADD COLUMN dispatch_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE beads ADD COLUMN not_before TEXT;
CREATE TABLE polecats (
    name TEXT PRIMARY KEY,
    rig TEXT NOT NULL,
    state TEXT NOT NULL,
    bead_id TEXT,
    run_id TEXT,
    worktree TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX polecats_rig ON polecats (rig, state);
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    bead_id TEXT NOT NULL,
    polecat TEXT NOT NULL,
    rig TEXT NOT NULL,
    runtime TEXT NOT NULL,
    branch TEXT NOT NULL,
    worktree TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL,
    pid INTEGER,
    created_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    last_heartbeat TEXT,
    exit_code INTEGER,
    outcome TEXT,
    tokens_in BIGINT NOT NULL DEFAULT 0,
    tokens_out BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    transcript TEXT
);
CREATE UNIQUE INDEX runs_one_active_per_bead ON runs (bead_id)
    WHERE status IN ('queued', 'starting', 'running');
CREATE UNIQUE INDEX runs_one_active_per_polecat ON runs (polecat)
    WHERE status IN ('queued', 'starting', 'running');
CREATE INDEX runs_bead ON runs (bead_id, created_at);
CREATE INDEX runs_status ON runs (status, ended_at);
CREATE TABLE escalations (
    id {serial},
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TEXT NOT NULL,
    bead_id TEXT,
    run_id TEXT,
    rig TEXT,
    acknowledged_at TEXT,
    acknowledged_by TEXT
);
CREATE INDEX escalations_open ON escalations (acknowledged_at, id);
CREATE INDEX escalations_bead ON escalations (bead_id, id);
""",
    )
)
"""3: polecats, runs and escalations; a bead's dispatch attempts and its not-before time.
The two partial unique indexes are the invariants "at most one active run per bead" and "per
polecat": the database refuses a second one, whatever the writers checked beforehand."""

MIGRATIONS.append(
    (
        4,
        """
CREATE TABLE merge_requests (
    id TEXT PRIMARY KEY,
    bead_id TEXT NOT NULL,
    run_id TEXT,
    rig TEXT NOT NULL,
    branch TEXT NOT NULL,
    target TEXT NOT NULL,
    base_commit TEXT NOT NULL,
    head_commit TEXT NOT NULL,
    status TEXT NOT NULL,
    summary TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX merge_requests_queue ON merge_requests (rig, status, created_at);
CREATE INDEX merge_requests_bead ON merge_requests (bead_id, created_at);
ALTER TABLE runs ADD COLUMN summary TEXT;
ALTER TABLE runs ADD COLUMN done_at TEXT;
""",
    )
)
"""4: merge requests (a branch handed to the refinery), and what an agent said when it called
`gt done`."""

MIGRATIONS.append(
    (
        5,
        """
ALTER TABLE runs ADD COLUMN status_text TEXT;
ALTER TABLE runs ADD COLUMN status_at TEXT;
ALTER TABLE runs ADD COLUMN checkpoint TEXT;
ALTER TABLE runs ADD COLUMN checkpoint_at TEXT;
CREATE TABLE mail (
    id {serial},
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    bead_id TEXT,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    read_at TEXT
);
CREATE INDEX mail_unread ON mail (recipient, read_at, id);
""",
    )
)
"""5: what agents say while they work (`gt status`, `gt checkpoint`, kept on the run) and the
mail between polecats, the mayor and the town."""

MIGRATIONS.append(
    (
        6,
        """
CREATE TABLE mayor_messages (
    id {serial},
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION,
    created_at TEXT NOT NULL
);
""",
    )
)
"""6: the mayor's one conversation per town: every message, with the tokens and cost of the
model reply that produced it."""

MIGRATIONS.append(
    (
        7,
        """
CREATE TABLE merge_requests_v7 (
    id TEXT PRIMARY KEY,
    bead_id TEXT,
    run_id TEXT,
    rig TEXT NOT NULL,
    branch TEXT NOT NULL,
    target TEXT NOT NULL,
    base_commit TEXT NOT NULL,
    head_commit TEXT NOT NULL,
    status TEXT NOT NULL,
    summary TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'bead',
    convoy_id TEXT,
    priority INTEGER NOT NULL DEFAULT 2,
    gates TEXT NOT NULL DEFAULT '[]',
    verdict TEXT,
    review TEXT,
    review_cycles INTEGER NOT NULL DEFAULT 0,
    reworks INTEGER NOT NULL DEFAULT 0,
    pr_url TEXT,
    pr_number INTEGER,
    pr_state TEXT NOT NULL DEFAULT '{}',
    merged_commit TEXT,
    rework_bead_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    note TEXT,
    landed_at TEXT
);
INSERT INTO merge_requests_v7 (id, bead_id, run_id, rig, branch, target, base_commit,
    head_commit, status, summary, created_at, updated_at, priority)
SELECT m.id, m.bead_id, m.run_id, m.rig, m.branch, m.target, m.base_commit, m.head_commit,
    m.status, m.summary, m.created_at, m.updated_at,
    COALESCE((SELECT b.priority FROM beads b WHERE b.id = m.bead_id), 2)
FROM merge_requests m;
DROP TABLE merge_requests;
ALTER TABLE merge_requests_v7 RENAME TO merge_requests;
CREATE INDEX merge_requests_queue ON merge_requests (rig, status, priority, created_at);
CREATE INDEX merge_requests_bead ON merge_requests (bead_id, created_at);
CREATE INDEX merge_requests_rework ON merge_requests (rework_bead_id);
CREATE INDEX merge_requests_convoy ON merge_requests (convoy_id);
""",
    )
)
"""7: the refinery's record of each merge request: gate results, review verdicts, pull
requests, rework, landing; a convoy's landing has no bead."""

MIGRATIONS.append(
    (
        8,
        """
CREATE INDEX beads_listing ON beads (priority, created_at, id);
CREATE INDEX beads_ready ON beads (status, held, priority, created_at, id, convoy_id);
CREATE INDEX beads_status_by_id ON beads (id, status);
CREATE INDEX deps_edges ON deps (bead_id, type, depends_on_id);
""",
    )
)
"""8: indexes for the listings. `beads_listing` reads a whole town in listing order without
sorting it; the ready filter (`projection.READY_CLAUSE`) finds its candidates in
`beads_ready`, each bead's edges of one type in `deps_edges` and each blocker's status in
`beads_status_by_id`, all without reading a bead's row. (SQLite prefers the last over the
primary key only once it has statistics: see `SqliteStore`.)"""

MIGRATIONS.append(
    (
        9,
        f"""
CREATE TABLE blocked (
    bead_id TEXT PRIMARY KEY
);
INSERT INTO blocked (bead_id) SELECT b.id FROM beads b WHERE {blocked_clause("b.id")};
DROP INDEX beads_ready;
CREATE INDEX beads_ready ON beads
    (status, held, priority, created_at, id, convoy_id, type, rig, title);
""",
    )
)
"""9: the beads that are blocked (`projection.blocked_clause`), kept by the transactions that
change them (`Tx.settle`), so the ready filter checks one key per candidate instead of walking
each candidate's blockers and ancestors; and `beads_ready` also holds what a line of `gt
ready` shows (`projection.BeadLine`), so listing the ready set reads no bead's row."""

MIGRATIONS.append(
    (
        10,
        f"""
DELETE FROM blocked;
INSERT INTO blocked (bead_id) SELECT b.id FROM beads b WHERE {blocked_clause("b.id")};
""",
    )
)
"""10: a bead with an unclosed child is blocked too (it is neither dispatched nor closed before
its children are): the `blocked` table is worked out again with that rule."""

MIGRATIONS.append(
    (
        11,
        """
ALTER TABLE convoys ADD COLUMN cancelled_at TEXT;
UPDATE convoys SET status = 'cancelled', cancelled_at = landed_at, landed_at = NULL
WHERE status = 'landed' AND EXISTS (
    SELECT 1 FROM beads b WHERE b.convoy_id = convoys.id AND b.status = 'closed'
    AND b.close_reason = COALESCE(convoys.close_reason, 'convoy closed')
    AND NOT EXISTS (
        SELECT 1 FROM merge_requests m WHERE m.bead_id = b.id AND m.status = 'merged'
    )
);
""",
    )
)
"""11: a convoy closed by force before its work landed is `cancelled`, not `landed`, with the
time in `cancelled_at`. Those a gt before this one force-closed are told by their beads: one
it closed with the convoy carries the convoy's close reason (or "convoy closed") and never
had a merge request merged."""

MIGRATIONS.append(
    (
        12,
        """
CREATE TABLE issue_links (
    forge TEXT NOT NULL,
    host TEXT NOT NULL,
    repo TEXT NOT NULL,
    number BIGINT NOT NULL,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    bead_id TEXT NOT NULL,
    rig TEXT NOT NULL,
    created_at TEXT NOT NULL,
    issue_updated_at TEXT NOT NULL DEFAULT '',
    issue_state TEXT NOT NULL DEFAULT 'open',
    PRIMARY KEY (forge, repo, number, kind)
);
CREATE INDEX issue_links_bead ON issue_links (bead_id);
CREATE INDEX issue_links_rig ON issue_links (rig, issue_updated_at);
""",
    )
)
"""12: the forge issue (or pull request) each bead was made from, one bead per issue
(`IssueLinkQueries`)."""

MIGRATIONS.append(
    (
        13,
        """
ALTER TABLE runs ADD COLUMN cache_read_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN model TEXT;
ALTER TABLE runs ADD COLUMN cost_known INTEGER NOT NULL DEFAULT 1;
UPDATE runs SET cost_known = 0 WHERE cost_usd = 0 AND tokens_in + tokens_out > 0;
CREATE INDEX runs_spend ON runs ((substr(COALESCE(ended_at, created_at), 1, 10)), rig,
    tokens_in, tokens_out, cache_read_tokens, cache_write_tokens, cost_usd, cost_known);
ALTER TABLE mayor_messages ADD COLUMN cache_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE mayor_messages ADD COLUMN model TEXT;
CREATE INDEX mayor_messages_spend ON mayor_messages (created_at);
CREATE TABLE spend (
    id {serial},
    at TEXT NOT NULL,
    agent TEXT NOT NULL,
    rig TEXT,
    bead_id TEXT,
    convoy_id TEXT,
    mr_id TEXT,
    runtime TEXT NOT NULL,
    model TEXT,
    tokens_in BIGINT NOT NULL DEFAULT 0,
    tokens_out BIGINT NOT NULL DEFAULT 0,
    cache_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION
);
CREATE INDEX spend_at ON spend (at);
CREATE INDEX spend_bead ON spend (bead_id);
CREATE INDEX spend_convoy ON spend (convoy_id);
""",
    )
)
"""13: what the town spends on models, for `gt costs` and budgets (`store/costs.py`). A run
keeps its cache tokens (a part of `tokens_in`), the model it ran and whether its cost is known
(a run whose runtime reported no cost, of a model the price table has no price for, is not
worth 0 USD: it is unknown; a run of an older gt with tokens and a cost of 0 is taken as such).
The mayor's messages keep their cache tokens and model; `spend` holds the model calls that are
not runs, such as the refinery reviewer's, with a cost of NULL when it is unknown.
`runs_spend` holds a run's day (`store.costs`, the same expression) with its rig and figures,
so a roll-up by day walks one index in order, with no sorting."""

MIGRATIONS.append(
    (
        14,
        """
ALTER TABLE beads ADD COLUMN model TEXT;
""",
    )
)
"""14: the model a bead was slung with (`gt sling --model`, the board's sling); NULL runs it
on the settings' model."""

MIGRATIONS.append(
    (
        15,
        """
CREATE TABLE knowledge (
    id {serial},
    text TEXT NOT NULL,
    rig TEXT,
    source TEXT NOT NULL,
    author TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    bead_id TEXT,
    run_id TEXT,
    signature TEXT,
    merged_into BIGINT
);
CREATE INDEX knowledge_listing ON knowledge (status, rig, id);
CREATE TABLE knowledge_signals (
    rig TEXT NOT NULL,
    signature TEXT NOT NULL,
    mr_id TEXT NOT NULL,
    text TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (rig, signature, mr_id)
);
-- sqlite only
CREATE VIRTUAL TABLE knowledge_fts USING fts5(text, tokenize = 'porter unicode61');
-- postgres only
CREATE INDEX knowledge_search ON knowledge USING GIN (to_tsvector('english', text));
""",
    )
)
"""15: institutional knowledge (`store/knowledge.py`): notes about a rig or the town, with
where each came from and whether it is accepted, and the review comments the refinery has
seen on each rig (`knowledge_signals`), to tell one that recurs. Full-text search is each
database's own: an FTS5 table beside the notes in SQLite (its rowid is the note's id, written
by the same statements), a GIN index on the notes' `tsvector` in PostgreSQL."""

MIGRATIONS.append(
    (
        16,
        """
ALTER TABLE runs ADD COLUMN queue TEXT;
ALTER TABLE runs ADD COLUMN host TEXT;
CREATE TABLE hosts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    hostname TEXT NOT NULL,
    pid INTEGER NOT NULL,
    slots INTEGER NOT NULL DEFAULT 0,
    labels TEXT NOT NULL DEFAULT '[]',
    draining INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);
CREATE INDEX runs_host ON runs (host) WHERE host IS NOT NULL;
""",
    )
)
"""16: many hosts. A run waiting for a `gt worker` names its job queue, and the worker that
took it names itself (`host`). `hosts` lists the town processes (the leader and its
standbys) and the workers of a PostgreSQL town, each with its heartbeat, for `gt status` and
for placement."""

MIGRATIONS.append(
    (
        17,
        """
CREATE TABLE transcript_chunks (
    run_id TEXT NOT NULL,
    start BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, start)
);
""",
    )
)
"""17: runs' transcripts, shipped in batches by the host running each agent, for the hosts
that do not have its file (`store/transcripts.py`): complete lines, each chunk keyed by the byte
offset in the file where it began, so the ledger is read with the file's offsets."""

LATEST = MIGRATIONS[-1][0]
"""The newest version; migrations are numbered 1, 2, 3… in the order they apply."""


def statements(sql: str, serial: str) -> list[str]:
    """Split one migration into statements for a dialect. A statement led by the line
    `-- sqlite only` or `-- postgres only` is kept for that dialect alone (full-text search
    is each database's own)."""
    text = sql.replace("{serial}", serial)
    mine = "-- postgres only" if serial.startswith("BIGSERIAL") else "-- sqlite only"
    kept = []
    for statement in text.split(";"):
        part = statement.strip()
        if part.startswith(mine):
            part = part.removeprefix(mine).strip()
        elif part.startswith(("-- sqlite only", "-- postgres only")):
            continue  # the other dialect's
        if part:
            kept.append(part)
    return kept
