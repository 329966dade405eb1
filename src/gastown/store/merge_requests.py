"""The shared SQL for merge requests: the refinery's queue and its record of each step.

`MergeRequestQueries` is a mixin of `Tx`. Gate results, the review and what following a pull
request has seen are JSON text columns, read back into plain lists and dicts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gastown.model import MergeRequest
from gastown.store.rows import marks

if TYPE_CHECKING:
    from gastown.store.sql import Executor

MR_FIELDS = MergeRequest.__fields__
MR_COLUMNS = ", ".join(MR_FIELDS)
_JSON = {name: MR_FIELDS.index(name) for name in ("gates", "review", "pr_state")}
_MUTABLE = tuple(
    name for name in MR_FIELDS if name not in ("id", "kind", "rig", "created_at", "run_id")
)


def mr_of(row: Sequence[Any]) -> MergeRequest:
    """The merge request a row of `MR_COLUMNS` holds, its JSON columns read back."""
    values = list(row)
    for index in _JSON.values():
        values[index] = None if values[index] is None else json.loads(values[index])
    return MergeRequest(*values)


def _params(mr: MergeRequest, names: Sequence[str]) -> list[Any]:
    out = []
    for name in names:
        value = getattr(mr, name)
        out.append(
            json.dumps(value, sort_keys=True) if name in _JSON and value is not None else value
        )
    return out


class MergeRequestQueries:
    """Merge requests: insert, read, and write back what a refinery step changed."""

    db: Executor

    def insert_merge_request(self, mr: MergeRequest) -> None:
        """Queue a new merge request."""
        self.db.execute(
            f"INSERT INTO merge_requests ({MR_COLUMNS}) VALUES ({marks(MR_FIELDS)})",
            _params(mr, MR_FIELDS),
        )

    def update_merge_request(self, mr: MergeRequest) -> None:
        """Write back every field a refinery step may change (its id names it)."""
        sets = ", ".join(f"{name} = ?" for name in _MUTABLE)
        self.db.execute(
            f"UPDATE merge_requests SET {sets} WHERE id = ?", [*_params(mr, _MUTABLE), mr.id]
        )

    def get_merge_request(self, mr_id: str, *, lock: bool = False) -> MergeRequest | None:
        """One merge request; `lock` holds its row until commit."""
        row = self.db.execute(
            f"SELECT {MR_COLUMNS} FROM merge_requests WHERE id = ?"
            f"{self.db.lock_clause if lock else ''}",
            (mr_id,),
        ).fetchone()
        return None if row is None else mr_of(row)

    def find_merge_requests(self, prefix: str) -> list[str]:
        """Ids of merge requests starting with `prefix` (for short ids typed by people)."""
        rows = self.db.execute(
            "SELECT id FROM merge_requests WHERE id LIKE ? ORDER BY id LIMIT 5",
            (prefix.replace("%", "").replace("_", "\\_") + "%",),
        ).fetchall()
        return [r[0] for r in rows]

    def list_merge_requests(
        self,
        *,
        rig: str | None = None,
        status: str | None = None,
        statuses: Sequence[str] | None = None,
        bead_id: str | None = None,
        convoy_id: str | None = None,
        rework_bead_id: str | None = None,
        kind: str | None = None,
    ) -> list[MergeRequest]:
        """Merge requests matching every filter given, oldest first."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("rig", rig),
            ("status", status),
            ("bead_id", bead_id),
            ("convoy_id", convoy_id),
            ("rework_bead_id", rework_bead_id),
            ("kind", kind),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if statuses is not None:
            clauses.append(f"status IN ({marks(statuses)})" if statuses else "1 = 0")
            params.extend(statuses)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self.db.execute(
            f"SELECT {MR_COLUMNS} FROM merge_requests{where} ORDER BY created_at, id", params
        ).fetchall()
        return [mr_of(r) for r in rows]

    def refinery_rigs(self) -> list[str]:
        """Rigs with something for the refinery: merge requests waiting, in rework or with an
        open pull request, or a review-then-land convoy with work on its feature branch and no
        landing yet."""
        rows = self.db.execute(
            "SELECT DISTINCT rig FROM merge_requests "
            "WHERE status IN ('open', 'testing', 'rework', 'pr') "
            "UNION SELECT c.rig FROM convoys c WHERE c.status = 'open' "
            "AND c.merge_mode = 'review-then-land' AND EXISTS (SELECT 1 FROM merge_requests m "
            "WHERE m.convoy_id = c.id AND m.kind = 'bead' AND m.status = 'merged') "
            "AND NOT EXISTS (SELECT 1 FROM merge_requests m WHERE m.convoy_id = c.id "
            "AND m.kind = 'landing' AND m.status <> 'failed')"
        ).fetchall()
        return sorted(r[0] for r in rows)
