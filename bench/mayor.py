"""Section 6: what the mayor adds to the model server's own time to the first streamed token.

The scripted model server runs in its own process (as `gt scripted-model` does, see `SERVE`)
and answers every request with the same streamed reply. Turn by turn, in a shuffled order, the
same run times:

- the SDK alone: the official `anthropic` client's `messages.stream` with a one-line request,
  from the call to the first piece of text;
- the mayor: `Mayor.ask(text, on_text)` as `gt mayor` calls it, on a real town (its state
  store, the notes read from the event log, the system prompt, every tool declared, the
  conversation growing turn by turn up to its budget), from the call to the first piece of
  text reaching `on_text`;
- for the split, the SDK alone sending the mayor's last request as it was (its system prompt,
  tools and conversation): what the bigger request costs, as opposed to the mayor's own work.

The difference of the first two medians is what the mayor adds (goal ≤ 50 ms, issue 5).
`--profile` prints where the time of the mayor's turns goes.

Run alone: `.venv/bin/python bench/mayor.py [--quick] [--profile]`.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import livetown
import timing
from gastown.llm import MAX_TOKENS, Client, OnText, Reply
from gastown.services.ledger import Ledger
from gastown.town import load

Timed = tuple[Callable[[], float], Callable[[], None]]
"""A call timed to its first token, and what closes its connections."""

Request = tuple[str, list[dict[str, Any]], list[Any]]
"""What a model request carries: the system prompt, the messages and the tools."""

GOAL_MS = 50.0
MODEL = "claude-haiku-4-5"
REPLY = "The town is quiet: no bead is stuck and nothing waits for you. Anything to start?"


SERVE = """
import sys
from pathlib import Path
from gastown.scripted import load
from gastown.scripted.server import base_url, bind, serve_forever

sock = bind()
print(base_url(sock), flush=True)
serve_forever(load(Path(sys.argv[1])), sock)
"""
"""The scripted model server in a process of its own, as a real model server would be."""


@contextmanager
def model_server(root: Path) -> Iterator[str]:
    """The scripted model server in its own process with one repeating streamed reply; its
    URL."""
    script = root / "mayor-script.json"
    reply = {"text": REPLY, "repeat": True, "usage": {"input_tokens": 900, "output_tokens": 20}}
    script.write_text(json.dumps({"replies": [reply]}), encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        env=timing.clean_env(),
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError("the scripted model server did not start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def first_token(ask: Callable[[Callable[[str], None]], object]) -> float:
    """Seconds from calling `ask` to the first piece of text it passes on."""
    first: list[float] = []

    def seen(piece: str) -> None:
        if piece and not first:
            first.append(time.perf_counter())

    start = time.perf_counter()
    ask(seen)
    if not first:
        raise RuntimeError("the reply streamed no text")
    return first[0] - start


class Recording:
    """A model client that passes everything on to another and keeps the last request."""

    def __init__(self, inner: Client) -> None:
        self.inner = inner
        self.last: Request | None = None

    def send(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[Any],
        on_text: OnText | None = None,
    ) -> Reply:
        self.last = (system, messages, tools)
        return self.inner.send(system, messages, tools, on_text)

    def close(self) -> None:
        self.inner.close()


def sdk(url: str, request: Callable[[], Request]) -> Timed:
    """One streamed request through the Anthropic SDK, as a timed call; and its closer."""
    import anthropic

    client = anthropic.Anthropic(api_key="sk-bench", base_url=url)

    def ask(on_text: Callable[[str], None]) -> None:
        system, messages, tools = request()
        given: dict[str, Any] = {"tools": tools} if tools else {}
        with client.messages.stream(
            model=MODEL,
            max_tokens=MAX_TOKENS,
            system=system,
            messages=messages,  # type: ignore[arg-type]
            **given,
        ) as stream:
            for piece in stream.text_stream:
                on_text(piece)

    return (lambda: first_token(ask)), client.close


def through_the_mayor(town_path: Path) -> tuple[Timed, Recording]:
    """One turn of the town's mayor with its reply streamed, as a timed call and its closer;
    and the client that keeps the mayor's last request."""
    from gastown.mayor import open_mayor

    town = load(town_path)
    store = town.open_store()
    mayor = open_mayor(Ledger(store, town.prefix, "mayor"), town, timing.clean_env())
    recording = mayor.client = Recording(mayor.client)

    def close() -> None:
        mayor.close()
        store.close()

    timed = (lambda: first_token(lambda on_text: mayor.ask("How is the town?", on_text))), close
    return timed, recording


