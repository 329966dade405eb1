"""The reviewer: a model reads the bead and the diff and gives a structured verdict.

Two reviewers share one contract (`Reviewer`), chosen by `refinery.reviewer`: `ModelReviewer`
asks a model API once, and the verdict comes back through one tool, `verdict`; `AgentReviewer`
(in `review_agent`) runs the rig's agent runtime on a read-only worktree of the change, and the
verdict is the JSON object its last message ends with. Either way the verdict's fields are
checked here: approve, or request changes with comments by file and line. No usable verdict
(prose instead of the tool or the object, an API or agent that fails) is a `ReviewFailed`: the
merge request waits and is reviewed again, and after a few failures a person is asked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from gastown.errors import RuntimeFailure
from gastown.model import APPROVE, CHANGES
from gastown.record import Record, field, replace
from gastown.store.costs import SpendRow

ROLE = """You are the reviewer in a software team's merge pipeline. A coding agent made the \
change below for the task described. Judge whether it should land: is it correct, does it do \
what the task asks, is it tested where it matters, is it safe (no secrets, no destructive \
commands, no build artefacts committed), and does it fit the code around it. You never edit \
code."""
"""What a reviewer is, whichever way it answers."""

SYSTEM = (
    ROLE
    + """ Give your judgement by calling the `verdict` tool exactly once: `approve`, or \
`request_changes` with concrete comments tied to a file and line where you can. Ask for \
changes only for real problems, not for taste."""
)

VERDICT_TOOL: dict[str, Any] = {
    "name": "verdict",
    "description": "Give the review's decision on the change.",
    "input_schema": {
        "type": "object",
        "properties": {
            "decision": {"type": "string", "enum": ["approve", "request_changes"]},
            "summary": {"type": "string", "description": "One or two sentences: why."},
            "comments": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string"},
                        "line": {"type": "integer"},
                        "body": {"type": "string"},
                    },
                    "required": ["body"],
                },
            },
        },
        "required": ["decision", "summary"],
    },
}


class ReviewFailed(RuntimeFailure):
    """No usable verdict: the model API or the agent failed, or gave no verdict."""

    spent: Verdict | None = None
    """What the review spent before it failed (tokens, cost, model and runtime; no decision),
    when the model answered at all: a failed review costs as much as one that succeeds."""


def failing(exc: ReviewFailed, spent: Verdict) -> ReviewFailed:
    """`exc`, carrying what the review spent."""
    exc.spent = spent
    return exc


class ReviewRequest(Record):
    title: str
    """The bead's title (a landing: the convoy's)."""
    body: str
    branch: str
    target: str
    diff: str
    cut: bool = False
    """The diff was too long and is cut short."""
    instructions: str = ""
    """`custom_instructions.refinery`."""
    knowledge: str = ""
    """The town's accepted notes for the rig most relevant to the task, one per line: what the
    change is held to besides the instructions."""
    clone: Path | None = None
    """The rig's clone, where a reviewer that reads the code checks the change out."""
    head: str = ""
    """The change's head commit."""
    logs: Path | None = None
    """A folder of the step's logs for this review (an agent reviewer's transcript)."""
    stop: threading.Event | None = None
    """Set when the refinery stops: an agent reviewer is killed and `gates.Stopped` raised."""

    def prompt(self) -> str:
        parts = [
            f"# Task\n\n{self.title}\n\n{self.body}".rstrip(),
            f"# Change\n\nBranch `{self.branch}` onto `{self.target}`:\n\n"
            f"```diff\n{self.diff}\n```",
        ]
        if self.cut:
            parts.append("(The diff is longer than shown; judge what you can see.)")
        if self.instructions:
            parts.append(f"# The team's review instructions\n\n{self.instructions}")
        if self.knowledge:
            parts.append(
                "# What this team knows\n\nHold the change to these notes as well; ask for "
                f"changes when it goes against one.\n\n{self.knowledge}"
            )
        return "\n\n".join(parts)


class Verdict(Record):
    decision: str
    """`approve` or `changes`."""
    summary: str
    comments: list[dict[str, Any]] = field(default_factory=list)
    """`{"path", "line", "body"}` each (path and line may be None)."""
    input_tokens: int = 0
    """All input tokens of the review, cache reads and writes included."""
    output_tokens: int = 0
    cache_tokens: int = 0
    """The part of `input_tokens` read from or written to the prompt cache."""
    cost_usd: float | None = None
    """What the review cost; None when neither the runtime nor the price table said."""
    model: str | None = None
    runtime: str = "api"
    """The agent runtime that reviewed, or `api` for a direct call to the model's API."""

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary, "comments": self.comments}


