"""PostgreSQL restarted under a town spread over hosts: every process reconnects, nothing is lost.

    .venv/bin/python bench/pg_restart.py [--beads 12] [--restarts 2]

A PostgreSQL town (a fresh schema in `GT_TEST_PG`, default the local `test` database) with a
leader and a standby town process (two town folders) and two `gt worker`s works a convoy of
beads whose scripted agents take a few seconds each. While runs are going, the driver restarts
the PostgreSQL server (`pg_ctlcluster … restart`: every connection of every process is cut).
When every bead has closed it checks:

- every bead closed, each bead's file is on the target exactly once;
- a leader leads again and both workers are registered and beating;
- no bead had two runs active at once (the ledger's runs, by their times);
- every run that was cut off ended `lost` or `failed` and was retried: none is left active.

It restarts the server of the whole machine, so it is not part of `make bench` or the test
suite (other tests share that server); run it by hand. Exits 1 naming each broken promise.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

GT = [sys.executable, "-m", "gastown"]
PG_BASE = os.environ.get("GT_TEST_PG", "postgresql://127.0.0.1:5432/test")


def gt(*args: str, cwd: Path, check: bool = True) -> str:
    """Run gt as a user would; its stdout."""
    env = {**os.environ, "GT_ACTOR": "bench"}
    done = subprocess.run(
        [*GT, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise SystemExit(f"gt {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def restart_postgres() -> float:
    """Restart the machine's PostgreSQL; seconds until it answers again."""
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    started = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        capture_output=True,
    )
    while True:
        try:
            psycopg.connect(PG_BASE, connect_timeout=1).close()
            return time.monotonic() - started
        except psycopg.OperationalError:
            time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beads", type=int, default=12)
    parser.add_argument("--restarts", type=int, default=2)
    args = parser.parse_args()
    schema = f"gt_restart_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG_BASE}?options=-csearch_path%3D{schema}"
    root = Path(tempfile.mkdtemp(prefix="gt-pg-restart-"))
    workers: list[subprocess.Popen[bytes]] = []
    broken: list[str] = []
    try:
        upstream = root / "upstream.git"
        git("init", "-q", "--bare", "-b", "trunk", str(upstream), cwd=root)
        seed = root / "seed"
        git("clone", "-q", str(upstream), str(seed), cwd=root)
        (seed / "README.md").write_text("restart\n")
        git("add", "README.md", cwd=seed)
        git("-c", "user.email=b@e", "-c", "user.name=b", "commit", "-qm", "first", cwd=seed)
        git("push", "-q", "origin", "HEAD:trunk", cwd=seed)
        leader, standby = root / "town", root / "town2"
        gt("init", str(leader), "--db", url, cwd=root)
        gt("rig", "add", "app", str(upstream), cwd=leader)
        for key, value in (
            ("runtime", "scripted"),
            ("refinery.code_review", "false"),
            ("workers.placement", "workers"),
            ("workers.stalled_seconds", "6"),
            ("max_polecats_per_rig", "4"),
        ):
            gt("config", "set", key, value, cwd=leader)
        gt("up", "-d", cwd=leader)
        gt("init", str(standby), "--db", url, cwd=root)
        gt("up", "-d", cwd=standby)
        env = {**os.environ, "GT_ACTOR": "bench"}
        for n in (1, 2):
            log = (root / f"w{n}.log").open("wb")
            workers.append(
                subprocess.Popen(
                    [
                        *GT,
                        "worker",
                        "--db",
                        url,
                        "--name",
                        f"w{n}",
                        "--slots",
                        "2",
                        "--home",
                        str(root / f"w{n}"),
                    ],
                    env=env,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
        time.sleep(2)
        ids = []
        for n in range(args.beads):
            steps = [{"write": f"files/b{n}.txt", "content": f"bead {n}\n"}, {"run": "sleep 3"}]
            body = "```gt-script\n" + json.dumps(steps) + "\n```"
            out = gt("sling", f"Bead {n}", "--rig", "app", "-b", body, "--json", cwd=leader)
            ids.append(json.loads(out)["id"])
        started = time.monotonic()
        took = []
        for _ in range(args.restarts):
            time.sleep(4)
            took.append(restart_postgres())
            print(f"PostgreSQL restarted, answering again after {took[-1]:.1f} s")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with psycopg.connect(url) as conn:
                closed = conn.execute(
                    "SELECT count(*) FROM beads WHERE status = 'closed' AND id = ANY(%s)", (ids,)
                ).fetchone()
            if closed and closed[0] == len(ids):
                break
            time.sleep(1)
        elapsed = time.monotonic() - started
        with psycopg.connect(url) as conn:
            statuses: dict[str, str] = dict(
                conn.execute("SELECT id, status FROM beads WHERE id = ANY(%s)", (ids,)).fetchall()
            )
            runs = conn.execute(
                "SELECT bead_id, status, created_at, ended_at FROM runs ORDER BY created_at"
            ).fetchall()
            hosts = conn.execute("SELECT name, role FROM hosts").fetchall()
        ended = [s for s in statuses.values() if s != "closed"]
        if ended:
            broken.append(f"{len(ended)} bead(s) not closed: {sorted(set(ended))}")
        if any(s in ("queued", "starting", "running") for _, s, _, _ in runs):
            broken.append("a run is still active after every bead closed")
        by_bead: dict[str, list[tuple[str, str]]] = {}
        for bead, _status, created, end in runs:
            by_bead.setdefault(bead, []).append((created, end or "9999"))
        for bead, spans in by_bead.items():
            spans.sort()
            if any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans)):
                broken.append(f"bead {bead} had two runs active at once")
        roles = sorted(role for _, role in hosts)
        if roles.count("leader") != 1 or roles.count("worker") != 2:
            broken.append(f"hosts after the restarts: {hosts}")
        subprocess.run(["git", "fetch", "-q"], cwd=seed, check=True)
        listed = subprocess.run(
            ["git", "ls-tree", "-r", "--name-only", "origin/trunk", "files/"],
            cwd=seed,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        missing = [n for n in range(args.beads) if f"files/b{n}.txt" not in listed]
        if missing:
            broken.append(f"work of beads {missing} is not on the target")
        lost = sum(1 for _, s, _, _ in runs if s in ("lost", "failed"))
        print(
            f"{args.beads} beads, {len(runs)} runs ({lost} cut off and retried), "
            f"{args.restarts} restarts, all closed in {elapsed:.1f} s; hosts: {sorted(hosts)}"
        )
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for folder in (root / "town2", root / "town"):
            if (folder / "town.toml").exists():
                gt("down", cwd=folder, check=False)
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    for promise in broken:
        print(f"BROKEN: {promise}")
    print("PASS" if not broken else "MISS")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
