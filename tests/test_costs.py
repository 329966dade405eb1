"""Costs: what the town spends on models, rolled up by bead, convoy, rig, agent, runtime, model
and day, on SQLite and PostgreSQL alike; unknown costs counted apart, never as 0 USD; the
mayor's and the reviewer's spend as their own rows; and `gt costs` refusing bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gastown.errors import InvalidValue, NotFound
from gastown.model import FAILED, SUCCEEDED, Rig
from gastown.services import costs
from gastown.store import Store, open_store
from gastown.store.mayor import MayorMessage
from tests.builders import bead, convoy
from tests.builders.spend import DAY1, DAY2, run
from tests.conftest import Gt


def given_spend(store: Store) -> None:
    """Two rigs; a convoy of two beads on app; four runs (one of unknown cost), two mayor
    replies (one of an unpriced model) and one review."""
    with store.transaction() as tx:
        tx.insert_rig(Rig("app", "file:///srv/app.git", "trunk", "rigs/app", DAY1))
        tx.insert_rig(Rig("web", "file:///srv/web.git", "trunk", "rigs/web", DAY1))
        tx.insert_convoy(convoy("gt-c1"))
        tx.insert_beads(
            [
                bead("gt-a", rig="app", convoy_id="gt-c1"),
                bead("gt-b", rig="app", convoy_id="gt-c1"),
                bead("gt-w", rig="web"),
            ]
        )
        tx.insert_run(
            run(
                "r1",
                "gt-a",
                tokens_in=1000,
                tokens_out=100,
                cost_usd=0.5,
                cache_read_tokens=600,
                cache_write_tokens=100,
                model="sonnet",
            )
        )
        tx.insert_run(
            run(
                "r2",
                "gt-a",
                tokens_in=500,
                tokens_out=50,
                cost_usd=0.25,
                status=FAILED,
                attempt=2,
                polecat="birch",
                ended_at=DAY2,
                model="sonnet",
            )
        )
        tx.insert_run(
            run(
                "r3",
                "gt-b",
                tokens_in=300,
                tokens_out=30,
                cost_known=False,
                runtime="codex",
                polecat="birch",
                model="gpt-x",
            )
        )
        tx.insert_run(
            run(
                "r4",
                "gt-w",
                rig="web",
                tokens_in=10,
                tokens_out=1,
                cost_usd=1.0,
                polecat="cedar",
                ended_at=DAY2,
                runtime="scripted",
            )
        )
        tx.insert_mayor_message(MayorMessage(0, "user", "hello", created_at=DAY1))
        tx.insert_mayor_message(
            MayorMessage(
                0, "assistant", "hi", 200, 20, 0.01, DAY1, cache_tokens=50, model="claude-haiku-4-5"
            )
        )
        tx.insert_mayor_message(
            MayorMessage(0, "assistant", "yes", 100, 10, None, DAY2, model="mystery")
        )
        costs.record(
            tx,
            costs.SpendRow(
                DAY2,
                "reviewer",
                "claude",
                rig="app",
                bead_id="gt-b",
                convoy_id="gt-c1",
                mr_id="mr-1",
                model="sonnet",
                tokens_in=400,
                tokens_out=40,
                cost_usd=0.125,
            ),
        )


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    given_spend(opened)
    try:
        yield opened
    finally:
        opened.close()


def rows(store: Store, by: str | None, **filters: Any) -> dict[str | None, dict[str, Any]]:
    with store.reader() as tx:
        found = costs.rollup(tx, by, **filters)
    return {r.key: {k: v for k, v in r.to_json().items() if k != "key"} for r in found}


def figures(
    calls: int, tin: int, tout: int, cache: int, usd: float, unk: int = 0, unkt: int = 0
) -> dict[str, Any]:
    return {
        "calls": calls,
        "tokens_in": tin,
        "tokens_out": tout,
        "tokens_cache": cache,
        "usd": pytest.approx(usd),
        "unknown": unk,
        "unknown_tokens": unkt,
    }


def test_everything_together_counts_unknown_costs_apart(store: Store) -> None:
    """Given runs, mayor replies and a review, when all is rolled up, then the known USD is
    summed and the run of unknown cost and the unpriced mayor reply are counted apart with
    their tokens, not as 0 USD."""
    assert rows(store, None) == {
        "": figures(7, 2510, 251, 750, 1.885, unk=2, unkt=330 + 110),
    }


def test_by_bead_convoy_and_rig(store: Store) -> None:
    """The mayor is its own row wherever its spend has no bead, convoy or rig; the review of
    gt-b counts to gt-b, its convoy and its rig."""
    assert rows(store, "bead") == {
        "gt-a": figures(2, 1500, 150, 700, 0.75),
        "gt-b": figures(2, 700, 70, 0, 0.125, unk=1, unkt=330),
        "gt-w": figures(1, 10, 1, 0, 1.0),
        "mayor": figures(2, 300, 30, 50, 0.01, unk=1, unkt=110),
    }
    by_convoy = rows(store, "convoy")
    assert by_convoy["gt-c1"] == figures(4, 2200, 220, 700, 0.875, unk=1, unkt=330)
    assert by_convoy[None] == figures(1, 10, 1, 0, 1.0)
    assert set(rows(store, "rig")) == {"app", "web", "mayor"}


def test_by_agent_runtime_model_and_day(store: Store) -> None:
    """The mayor and the reviewer are agents of their own; the mayor calls the API directly."""
    agents = rows(store, "agent")
    assert set(agents) == {"alder", "birch", "cedar", "mayor", "reviewer"}
    assert agents["reviewer"] == figures(1, 400, 40, 0, 0.125)
    assert agents["birch"] == figures(2, 800, 80, 0, 0.25, unk=1, unkt=330)
    assert set(rows(store, "runtime")) == {"claude", "codex", "scripted", "api"}
    assert rows(store, "model")["sonnet"] == figures(3, 1900, 190, 700, 0.875)
    days = rows(store, "day")
    assert list(days) == ["2026-03-01", "2026-03-02"]
    assert days["2026-03-02"] == figures(4, 1010, 101, 0, 1.375, unk=1, unkt=110)


def test_since_rig_bead_and_convoy_filters(store: Store) -> None:
    """A rig, bead or convoy leaves the mayor's spend out; `since` cuts by time."""
    assert rows(store, None, since="2026-03-02") == {
        "": figures(4, 1010, 101, 0, 1.375, unk=1, unkt=110),
    }
    assert set(rows(store, "bead", rig="app")) == {"gt-a", "gt-b"}
    with store.reader() as tx:
        assert costs.spent(tx, bead_id="gt-b").usd == pytest.approx(0.125)
        assert costs.spent(tx, convoy_id="gt-c1").unknown == 1
        assert costs.spent(tx, rig="web", since="2026-03-02").usd == pytest.approx(1.0)
        assert costs.spent(tx, bead_id="gt-none") == costs.Spend("")
        with pytest.raises(NotFound, match="no rig 'nope'"):
            costs.rollup(tx, "day", rig="nope")


