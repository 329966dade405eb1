"""`gt costs`: tokens and USD the town spent on models, rolled up."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli.app import App

BY = ("bead", "convoy", "rig", "agent", "runtime", "model", "day")  # as `store.costs.BY`


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    costs = sub.add_parser(
        "costs",
        parents=[shared],
        help="tokens and USD spent, rolled up",
        description="Tokens (in, out, of which cache) and USD spent by polecat runs, the mayor "
        "and the refinery's reviewer, in one row or grouped. Spend whose cost is unknown (no "
        "cost reported, no price in the table) is counted apart with its tokens, never as "
        "0 USD. Days are UTC days.",
    )
    costs.add_argument(
        "--by", metavar="|".join(BY), help="group by this (default: everything in one row)"
    )
    costs.add_argument(
        "--since",
        metavar="DATE",
        help="only spend from then on: YYYY-MM-DD, an ISO date and time, today, or 7d",
    )
    costs.add_argument("--rig", help="only this rig's spend (the mayor's is left out)")
    costs.set_defaults(handler=show_costs)


def show_costs(app: App) -> int:
    from gastown.services import costs

    by = costs.check_by(app.args.by)
    since = None
    if app.args.since is not None:
        from datetime import UTC, datetime

        since = costs.parse_since(app.args.since, datetime.now(UTC))
    with app.store.reader() as tx:
        rows = costs.rollup(tx, by, since=since, rig=app.args.rig)
    total = costs.total(rows)
    data = {
        "by": by,
        "since": since,
        "rig": app.args.rig,
        "rows": [r.to_json() for r in rows] if by else [],
        "total": total.to_json(),
    }

    def human() -> None:
        from gastown.cli.render import table

        if not total.calls:
            app.print("Nothing spent yet" + (" in that span." if since else "."))
            return
        shown = [*rows, total] if by else [total]
        app.print(
            table(
                [
                    (by or "").upper() or "SPEND",
                    "CALLS",
                    "TOKENS IN",
                    "OUT",
                    "CACHE",
                    "USD",
                    "UNKNOWN COST",
                ],
                [
                    (
                        "total" if r is total else r.key if r.key is not None else "-",
                        r.calls,
                        r.tokens_in,
                        r.tokens_out,
                        r.tokens_cache,
                        f"{r.usd:.4f}",
                        f"{r.unknown} ({r.unknown_tokens} tokens)" if r.unknown else "-",
                    )
                    for r in shown
                ],
            )
        )
        if total.unknown:
            app.print(
                f"{total.unknown} of {total.calls} have no known cost: the USD leaves them out."
            )

    app.emit(data, human)
    return 0
