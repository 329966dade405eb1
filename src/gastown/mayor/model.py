"""The mayor's model client: `gastown.models`, with the mayor's default models and its name in
the failures ("The mayor's model API failed: …").

The mayor's conversation is kept in the Anthropic Messages shape that `gastown.models` sends to
either API, and the store keeps it so. The refinery's reviewer imports this module as `models`
too; the names it and the mayor use are re-exported here.
"""

from __future__ import annotations

from gastown import models
from gastown.models import (
    MAX_TOKENS,
    AnthropicClient,
    Call,
    Client,
    ModelFailure,
    OnText,
    OpenAIClient,
    Reply,
    api_for,
    to_chat,
)

__all__ = [
    "MAX_TOKENS",
    "AnthropicClient",
    "Call",
    "Client",
    "ModelFailure",
    "OnText",
    "OpenAIClient",
    "Reply",
    "api_for",
    "make",
    "to_chat",
]

DEFAULT_MODELS = {"anthropic": "claude-haiku-4-5", "openai": "gpt-5-mini"}
"""The model each API gets when settings name none."""


def make(api: str, model: str, base_url: str, api_key: str) -> Client:
    """The mayor's client for `api` (`openai`, else `anthropic`)."""
    api = "openai" if api == "openai" else "anthropic"
    return models.make(api, model or DEFAULT_MODELS[api], base_url, api_key, role="mayor")