def summed(
    store: Store, by: str | None, day: str = "2026-01-01", **filters: Any
) -> dict[str | None, dict[str, Any]]:
    """`rows` from `day` on, but from the runs themselves: a `since` a microsecond past
    midnight is no whole day, so SQLite cannot answer it from `spend_days`."""
    return rows(store, by, since=f"{day}T00:00:00.000001Z", **filters)


def test_each_day_s_run_spend_kept_as_runs_change_matches_the_runs(store: Store) -> None:
    """SQLite answers by day, by rig and in all from the spend it keeps per day and rig (on
    PostgreSQL the same roll-ups sum the runs): a run that ends later moves to that day, one
    whose cost becomes known counts in the USD, and what heartbeats write changes nothing."""
    for by in ("day", "rig", None):
        assert rows(store, by) == summed(store, by)
    with store.transaction() as tx:
        later = tx.get_run("r3")
        assert later is not None
        later.ended_at, later.cost_known, later.cost_usd, later.tokens_out = DAY2, True, 0.3, 99
        assert tx.update_run(later, SUCCEEDED)
        tx.insert_run(run("r5", "gt-w", rig="web", tokens_in=7, cost_usd=2.0, ended_at=DAY2))
        tx.db.execute("UPDATE runs SET last_heartbeat = ? WHERE id = 'r5'", (DAY2,))
    for by in ("day", "rig", None):
        assert rows(store, by) == summed(store, by)
    assert rows(store, "day", rig="web") == summed(store, "day", rig="web")
    assert rows(store, "day", since="2026-03-02") == summed(store, "day", "2026-03-02")
    days = rows(store, "day")
    assert days["2026-03-01"] == figures(2, 1200, 120, 750, 0.51)
    assert days["2026-03-02"] == figures(6, 1317, 200, 0, 3.675, unk=1, unkt=110)