def spend_row(verdict: Verdict, at: str, **where: str | None) -> SpendRow:
    """What a review spent, as `spend` keeps it (`where`: its rig, bead, convoy, merge
    request), as the reviewer's."""
    return SpendRow(
        at,
        "reviewer",
        verdict.runtime,
        model=verdict.model or None,
        tokens_in=verdict.input_tokens,
        tokens_out=verdict.output_tokens,
        cache_tokens=verdict.cache_tokens,
        cost_usd=verdict.cost_usd,
        **where,
    )


class Reviewer(Protocol):
    def review(self, request: ReviewRequest) -> Verdict: ...


def parse_verdict(arguments: Any) -> Verdict:
    """A checked `Verdict` from the `verdict` tool's arguments."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise ReviewFailed(f"The reviewer's verdict is not JSON: {exc}.") from exc
    if not isinstance(arguments, Mapping):
        raise ReviewFailed("The reviewer's verdict is not an object.")
    decision = arguments.get("decision")
    if decision not in ("approve", "request_changes"):
        raise ReviewFailed(
            f"The reviewer's decision is {decision!r}, not approve or request_changes."
        )
    comments = []
    for item in arguments.get("comments") or []:
        if not isinstance(item, Mapping) or not str(item.get("body", "")).strip():
            continue
        line = item.get("line")
        comments.append(
            {
                "path": str(item["path"]) if item.get("path") else None,
                "line": line if isinstance(line, int) and line > 0 else None,
                "body": str(item["body"]).strip(),
            }
        )
    summary = str(arguments.get("summary") or "").strip()
    return Verdict(APPROVE if decision == "approve" else CHANGES, summary, comments)


class ModelReviewer:
    """Review through a model API (Anthropic or OpenAI-compatible), one request per diff."""

    def __init__(self, model: str, base_url: str, api_key: str) -> None:
        self.model, self.base_url, self.api_key = model, base_url, api_key

    def review(self, request: ReviewRequest) -> Verdict:
        from gastown import llm

        # The reviewer's own client: its failures name the reviewer ("The reviewer's model API
        # failed: …", "The reviewer cannot reach its model: …"), already a whole sentence.
        try:
            client = llm.make(
                llm.api_for(self.model, self.base_url),
                self.model,
                self.base_url,
                self.api_key,
                role="reviewer",
            )
        except llm.ModelFailure as exc:
            raise ReviewFailed(exc.message) from exc
        try:
            reply = client.send(
                SYSTEM, [{"role": "user", "content": request.prompt()}], [VERDICT_TOOL]
            )
        except llm.ModelFailure as exc:
            raise ReviewFailed(exc.message) from exc
        finally:
            client.close()
        spent = Verdict(
            "",
            "",
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            cache_tokens=reply.cache_read_tokens + reply.cache_write_tokens,
            cost_usd=_cost(reply, self.model),
            model=reply.model or self.model or None,
        )
        call = next((c for c in reply.calls if c.name == "verdict"), None)
        if call is None:
            said = reply.text.strip().replace("\n", " ")[:200]
            raise failing(
                ReviewFailed(f"The reviewer answered without a verdict: {said!r}."), spent
            )
        try:
            verdict = parse_verdict(call.input)
        except ReviewFailed as exc:
            raise failing(exc, spent) from None
        return replace(
            spent, decision=verdict.decision, summary=verdict.summary, comments=verdict.comments
        )


def _cost(reply: Any, model: str) -> float | None:
    """What a reply cost by the price table (None: the model has no price)."""
    from gastown.runtimes.prices import call_cost

    return call_cost(
        reply.model or model,
        reply.input_tokens,
        reply.output_tokens,
        reply.cache_read_tokens,
        reply.cache_write_tokens,
    )


def comments_text(verdict: Verdict) -> str:
    """The comments as a list a polecat can work through."""
    lines = []
    for c in verdict.comments:
        where = c.get("path") or "general"
        if c.get("line"):
            where += f":{c['line']}"
        lines.append(f"- {where}: {c['body']}")
    return "\n".join(lines)
