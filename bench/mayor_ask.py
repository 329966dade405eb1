"""Section: `gt mayor ask` as a whole process with the town up, against the scripted model
server's own answer time.

With the town up, `gt mayor ask` hands the turn to the town process's API, which has the
`anthropic` SDK imported already; the command itself pays only Python's start, its own small
imports and one local HTTP call. Timed, interleaved in a shuffled order:

- the server alone: one streamed `POST /v1/messages` from this process (urllib), read to the
  end: what answering costs the model server itself;
- `gt mayor ask` with the town up (through the town's API);
- `gt mayor ask` with no town up (the turn in its own process, the SDK imported each time),
  fewer rounds, for contrast;
- `python -c pass`, the floor of any process.

The difference of the first two medians is what `gt mayor ask` adds (goal ≤ 500 ms).
Run alone: `.venv/bin/python bench/mayor_ask.py [--quick]`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import livetown
import timing
from mayor import MODEL, model_server

GOAL_MS = 500.0


def server_once(url: str) -> float:
    """Seconds for the model server to answer one small streamed request, read to the end."""
    body = {
        "model": MODEL,
        "max_tokens": 64,
        "stream": True,
        "messages": [{"role": "user", "content": "How is the town?"}],
    }
    request = urllib.request.Request(
        f"{url}/v1/messages",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-api-key": "sk-bench"},
        method="POST",
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()
    return time.perf_counter() - start


def ask_once(town: livetown.LiveTown) -> float:
    start = time.perf_counter()
    subprocess.run(
        [str(livetown.GT), "mayor", "ask", "How is the town?"],
        cwd=town.path,
        env=town.env,
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - start


def floor_once() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True, env=timing.clean_env())
    return time.perf_counter() - start


def bench(root: Path, rounds: int, rng: random.Random) -> list[str]:
    """Section 15; its ratio line for the summary."""
    upstream = livetown.make_upstream(root / "ask-upstream")
    with model_server(root) as url:
        settings = {"model_base_url": url, "model_api_key": "sk-bench", "role_models.mayor": MODEL}
        with livetown.live_town(root / "ask-town", {"app": upstream}, settings) as town:
            cold = [ask_once(town) for _ in range(max(2, rounds // 5))]  # no town up
            town.up()
            ask_once(town)  # the town's SDK and connection warmed once
            times: dict[str, list[float]] = {"server": [], "ask": [], "floor": []}
            steps = {"server": lambda: server_once(url), "ask": lambda: ask_once(town)}
            steps["floor"] = floor_once
            for _ in range(rounds):
                order = list(steps)
                rng.shuffle(order)
                for name in order:
                    times[name].append(steps[name]())
    ms = {k: statistics.median(v) * 1000 for k, v in times.items()}
    cold_ms = statistics.median(cold) * 1000
    over = ms["ask"] - ms["server"]
    print(f"\n15. gt mayor ask as a whole process, medians of {rounds}")
    print(f"  the model server's own answer   {ms['server']:8.1f} ms")
    print(f"  gt mayor ask, town up           {ms['ask']:8.1f} ms  (through the town's API)")
    print(f"  gt mayor ask, no town up        {cold_ms:8.1f} ms  (the SDK imported each time)")
    print(f"  python -c pass                  {ms['floor']:8.1f} ms")
    return [
        f"ratio gt mayor ask / model server: {ms['ask'] / ms['server']:.1f}×; it adds "
        f"{over:.0f} ms over the server's {ms['server']:.1f} ms (goal ≤ {GOAL_MS:.0f} ms), "
        f"{cold_ms:.0f} ms with no town up"
    ]


def main(quick: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="gt-bench-ask-") as tmp:
        for line in bench(Path(tmp), 5 if quick else 20, random.Random(15)):
            print("  " + line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
