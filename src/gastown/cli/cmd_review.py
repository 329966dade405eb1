"""`gt review URL`: a first-pass review of any pull or merge request, people's included,
posted on it by the rig's reviewer (the refinery's own)."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli.app import App


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    review = sub.add_parser(
        "review",
        parents=[shared],
        help="review a pull or merge request and post the review on it",
        description="Fetch the pull request's head into its rig's clone, have the rig's "
        "reviewer read the change, and post the review: comments on the lines the diff "
        "shows, the rest in its body; REQUEST_CHANGES or COMMENT. It never approves unless "
        "--approve-ok is given, and never merges. A pull request reviewed before is "
        "reviewed for what changed since.",
    )
    review.add_argument("url", metavar="URL", help="the pull or merge request's address")
    review.add_argument(
        "--approve-ok",
        action="store_true",
        help="post an approving verdict as an approval (else as a comment)",
    )
    review.set_defaults(handler=review_pull)


def review_pull(app: App) -> int:
    from gastown.refinery.pr_review import review_url
    from gastown.refinery.step import reviewer_for

    done = review_url(
        app.ledger,
        app.town,
        app.environ,
        app.args.url,
        reviewer_for,
        approve_ok=app.args.approve_ok,
    )
    verdict = "approve" if done.decision == "approve" else "changes requested"
    since = f" (what changed since {done.since[:12]})" if done.since else ""
    lines = [
        f"Reviewed pull request #{done.number} at {done.head[:12]}{since}: {verdict}.",
        done.summary,
        f"Posted as {done.event} with {done.line_comments} comment(s) on lines"
        + (f" and {done.folded_comments} in its body." if done.folded_comments else "."),
    ]
    app.emit(done.to_json(), "\n".join(line for line in lines if line))
    return 0
