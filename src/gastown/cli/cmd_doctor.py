"""`gt doctor [--fix] [--online]`: what is wrong with the town, and how to fix it."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli.app import App

MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    doctor = sub.add_parser(
        "doctor",
        parents=[shared],
        help="check the town and say what is wrong and how to fix it",
        description="Check the town: git and each configured runtime's program on the town's "
        "PATH, the ledger's database (reachable, migrated), the town process while work is in "
        "progress, stale files in run/ and git locks, worktrees and branches against the "
        "ledger, and free disk space; with --online, each model endpoint and key. One line per "
        "check (ok, warn or FAIL) with its fix; exit 1 when any check fails. --fix repairs what "
        "is safe to repair (stale pid and lock files, `git worktree prune`, worktrees the ledger "
        "does not know that hold no uncommitted changes, an unmigrated ledger) and says what it "
        "did; it never deletes uncommitted work.",
    )
    doctor.add_argument("--fix", action="store_true", help="repair what is safe to repair")
    doctor.add_argument(
        "--online",
        action="store_true",
        help="also ask each model endpoint (GET /v1/models) whether it answers and takes the key",
    )
    doctor.set_defaults(handler=doctor_town)


def doctor_town(app: App) -> int:
    import time

    from gastown.doctor.checkup import checkup, patient_of

    patient = patient_of(app.town.path, dict(app.environ), time.time())
    report = checkup(patient, fix=app.args.fix, online_too=app.args.online)

    def human() -> None:
        for line in report.fixed:
            app.print(f"fixed {line}")
        if report.fixed:
            app.print()
        width = max(len(f.check) for f in report.findings)
        for f in report.findings:
            app.print(f"{MARK[f.status]}  {f.check:<{width}}  {f.message}")
            if f.status != "ok" and f.fix:
                app.print(f"      {'':<{width}}  → {f.fix}")
        fails = sum(f.status == "fail" for f in report.findings)
        warns = sum(f.status == "warn" for f in report.findings)
        repairable = any(f.repair is not None and f.status != "ok" for f in report.findings)
        tail = f"\n{fails} failed, {warns} warning(s)."
        if repairable and not app.args.fix:
            tail += " `gt doctor --fix` repairs those whose fix names it."
        app.print(tail if fails or warns else "\nAll checks passed.")

    app.emit(report.to_json(), human)
    return 1 if report.failed else 0
