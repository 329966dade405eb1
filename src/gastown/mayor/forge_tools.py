"""The mayor's triage tools: a rig's issues on its forge (GitHub or GitLab), read, labelled,
commented on, accepted as a bead or a convoy, or closed as duplicates. Thin adapters, like
`tools.py`: the forge client does the talking, the services make the beads."""

from __future__ import annotations

import importlib
from typing import Any

from gastown.forge.base import Issue
from gastown.mayor.toolkit import Arg, Context, Tool
from gastown.services import beads, sling, triage

BODY_CHARS = 4000
"""How much of an issue's body `read_issue` gives back."""


def _forge(ctx: Context, a: dict[str, Any]) -> Any:
    return triage.forge_of(ctx.ledger, ctx.town, ctx.environ, a["rig"])


def _issue_json(issue: Issue, body: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number": issue.number,
        "title": issue.title,
        "state": issue.state,
        "labels": issue.labels,
        "author": issue.author,
        "url": issue.url,
    }
    if body:
        out["body"] = issue.body[:BODY_CHARS]
    return out


def _list_issues(ctx: Context, a: dict[str, Any]) -> Any:
    found = _forge(ctx, a).list_issues(labels=a.get("labels") or (), state=a.get("state", "open"))
    return [_issue_json(i) for i in found or []]


def _read_issue(ctx: Context, a: dict[str, Any]) -> Any:
    forge = _forge(ctx, a)
    issue = forge.get_issue(a["number"])
    comments = [{"user": c.user, "body": c.body[:1000]} for c in forge.list_comments(a["number"])]
    return {**_issue_json(issue, body=True), "comments": comments}


def _label_issue(ctx: Context, a: dict[str, Any]) -> Any:
    _forge(ctx, a).add_labels(a["number"], [str(x) for x in a["labels"]])
    return {"number": a["number"], "labelled": a["labels"]}


def _comment_issue(ctx: Context, a: dict[str, Any]) -> Any:
    return {"comment": _forge(ctx, a).comment(a["number"], a["body"])}


def _accept_issue(ctx: Context, a: dict[str, Any]) -> Any:
    """A bead made from the issue (the intake's own path when the town has it), and the issue
    told which bead works on it."""
    forge = _forge(ctx, a)
    issue = forge.get_issue(a["number"])
    try:  # the intake links the bead to the issue, so it is never taken twice
        intake: Any = importlib.import_module("gastown.services.issues")
    except ImportError:
        intake = None
    with ctx.ledger.store.reader() as tx:
        rig = tx.get_rig(a["rig"])
    if rig is not None and intake is not None:
        bead, link, created = intake.link_issue(
            ctx.ledger, rig, forge, issue, reason="accepted by the mayor in triage"
        )
        if created:
            intake.announce(ctx.ledger, forge, bead, link)
        return {"bead": bead.id, "issue": issue.number, "created": created}
    spec = beads.NewBead(
        title=issue.title[:200],
        body=f"{issue.body}\n\nFrom issue {issue.url}".strip(),
        priority=a.get("priority", 2),
        labels=[label for label in issue.labels if label.strip()][:10],
        rig=a["rig"],
    )
    bead = sling.sling_new(ctx.ledger, spec)
    forge.comment(issue.number, f"Gas Town is on it: bead {bead.id}.")
    return {"bead": bead.id, "issue": issue.number, "created": True}


def _close_duplicate(ctx: Context, a: dict[str, Any]) -> Any:
    forge = _forge(ctx, a)
    original = forge.get_issue(a["original"])  # it must exist before anything is closed
    if original.number == a["number"]:
        from gastown.errors import InvalidValue

        raise InvalidValue("An issue is not a duplicate of itself.")
    forge.close_issue(a["number"], f"Duplicate of #{original.number}.")
    return {"closed": a["number"], "duplicate_of": original.number}


_RIG = Arg("rig", "string", "the rig whose repository holds the issues", required=True)
_NUMBER = Arg("number", "integer", "the issue's number", required=True)
_LABELS = Arg("labels", "array", "label names", items={"type": "string"})

TOOLS: tuple[Tool, ...] = (
    Tool(
        "list_issues",
        "Issues of a rig's repository on its forge (GitHub or GitLab).",
        [_RIG, Arg("state", "string", "open (default), closed or all"), _LABELS],
        _list_issues,
    ),
    Tool(
        "read_issue",
        "One issue with its body and comments.",
        [_RIG, _NUMBER],
        _read_issue,
    ),
    Tool(
        "label_issue",
        "Add labels to an issue (labels the repository lacks are created).",
        [_RIG, _NUMBER, Arg("labels", "array", "label names", True, {"type": "string"})],
        _label_issue,
    ),
    Tool(
        "comment_issue",
        "Comment on an issue.",
        [_RIG, _NUMBER, Arg("body", "string", "the comment", required=True)],
        _comment_issue,
    ),
    Tool(
        "accept_issue",
        "Take an issue on as a bead slung on the rig; the issue gets a comment naming it. For "
        "work that needs several steps, use sling_batch with the issue's URL in the bodies.",
        [_RIG, _NUMBER, Arg("priority", "integer", "0 (highest) to 4; default 2")],
        _accept_issue,
    ),
    Tool(
        "close_duplicate",
        "Close an issue as a duplicate of another, with a comment naming the original.",
        [_RIG, _NUMBER, Arg("original", "integer", "the issue it duplicates", required=True)],
        _close_duplicate,
    ),
)
