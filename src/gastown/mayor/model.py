"""The mayor's model client: one `gastown.llm` client with the mayor's default models, whose
failures name the mayor ("The mayor's model API failed: …").

The mayor's conversation is kept in the Anthropic Messages shape that `gastown.llm` sends to
either API, and the store keeps it so.
"""

from __future__ import annotations

from gastown import llm

DEFAULT_MODELS = {"anthropic": "claude-haiku-4-5", "openai": "gpt-5-mini"}
"""The model each API gets when settings name none."""


def make(api: str, model: str, base_url: str, api_key: str) -> llm.Client:
    """The mayor's client for `api` (`openai`, else `anthropic`)."""
    api = "openai" if api == "openai" else "anthropic"
    return llm.make(api, model or DEFAULT_MODELS[api], base_url, api_key, role="mayor")
