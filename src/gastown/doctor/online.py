"""Model endpoints and their keys, asked once each (only with `gt doctor --online`).

The request is `GET /v1/models`, which every Anthropic- and OpenAI-compatible server answers
without spending a token: 2xx means reachable with an accepted key, 401 or 403 a refused key,
anything else at least a server that answers. Where `model_base_url` is empty the runtime's
provider is asked (Anthropic for claude and builtin, OpenAI for codex); runtimes that choose
their provider from the model (opencode, kilo, gemini) are checked only through
`model_base_url`, and `scripted` needs no model at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

import httpx

from gastown.doctor import FAIL, OK, WARN, Finding
from gastown.record import Record

TIMEOUT = 10.0
PROVIDERS = {
    "claude": ("https://api.anthropic.com", "ANTHROPIC_API_KEY"),
    "builtin": ("https://api.anthropic.com", "ANTHROPIC_API_KEY"),
    "codex": ("https://api.openai.com/v1", "OPENAI_API_KEY"),
}
"""Runtime → the endpoint it reaches without `model_base_url`, and the variable its key is in."""


class Endpoint(Record):
    """A model API the town's agents reach, and the key they reach it with."""

    url: str
    """The API's base address."""
    key: str
    """The key sent to it (empty when none is set)."""
    used_by: list[str]
    """The layers that use it (`town`, `rig app`)."""


def endpoint_of(
    runtime: str,
    base_url: str,
    api_key: str,
    env_vars: Mapping[str, str],
    environ: Mapping[str, str],
) -> tuple[str, str] | None:
    """The (base URL, key) one layer's agents use, or None when it cannot be told (pure)."""
    default, variable = PROVIDERS.get(runtime, ("", ""))
    url = base_url or default
    if not url:
        return None
    key = api_key or env_vars.get(variable, "") or environ.get(variable, "")
    if not key:
        for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
            key = key or env_vars.get(name, "") or environ.get(name, "")
    return url.rstrip("/"), key


def models_url(base: str) -> str:
    """`GET /v1/models` under `base` (which may end in `/v1` already)."""
    return f"{base}/models" if base.endswith("/v1") else f"{base}/v1/models"


async def probe(endpoint: Endpoint, client: httpx.AsyncClient) -> Finding:
    """Whether `endpoint` answers and takes its key: one GET of its model list."""
    check = f"model endpoint {endpoint.url}"
    used = ", ".join(endpoint.used_by)
    headers = {"anthropic-version": "2023-06-01"}
    if endpoint.key:
        headers |= {"x-api-key": endpoint.key, "authorization": f"Bearer {endpoint.key}"}
    try:
        answer = await client.get(models_url(endpoint.url), headers=headers)
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        return Finding(
            check,
            FAIL,
            f"Cannot reach it ({reason}); used by {used}.",
            fix="Check the address (`gt config set model_base_url URL`) and that the server runs.",
        )
    if answer.status_code in (401, 403):
        said = "refused the key" if endpoint.key else "wants a key, and none is set"
        return Finding(
            check,
            FAIL,
            f"It {said} (HTTP {answer.status_code}); used by {used}.",
            fix="Set a working key: `gt config set model_api_key KEY` (or the provider's "
            "variable in `env_vars`).",
        )
    if answer.is_success:
        return Finding(check, OK, f"Reachable, key accepted; used by {used}.")
    return Finding(
        check,
        WARN,
        f"It answers, but GET /v1/models gave HTTP {answer.status_code}; used by {used}.",
        fix="Check that `model_base_url` names the API's root (…/v1 for OpenAI-compatible ones).",
    )


async def check(endpoints: Iterable[Endpoint], timeout: float = TIMEOUT) -> list[Finding]:
    """Probe every endpoint at once, each within `timeout` seconds."""
    async with httpx.AsyncClient(timeout=timeout) as client:
        return list(await asyncio.gather(*(probe(e, client) for e in endpoints)))
