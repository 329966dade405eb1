"""Token prices, for runtimes whose CLI reports tokens but no cost (Codex, Gemini).

The table ships in the package as `prices.json` (USD per million tokens). A model that is not
in it has no price: its cost is None (unknown), never a guess from a similar name.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

from gastown.record import Record
from gastown.runtimes.events import Cost, Usage

_DATED = re.compile(r"-(\d{8}|latest)$")


class Price(Record):
    """USD per million tokens of each sort."""

    input: float
    """Input tokens read fresh."""
    output: float
    """Output tokens."""
    cache_read: float = 0.0
    """Input tokens read from the prompt cache."""
    cache_write: float = 0.0
    """Input tokens written to the prompt cache."""


@cache
def table() -> dict[str, Price]:
    """The shipped price table, read once."""
    text = resources.files("gastown.runtimes").joinpath("prices.json").read_text("utf-8")
    return {name: Price(**row) for name, row in json.loads(text)["models"].items()}


def price_for(model: str, prices: dict[str, Price] | None = None) -> Price | None:
    """The price of `model`, accepting a provider prefix (`anthropic/claude-sonnet-4-5`) and a
    date or `-latest` suffix (`claude-sonnet-4-5-20250929`); None when it is not in the table."""
    prices = table() if prices is None else prices
    name = model.strip().lower().rsplit("/", 1)[-1]
    return prices.get(name) or prices.get(_DATED.sub("", name))


def cost_of(usage: Usage, model: str, prices: dict[str, Price] | None = None) -> Cost | None:
    """What `usage` cost on `model` by the table; None when the model has no price."""
    price = price_for(model or usage.model, prices)
    if price is None:
        return None
    usd = (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_read_tokens * price.cache_read
        + usage.cache_write_tokens * price.cache_write
    ) / 1_000_000
    return Cost(round(usd, 8), source="table")


def call_cost(
    model: str,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    prices: dict[str, Price] | None = None,
) -> float | None:
    """What one call to a model's API cost by the table, in USD. Its `input_tokens` count
    the cache reads and writes too, as the mayor's and the reviewer's clients report them
    (`models.Reply`); each part is priced at its own rate. None when the model has no price."""
    cached = cache_read_tokens + cache_write_tokens
    usage = Usage(
        input_tokens=max(input_tokens - cached, 0),
        output_tokens=output_tokens,
        cache_read_tokens=cache_read_tokens,
        cache_write_tokens=cache_write_tokens,
    )
    priced = cost_of(usage, model, prices)
    return None if priced is None else priced.usd