PLAIN: Request = (
    "You are a helpful assistant.",
    [{"role": "user", "content": "How is the town?"}],
    [],
)
"""The SDK alone: a one-line request, no tools."""


def bench(
    root: Path, runs: int, warmup: int, rng: random.Random, profile: bool = False
) -> list[str]:
    """Section 6; returns the line that judges the goal."""
    print(
        f"\n6. The mayor's time to the first streamed token: medians of {runs} turns after "
        f"{warmup} warm-up round(s), interleaved with the SDK alone, against the scripted "
        "model server in its own process"
    )
    upstream = livetown.make_upstream(root / "upstream-mayor")
    settings = {"model_base_url": "", "model_api_key": "sk-bench", "role_models.mayor": MODEL}
    with model_server(root) as url:
        settings["model_base_url"] = url
        with livetown.live_town(root / "mayor-town", {"app": upstream}, settings) as town:
            for i in range(5):  # something for the notes and the tools to find
                town.gt("bead", "create", f"Bench bead {i}", "--rig", "app")
            (mayor, close_mayor), recording = through_the_mayor(town.path)
            alone, close_alone = sdk(url, lambda: PLAIN)
            same, close_same = sdk(url, lambda: recording.last or PLAIN)
            timed = {"sdk": alone, "mayor": mayor, "same": same}
            try:
                times: dict[str, list[float]] = {k: [] for k in timed}
                order = list(timed)
                for round_no in range(warmup + runs):
                    rng.shuffle(order)
                    for which in order:
                        took = timed[which]()
                        if round_no >= warmup:
                            times[which].append(took)
                if profile:
                    show_profile(mayor)
            finally:
                close_alone()
                close_same()
                close_mayor()
    return report(times)


def report(times: dict[str, list[float]]) -> list[str]:
    sdk_ms, mayor_ms, same_ms = (statistics.median(times[k]) * 1000 for k in times)
    print(f"  the Anthropic SDK alone (messages.stream, one line)   {sdk_ms:8.1f} ms")
    print(f"  the mayor's chat path (Mayor.ask with on_text)        {mayor_ms:8.1f} ms")
    print(f"  (the SDK alone sending the mayor's last request)      {same_ms:8.1f} ms")
    added = mayor_ms - sdk_ms
    verdict = "met" if added <= GOAL_MS else "MISSED"
    line = (
        f"mayor time to first token: {added:+.1f} ms over the SDK alone ({mayor_ms:.1f} ms "
        f"against {sdk_ms:.1f} ms) (goal ≤ {GOAL_MS:g} ms: {verdict})"
    )
    print("  " + line)
    return [line]


def show_profile(mayor: Callable[[], float], turns: int = 20) -> None:
    """Where the mayor's turns go, by cumulative time (the model server's share included)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(turns):
        mayor()
    profiler.disable()
    print(f"\n  Profile of {turns} turns of the mayor, by cumulative time:")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a few turns only")
    parser.add_argument("--profile", action="store_true", help="profile the mayor's turns")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    runs, warmup = (5, 1) if args.quick else (60, 5)
    with tempfile.TemporaryDirectory(prefix="gt-bench-mayor-") as tmp:
        bench(Path(tmp), runs, warmup, random.Random(args.seed), args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
