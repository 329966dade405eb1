"""The mayor: the conversational coordinator whose tools are the town's own services.

`open_mayor` builds one from the town's settings (`role_models.mayor` or `default_model`,
`model_base_url`, `model_api_key`, `custom_instructions.mayor`); `Mayor.ask` runs one turn of
the town's single, persistent conversation (`chat.py`), its prompt bounded, older turns
summarised (`context.py`). The tools (`tools.py`, `town_tools.py` and `code_tools.py`,
declared with `toolkit.py`) call the services and nothing else: agents are stopped and reset
by the town process (`agents.py`), and the code is read from git objects of each rig's target
branch, never from a working tree. Its model client (`model.py`, a `gastown.llm` client that
names the mayor in its failures) speaks the Anthropic Messages API and OpenAI Chat Completions
through the official SDKs; `secrets.py` keeps secret
settings out of what is sent and stored. The mayor never edits code and spends nothing while
nobody asks: what happened meanwhile reaches it as notes at the start of its next turn
(`notes.py`).
"""

from __future__ import annotations

from collections.abc import Mapping

from gastown.errors import InvalidValue, UserError
from gastown.mayor.chat import Mayor, TurnResult
from gastown.mayor.toolkit import Control
from gastown.services.ledger import Ledger
from gastown.town import Town

__all__ = ["Mayor", "TurnResult", "open_mayor"]


def open_mayor(
    ledger: Ledger, town: Town, environ: Mapping[str, str], control: Control | None = None
) -> Mayor:
    """The town's mayor, its model client made from the effective settings. `control` is how
    it stops and resets agents: the town loop's own inside the town process (see
    `agents.on_loop`); by default, the running town's API."""
    from gastown import llm
    from gastown.mayor import knowledge_tools, model, prompt, tools
    from gastown.mayor.secrets import secret_values
    from gastown.sections import sections
    from gastown.services import rigs, settings

    resolved = settings.effective(ledger, town, None, environ)
    read = sections(resolved)
    agents = read.agents
    name, base_url = agents.mayor_model, agents.model_base_url
    api = environ.get("GT_MAYOR_API") or llm.api_for(name, base_url)
    if api not in ("anthropic", "openai"):
        raise InvalidValue(f"GT_MAYOR_API must be `anthropic` or `openai`, not {api!r}.")
    key = agents.model_api_key
    sdk_key = "ANTHROPIC_API_KEY" if api == "anthropic" else "OPENAI_API_KEY"
    if not key and not environ.get(sdk_key) and not base_url:
        raise UserError(
            "The mayor needs a model: no API key is set.",
            hint=f"Set one with `gt config set model_api_key KEY` (or {sdk_key}), or point "
            "`model_base_url` at a compatible server.",
        )
    client = model.make(api, name, base_url, key or environ.get(sdk_key, "") or "none")
    system = prompt.system_prompt(
        [r.name for r in rigs.list_rigs(ledger)], read.mayor.custom_instructions
    ) + knowledge_tools.brief(ledger)
    return Mayor(
        ctx=tools.Context(ledger, town, environ, control),
        client=client,
        system=system,
        secrets=secret_values(resolved),
    )