def test_an_older_sqlite_town_gets_its_days_filled_when_opened(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = open_store(url)
    given_spend(store)
    want = rows(store, "day")
    with store.transaction() as tx:  # as a gt from before kept them: not at all
        for name in ("spend_days_insert", "spend_days_update", "spend_days_delete"):
            tx.db.execute(f"DROP TRIGGER {name}")
        tx.db.execute("DROP TABLE spend_days")
    store.close()
    again = open_store(url)
    try:
        assert rows(again, "day") == want == summed(again, "day")
    finally:
        again.close()


def test_bad_by_and_since_are_refused() -> None:
    now = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
    with pytest.raises(InvalidValue, match="cannot be grouped by 'colour'"):
        costs.check_by("colour")
    assert costs.parse_since("2026-03-01", now) == "2026-03-01T00:00:00.000000Z"
    assert costs.parse_since("2026-03-01T12:00:00+02:00", now) == "2026-03-01T10:00:00.000000Z"
    assert costs.parse_since("7d", now) == "2026-02-27T00:00:00.000000Z"
    assert costs.parse_since("today", now) == "2026-03-05T00:00:00.000000Z"
    for bad in ("yesterday-ish", "2026-13-01", "0d"):
        with pytest.raises(InvalidValue):
            costs.parse_since(bad, now)


@pytest.fixture
def gt(tmp_path: Path) -> Gt:
    """A town on SQLite holding `given_spend`."""
    Gt(tmp_path).ok("init", str(tmp_path / "town"))
    store = open_store(f"sqlite:///{tmp_path / 'town' / 'state.db'}")
    given_spend(store)
    store.close()
    return Gt(tmp_path / "town")


def test_gt_costs_rolls_up_as_json_and_as_a_table(gt: Gt) -> None:
    """`gt costs --by bead --json` gives the rows and their total; the table says how many
    calls have no known cost."""
    got = gt.json("costs", "--by", "bead", "--since", "2026-03-01")
    assert [r["key"] for r in got["rows"]] == ["gt-a", "gt-b", "gt-w", "mayor"]
    assert got["total"]["usd"] == pytest.approx(1.885) and got["total"]["unknown"] == 2
    assert got["since"] == "2026-03-01T00:00:00.000000Z"
    days = gt.json("costs", "--by", "day", "--rig", "web")["rows"]
    assert [(d["key"], d["usd"]) for d in days] == [("2026-03-02", 1.0)]
    text = gt.ok("costs", "--by", "agent").out
    assert "reviewer" in text and "mayor" in text and "total" in text
    assert "2 of 7 have no known cost" in text


def test_bead_show_and_convoy_show_print_their_totals(gt: Gt) -> None:
    """A bead's total is its runs and its reviews; a convoy's, its beads'."""
    assert gt.json("bead", "show", "gt-b")["spend"]["usd"] == pytest.approx(0.125)
    shown = gt.ok("bead", "show", "gt-b").out
    assert "spent: 700 tokens in (0 cache), 70 out, $0.1250 in 2 calls; 1 of unknown cost" in shown
    assert gt.json("convoy", "show", "gt-c1")["spend"]["calls"] == 4
    assert "spent: 2,200 tokens in (700 cache)" in gt.ok("convoy", "show", "gt-c1").out


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        (["--by", "colour"], 2, "cannot be grouped by 'colour'"),
        (["--since", "last tuesday"], 2, "'last tuesday' is not a date"),
        (["--rig", "nope"], 1, "There is no rig 'nope'"),
    ],
)
def test_gt_costs_refuses_bad_input_in_one_sentence(
    gt: Gt, argv: list[str], code: int, said: str
) -> None:
    result = gt("costs", *argv)
    assert result.code == code and said in result.err and result.out == ""
