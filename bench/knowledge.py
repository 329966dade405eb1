"""Section 14: choosing the notes a polecat's prompt carries, from a town of 10,000 notes.

A SQLite town is given `n` accepted notes (seeded sentences over a vocabulary of code words,
a tenth of them about one rig), then, in one process and taking turns:

- the notes for a bead (`services.knowledge.choose`: the database's full-text search for the
  bead's words, then the newest, fitted to `knowledge.prompt_budget_tokens`) — the goal, ≤ 20
  ms median;
- reading the same number of rows by id, the floor of any query that returns notes.

Then the prompt with the notes against the prompt without them, in characters and estimated
tokens: the notes add at most the budget (2,000 tokens by default).
"""

from __future__ import annotations

import random
from pathlib import Path

import timing
from gastown.knowledge import Note, section, tokens
from gastown.model import Bead
from gastown.polecat.prompt import PromptContext, render
from gastown.services import knowledge
from gastown.store import knowledge as q
from gastown.store import open_store

GOAL_MS = 20
BUDGET = 2000
_VOCABULARY = (
    "api parser cache tests fixtures migration schema vendor dataclasses pydantic lint "
    "format docs release branch deploy queue worker retry timeout logging config secrets "
    "database index query handler router template dashboard session token build docker"
)
WORDS = _VOCABULARY.split()


def bench(root: Path, n: int, runs: int, rng: random.Random) -> list[str]:
    store = open_store("sqlite:///knowledge.db", root)
    try:
        with store.transaction() as tx:
            tx.db.execute(
                "INSERT INTO rigs (name, url, branch, path, created_at, settings) "
                "VALUES ('app', 'u', 'trunk', 'rigs/app', '2026-01-01T00:00:00Z', '{}')"
            )
            at = "2026-01-01T00:00:00Z"
            for i in range(n):
                words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 24)))
                text = f"Note {i}: the {words} must be kept as the team agreed."
                rig = "app" if i % 10 == 0 else None
                q.insert(tx, Note(0, text, rig, "person", "bench", "accepted", at, at))
        title = "Make the parser retry on a timeout"
        body = "The parser times out on large fixtures; add a retry with logging, and tests."
        bead = Bead(id="gt-bench", title=title, body=body, created_by="bench")
        with store.reader() as tx:
            chosen = knowledge.choose(tx, "app", BUDGET, title, body)
            ids = [note.id for note in chosen]
            marks = ", ".join("?" for _ in ids)

            def by_id() -> object:
                return tx.db.execute(
                    f"SELECT {q.COLUMNS} FROM knowledge WHERE id IN ({marks})", ids
                ).fetchall()

            times = timing.alternating(
                {
                    "choose": lambda: knowledge.choose(tx, "app", BUDGET, title, body),
                    "by id": by_id,
                },
                runs,
            )
    finally:
        store.close()
    choose_ms, floor_ms = (timing.median_ms(t) for t in times.values())
    ctx = PromptContext(bead=bead, polecat="alder", rig="app", branch="gt/alder/gt-bench")
    without = render(ctx)
    ctx.knowledge = section(chosen)
    with_notes = render(ctx)
    added = tokens(with_notes) - tokens(without)
    notes_tokens = tokens(section(chosen))  # what the budget caps; the heading comes on top
    print(f"\n14. Notes for a polecat's prompt from {n:,} notes (SQLite FTS5), medians of {runs}")
    print(f"  choose the notes for a bead ({len(chosen)} chosen)  {choose_ms:8.2f} ms")
    print(f"  read as many notes by id                  {floor_ms:8.2f} ms")
    print(
        f"  prompt without notes {len(without):,} chars (~{tokens(without):,} tokens), "
        f"with notes {len(with_notes):,} chars (~{tokens(with_notes):,} tokens)"
    )
    met = "met" if choose_ms <= GOAL_MS else "MISSED"
    capped = "met" if notes_tokens <= BUDGET else "MISSED"
    return [
        f"ratio notes chosen / read by id: {choose_ms / floor_ms:.1f}×; median {choose_ms:.2f} "
        f"ms from {n:,} notes (goal ≤ {GOAL_MS} ms: {met})",
        f"ratio prompt with notes / without: {len(with_notes) / len(without):.2f}×; the notes "
        f"add ~{notes_tokens:,} tokens, ~{added:,} with their heading (goal ≤ {BUDGET:,}: "
        f"{capped})",
    ]


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for line in bench(Path(tmp), 10_000, 30, random.Random(1)):
            print("  " + line)
