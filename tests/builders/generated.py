"""A random town, the same for a seed: beads of every status with awkward titles, edges and
convoys, for tests that compare the store's projections with plain Python."""

from __future__ import annotations

import random

from gastown.model import BEAD_STATUSES, Bead, Convoy, Dependency
from gastown.store import Store


def random_town(seed: int, n: int = 300) -> tuple[list[Bead], list[Dependency], list[Convoy]]:
    """`n` beads, their edges and two convoys, the same for the same `seed`."""
    rng = random.Random(seed)
    convoys = [
        Convoy(
            id="gt-cv-staged",
            title="Staged",
            rig="app",
            staged=True,
            created_at="2026-01-01T00:00:00.000000Z",
            updated_at="2026-01-01T00:00:00.000000Z",
        ),
        Convoy(
            id="gt-cv-live",
            title="Live",
            rig="app",
            created_at="2026-01-01T00:00:00.000000Z",
            updated_at="2026-01-01T00:00:00.000000Z",
        ),
    ]
    beads = []
    for i in range(n):
        status = rng.choice([*BEAD_STATUSES, "open", "open", "closed"])
        at = f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}.{rng.randrange(10**6):06d}Z"
        beads.append(
            Bead(
                id=f"gt-{i:05d}",
                title=rng.choice(
                    [
                        "Plain",
                        'Quote " and \\ slash',
                        "Ünïcode ✓",
                        "<script>alert(1)</script>",
                        "tab\there",
                    ]
                ),
                body=rng.choice(["", "line one\nline two", "x" * 300]),
                type=rng.choice(["task", "bug", "epic"]),
                priority=rng.randrange(5),
                status=status,
                rig=rng.choice(["app", "web", None]),
                assignee=rng.choice([None, "nux"]),
                held=rng.random() < 0.1,
                slung=rng.random() < 0.5,
                runtime=rng.choice([None, "claude"]),
                convoy_id=rng.choice([None, None, None, "gt-cv-staged", "gt-cv-live"]),
                labels=sorted(rng.sample(["a", "b", "c", "d"], rng.randrange(3))),
                created_at=at,
                updated_at=at,
                created_by="tester",
                closed_at=at if status == "closed" else None,
                close_reason="done" if status == "closed" else None,
            )
        )
    deps: dict[tuple[str, str], Dependency] = {}
    for i in range(1, n):
        for _ in range(rng.randrange(3)):
            j = rng.randrange(i)  # only to older beads: acyclic
            kind = rng.choice(["blocks", "blocks", "parent-child", "related"])
            deps[(beads[i].id, beads[j].id)] = Dependency(
                beads[i].id, beads[j].id, kind, beads[i].created_at, "tester"
            )
    deps[(beads[-1].id, "gt-elsewhere")] = Dependency(
        beads[-1].id, "gt-elsewhere", "blocks", beads[-1].created_at, "tester"
    )
    return beads, list(deps.values()), convoys


def write_town(
    store: Store, beads: list[Bead], deps: list[Dependency], convoys: list[Convoy]
) -> None:
    """Write the town made by `random_town` into `store`, in one transaction."""
    with store.transaction() as tx:
        for c in convoys:
            tx.insert_convoy(c)
        tx.insert_beads(beads)
        tx.insert_deps(deps)
