"""One refinery step on one rig: tend the queue, take a batch, and carry it as far as it goes.

    tend      rework that closed queues its merge request again (failed rework holds it); a
              review-then-land convoy whose beads are all in gets its landing merge request;
              merge requests whose bead went elsewhere end; open pull requests are followed
    review    each merge request not yet approved at its head is read by the reviewer;
              requested changes become a rework bead (a person after too many rounds)
    stack     the batch is put onto the fetched target one by one in the scratch worktree;
              a conflict becomes a "Resolve conflicts" bead (or an escalation)
    gates     the rig's gates run once on the top of the stack; a failure is re-run on the
              untouched target (failing there too, it is pre-existing: a bug bead, not blame);
              a red batch is bisected over its prefixes, the good ones land, the culprit is
              reworked, the rest queue again
    land      direct: the stack's commit is pushed to the target (never forced) and checked;
              pr: the branch is pushed and a pull request opened, then followed

A step runs in a worker thread with a store handle of its own and an exclusive lock per rig,
so two steps (the town process and `gt refinery run`, say) never touch one target at once.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from gastown import config
from gastown.clock import Clock, SystemClock
from gastown.errors import GastownError, GitError
from gastown.git import merge as gm
from gastown.git import worktree as wt
from gastown.model import (
    APPROVE,
    CLOSED,
    CONVOY_OPEN,
    FAILED,
    IN_REVIEW,
    MR_BEAD,
    MR_FAILED,
    MR_LANDING,
    MR_MERGED,
    MR_OPEN,
    MR_PR,
    MR_REWORK,
    MR_TESTING,
    REVIEW_THEN_LAND,
    Convoy,
    MergeRequest,
    Rig,
)
from gastown.polecat.context import feature_branch
from gastown.record import Record, field
from gastown.refinery import outcome, queue
from gastown.refinery.gates import GateResult, Stopped, first_failure, run_gate, run_gates
from gastown.refinery.review import ModelReviewer, Reviewer, ReviewFailed, ReviewRequest
from gastown.services import beads
from gastown.services.beads import NewBead
from gastown.services.ledger import Ledger
from gastown.store import BeadFilter
from gastown.town import Town, load

MAX_ATTEMPTS = 3
"""Steps that end without a decision (a failing reviewer, a moving target) before a person is
asked."""


def model_reviewer(settings: config.Resolved) -> Reviewer:
    model = settings["role_models.refinery"] or settings["default_model"]
    return ModelReviewer(model, settings["model_base_url"], settings["model_api_key"])


class Seams(Record):
    """What a step reaches outside the town: the reviewer (a model) and GitHub."""

    reviewer: Callable[[config.Resolved], Reviewer] = model_reviewer
    github: Callable[[config.Resolved, Rig], Any] | None = None
    clock: Clock = field(default_factory=SystemClock)
    stop: threading.Event = field(default_factory=threading.Event)
    """Set when the town process stops: a running gate is killed, the batch requeued."""


class Progress(Record):
    """What a step did, for the caller to decide whether to step again."""

    landed: list[str] = field(default_factory=list)
    reworked: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    changed: bool = False
    """Anything at all was written (the queue may hold more)."""
    busy: bool = False
    """Another step holds the rig's lock."""

    def to_json(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__fields__}


@contextmanager
def rig_lock(town: Town, rig: str) -> Iterator[bool]:
    """An exclusive, non-blocking lock on a rig's refinery; yields False when it is taken."""
    folder = town.path / "run"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"refinery-{rig}.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class RigStep:
    """One step's view of its rig: where things are, the settings, and the ledger."""

    def __init__(
        self,
        town: Town,
        ledger: Ledger,
        rig: Rig,
        settings: config.Resolved,
        seams: Seams,
        environ: Mapping[str, str],
    ) -> None:
        self.town, self.ledger, self.rig, self.settings = town, ledger, rig, settings
        self.seams, self.environ = seams, environ
        self.clone = (town.path / rig.path).resolve()
        self.scratch_path = town.path / "worktrees" / rig.name / ".refinery"
        self.identity = gm.refinery_identity(rig.name)
        self.progress = Progress()
        self.step_id = f"{seams.clock.now().strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"

    # --- the step -------------------------------------------------------------------------

    def run(self) -> Progress:
        self.tend()
        with self.ledger.store.reader() as tx:
            waiting = tx.list_merge_requests(rig=self.rig.name, status=MR_OPEN)
        size = (
            1 if self.settings["merge_strategy"] == "pr" else self.settings["refinery.batch_size"]
        )
        batch = queue.next_batch(waiting, size)
        if batch and not self.seams.stop.is_set():
            self.process(outcome.start(self.ledger, batch))
        return self.progress

    def process(self, batch: list[MergeRequest]) -> None:
        if not batch:
            return
        self.progress.changed = True
        try:
            self.fetch()
            target = self.target_commit(batch[0].target)
            with wt.clone_lock(self.clone):
                scratch = gm.scratch(self.clone, self.scratch_path)
            batch = self.review(batch, target)
            stack = self.stack(scratch, target, batch)
            if not stack:
                return
            good = self.gate(scratch, target, stack)
            if good:
                self.land(good)
        except GastownError as exc:
            self.unfinished(batch, str(exc))
        except Stopped:
            pass  # requeued below, without counting an attempt
        finally:
            self.release(batch)

    def release(self, batch: Sequence[MergeRequest]) -> None:
        """Nothing of the batch is left `testing` when the step ends, whatever happened."""
        with self.ledger.store.reader() as tx:
            stuck = [
                m
                for m in (tx.get_merge_request(mr.id) for mr in batch)
                if m is not None and m.status == MR_TESTING
            ]
        for mr in stuck:
            outcome.requeue(self.ledger, mr, "the refinery step ended before deciding")
            self.progress.requeued.append(mr.id)

    def unfinished(self, batch: Sequence[MergeRequest], why: str) -> None:
        """The step failed for a reason that is not the change's (git, the remote): count the
        attempt, and after a few ask a person."""
        for mr in batch:
            with self.ledger.store.reader() as tx:
                current = tx.get_merge_request(mr.id)
            if current is None or current.status != MR_TESTING:
                continue
            if current.attempts + 1 >= MAX_ATTEMPTS:
                outcome.hold(self.ledger, current, why, "high", attempts=current.attempts + 1)
                self.progress.held.append(mr.id)
            else:
                outcome.requeue(self.ledger, current, why, attempts=current.attempts + 1)
                self.progress.requeued.append(mr.id)

    # --- tend -----------------------------------------------------------------------------

    def tend(self) -> None:
        with self.ledger.store.reader() as tx:
            mine = tx.list_merge_requests(
                rig=self.rig.name, statuses=(MR_OPEN, MR_REWORK, MR_PR, MR_TESTING)
            )
            rework = {
                m.id: tx.get_bead(m.rework_bead_id)
                for m in mine
                if m.status == MR_REWORK and m.rework_bead_id
            }
            sources = {
                m.id: tx.get_bead(m.bead_id)
                for m in mine
                if m.status == MR_OPEN and m.kind == MR_BEAD and m.bead_id
            }
            convoys = [
                c
                for c in tx.list_convoys(rig=self.rig.name, status=CONVOY_OPEN)
                if c.merge_mode == REVIEW_THEN_LAND and c.total and c.closed == c.total
            ]
        for mr in mine:
            if mr.status == MR_TESTING:  # this step holds the rig: whoever took it is gone
                outcome.requeue(self.ledger, mr, "the refinery step that took it stopped")
                self.progress.changed = True
                continue
            bead = rework.get(mr.id)
            if bead is not None and bead.status == CLOSED:
                outcome.requeue(self.ledger, mr, f"its rework {bead.id} closed")
                self.progress.changed = True
            elif bead is not None and bead.status == FAILED:
                outcome.hold(self.ledger, mr, f"its rework {bead.id} failed.", "high")
                self.progress.held.append(mr.id)
            source = sources.get(mr.id)
            if source is not None and source.status != IN_REVIEW:
                outcome.fail(self.ledger, mr, f"its bead {source.id} is {source.status}")
                self.progress.changed = True
        for convoy in convoys:
            with self.ledger.store.reader() as tx:
                theirs = tx.list_merge_requests(convoy_id=convoy.id)
            self.land_convoy(convoy, theirs)
        if any(m.status == MR_PR for m in mine):
            from gastown.refinery import pr

            pr.follow_all(self, [m for m in mine if m.status == MR_PR])

    def github(self) -> Any:
        """The rig's GitHub client (None without a token or a repository name)."""
        if self.seams.github is not None:
            return self.seams.github(self.settings, self.rig)
        from gastown.refinery import pr

        return pr.github_for(self.settings, self.rig, self.environ)

    def land_convoy(self, convoy: Convoy, mrs: Sequence[MergeRequest]) -> None:
        """Every bead of a review-then-land convoy is in: its feature branch goes to the
        target as one landing merge request (none needed when nothing landed on it)."""
        landing = [m for m in mrs if m.kind == MR_LANDING and m.status != MR_FAILED]
        if landing or not any(m.status == MR_MERGED for m in mrs):
            return
        branch = feature_branch(convoy)
        self.fetch()
        head = gm.rev(self.clone, f"refs/remotes/origin/{branch}") or gm.rev(
            self.clone, f"refs/heads/{branch}"
        )
        target = self.target_commit(self.rig.branch)
        if head is None:
            return
        with self.ledger.store.transaction() as tx:
            now = self.ledger.now()
            priorities = [
                b.priority for b in tx.list_beads(BeadFilter(convoy_id=convoy.id, limit=None))
            ]
            mr = MergeRequest(
                id=f"mr-{secrets.token_hex(4)}",
                bead_id=None,
                run_id=None,
                rig=self.rig.name,
                branch=branch,
                target=self.rig.branch,
                base_commit=gm.merge_base(self.clone, target, head),
                head_commit=head,
                summary=f"Land convoy {convoy.id}: {convoy.title}",
                created_at=now,
                updated_at=now,
                kind=MR_LANDING,
                convoy_id=convoy.id,
                priority=min(priorities, default=2),
            )
            tx.insert_merge_request(mr)
            tx.append_events(
                [
                    self.ledger.event(
                        "mr.created",
                        at=now,
                        convoy_id=convoy.id,
                        rig=self.rig.name,
                        after={"mr": mr.id, "branch": branch, "target": mr.target},
                        reason=f"every bead of convoy {convoy.id} is in: land {branch}",
                    )
                ]
            )
        self.progress.changed = True

    # --- git --------------------------------------------------------------------------------

    def fetch(self) -> None:
        with wt.clone_lock(self.clone):  # a dispatch to this rig may be fetching too
            wt.fetch(self.clone)

    def push(self, refspecs: Sequence[str]) -> None:
        with wt.clone_lock(self.clone):  # a push updates the clone's view of the remote
            gm.push(self.clone, "origin", refspecs, "--quiet")

    # --- target ---------------------------------------------------------------------------

    def target_commit(self, target: str) -> str:
        """The target's commit as fetched (a feature branch not pushed yet: the local one,
        else made from the rig's target)."""
        with wt.clone_lock(self.clone):  # it may make the local branch
            return wt.base_commit(self.clone, target, create_from=self.rig.branch)

    # --- review ---------------------------------------------------------------------------

    def review(self, batch: list[MergeRequest], target: str) -> list[MergeRequest]:
        """The merge requests the reviewer approves (or all, with review off)."""
        if not self.settings["refinery.code_review"]:
            return batch
        reviewer: Reviewer | None = None
        approved = []
        for mr in batch:
            if mr.verdict == APPROVE and (mr.review or {}).get("head") == mr.head_commit:
                approved.append(mr)
                continue
            reviewer = reviewer or self.seams.reviewer(self.settings)
            request = self.review_request(mr, target)
            try:
                verdict = reviewer.review(request)
            except ReviewFailed as exc:
                self.unfinished([mr], str(exc))
                continue
            record = {**verdict.to_json(), "head": mr.head_commit}
            tokens = {"input_tokens": verdict.input_tokens, "output_tokens": verdict.output_tokens}
            if verdict.decision == APPROVE:
                got = outcome.update(
                    self.ledger,
                    mr,
                    "mr.reviewed",
                    f"approved: {verdict.summary}",
                    {"verdict": APPROVE, **tokens},
                    verdict=APPROVE,
                    review=record,
                )
                if got is not None:
                    approved.append(got)
                continue
            self.changes_requested(mr, verdict.summary, record, tokens)
        return approved

    def review_request(self, mr: MergeRequest, target: str) -> ReviewRequest:
        title, body = mr.summary or mr.branch, ""
        with self.ledger.store.reader() as tx:
            bead = tx.get_bead(mr.bead_id) if mr.bead_id else None
            convoy = tx.get_convoy(mr.convoy_id) if mr.convoy_id else None
            if bead is not None:
                title, body = bead.title, bead.body
            elif convoy is not None:
                done = tx.list_beads(BeadFilter(convoy_id=convoy.id, limit=None))
                title = f"Convoy {convoy.id}: {convoy.title}"
                body = "It delivers:\n" + "\n".join(f"- {b.id} {b.title}" for b in done)
        text, cut = gm.diff(self.clone, target, mr.head_commit)
        return ReviewRequest(
            title,
            body,
            mr.branch,
            mr.target,
            text,
            cut,
            self.settings["custom_instructions.refinery"],
        )

    def changes_requested(
        self, mr: MergeRequest, summary: str, record: dict[str, Any], tokens: dict[str, int]
    ) -> None:
        from gastown.refinery.review import Verdict, comments_text

        cycles = mr.review_cycles + 1
        fields: dict[str, Any] = {"verdict": "changes", "review": record, "review_cycles": cycles}
        if cycles >= self.settings["refinery.max_review_cycles"]:
            outcome.hold(
                self.ledger,
                mr,
                f"the reviewer asked for changes {cycles} times; the last: {summary}",
                **fields,
            )
            self.progress.held.append(mr.id)
            return
        comments = comments_text(Verdict("changes", summary, record.get("comments") or []))
        body = (
            f"The reviewer asked for changes to merge request {mr.id} (branch `{mr.branch}`, "
            f"onto `{mr.target}`), round {cycles}.\n\n{summary}\n\n{comments}\n\n"
            "Make the changes on this branch and commit them; the merge request is reviewed "
            "again when you are done."
        )
        outcome.send_back(
            self.ledger,
            mr,
            f"the reviewer asked for changes: {summary}",
            f"Rework: {self.title_of(mr)}",
            body,
            ["review"],
            self.settings["refinery.max_reworks"],
            **fields,
        )
        self.progress.reworked.append(mr.id)

    def title_of(self, mr: MergeRequest) -> str:
        with self.ledger.store.reader() as tx:
            bead = tx.get_bead(mr.bead_id) if mr.bead_id else None
        return bead.title if bead is not None else (mr.summary or mr.branch)

    # --- stack ----------------------------------------------------------------------------

    def stack(
        self, scratch: Path, target: str, batch: Sequence[MergeRequest]
    ) -> list[tuple[MergeRequest, str]]:
        """Put each merge request onto the target in turn; the commit after each one."""
        gm.reset(scratch, target)
        stacked = []
        for mr in batch:
            applied = gm.put_on(
                scratch,
                mr.head_commit,
                f"Merge {mr.branch}: {self.title_of(mr)}",
                self.identity,
                method=self.settings["refinery.merge_method"],
                fast_forward=self.settings["refinery.fast_forward"],
            )
            if applied.commit is not None:
                stacked.append((mr, applied.commit))
            else:
                self.conflict(mr, target, applied.conflicts)
        return stacked

    def conflict(self, mr: MergeRequest, target: str, files: Sequence[str]) -> None:
        listed = "\n".join(f"- {f}" for f in files) or "- (git named none)"
        why = f"it conflicts with {mr.target} in {len(files)} file(s): {', '.join(files)[:300]}"
        if not self.settings["refinery.auto_resolve_conflicts"]:
            outcome.hold(self.ledger, mr, why[0].upper() + why[1:] + ".")
            self.progress.held.append(mr.id)
            return
        context = gm.conflict_context(self.clone, target, mr.head_commit, files)
        body = (
            f"Merge request {mr.id} (branch `{mr.branch}`) no longer merges cleanly onto "
            f"`{mr.target}`. On this branch, run `git fetch origin` and "
            f"`git merge origin/{mr.target}`, resolve the conflicts keeping the intent of both "
            f"sides, run the tests, and commit.\n\nConflicting files:\n{listed}\n\n{context}"
        )
        outcome.send_back(
            self.ledger,
            mr,
            why,
            f"Resolve conflicts: {self.title_of(mr)}",
            body,
            ["conflict"],
            self.settings["refinery.max_reworks"],
        )
        self.progress.reworked.append(mr.id)

    # --- gates ----------------------------------------------------------------------------

    def gate(
        self, scratch: Path, target: str, stack: list[tuple[MergeRequest, str]]
    ) -> list[tuple[MergeRequest, str, list[GateResult]]]:
        """Run the gates over the stack; what may land, each with the gate results that let
        it. The culprit of a red stack is reworked and whatever follows it requeued."""
        commands: list[str] = list(self.settings["refinery.gates"])
        if not commands:
            return [(mr, commit, []) for mr, commit in stack]
        excused: dict[str, GateResult] = {}
        runs: dict[int, list[GateResult]] = {}

        def passes(k: int) -> bool:
            runs[k] = self.run_gates(scratch, stack[k - 1][1], commands, target, excused, k)
            return first_failure(runs[k]) is None

        if passes(len(stack)):
            if excused and not self.settings["refinery.land_on_preexisting_failure"]:
                for mr, _ in stack:
                    outcome.hold(
                        self.ledger,
                        mr,
                        f"the gate `{next(iter(excused))}` fails on {mr.target} itself, and "
                        "refinery.land_on_preexisting_failure is off.",
                    )
                    self.progress.held.append(mr.id)
                return []
            return [(mr, commit, runs[len(stack)]) for mr, commit in stack]
        bad = 1 if len(stack) == 1 else queue.first_bad(len(stack), passes)
        culprit, _ = stack[bad - 1]
        self.gates_failed(culprit, runs[bad])
        for mr, _ in stack[bad:]:
            outcome.requeue(
                self.ledger, mr, f"tested again without {culprit.id}, whose gates failed"
            )
            self.progress.requeued.append(mr.id)
        good = stack[: bad - 1]
        return [(mr, commit, runs.get(bad - 1) or runs[len(stack)]) for mr, commit in good]

    def run_gates(
        self,
        scratch: Path,
        commit: str,
        commands: Sequence[str],
        target: str,
        excused: dict[str, GateResult],
        k: int,
    ) -> list[GateResult]:
        """The gates on `commit`; a failure that the untouched target shares is excused (and
        a bug bead filed for it once) and the remaining gates run on."""
        timeout = float(self.settings["refinery.gate_timeout_seconds"])
        env = dict(self.settings["env_vars"])
        logs = self.town.path / "logs" / "refinery" / self.rig.name / self.step_id / f"top-{k}"
        results: list[GateResult] = []
        while True:
            gm.reset(scratch, commit)
            got = run_gates(
                commands, scratch, logs, timeout, env, frozenset(excused), self.seams.stop
            )
            results.extend(got)
            failed = first_failure(got)
            if failed is None or failed.command in excused:
                return results
            gm.reset(scratch, target)
            index = list(commands).index(failed.command) + 1
            again = run_gate(
                failed.command,
                scratch,
                logs / f"target-{index}.log",
                timeout,
                env,
                self.seams.stop,
            )
            if again.ok:
                return results
            failed.excused = True
            excused[failed.command] = again
            self.preexisting(failed, target)

    def preexisting(self, failed: GateResult, target: str) -> None:
        title = f"Gate fails on {self.rig.branch}: {failed.command}"[:200]
        with self.ledger.store.transaction() as tx:
            found = tx.list_beads(
                BeadFilter(rig=self.rig.name, statuses=["open", "in_progress"], limit=None)
            )
            if any(b.title == title for b in found):
                return
        beads.create(
            self.ledger,
            NewBead(
                title=title,
                body=(
                    f"The refinery's gate `{failed.command}` fails on `{self.rig.branch}` at "
                    f"{target[:10]} without any merge request on top, so it is not blamed on "
                    f"one. Make it pass.\n\nThe end of its output:\n\n```\n{failed.log_tail}\n```"
                ),
                type="bug",
                priority=1,
                labels=["gate"],
                rig=self.rig.name,
            ),
            reason="a gate fails on the target itself",
        )

    def gates_failed(self, mr: MergeRequest, results: list[GateResult]) -> None:
        failed = first_failure(results)
        assert failed is not None
        why = f"the gate `{failed.command}` failed (exit {failed.exit})"
        gates = [r.to_json() for r in results]
        body = (
            f"Merge request {mr.id} (branch `{mr.branch}`, onto `{mr.target}`) fails the "
            f"gate `{failed.command}`; it passes on `{mr.target}` without this change. Fix "
            f"the change on this branch and commit; the merge request is tested again when "
            f"you are done.\n\nThe end of its output:\n\n```\n{failed.log_tail}\n```"
        )
        outcome.send_back(
            self.ledger,
            mr,
            why,
            f"Rework: {self.title_of(mr)}",
            body,
            ["gate"],
            self.settings["refinery.max_reworks"],
            gates=gates,
        )
        self.progress.reworked.append(mr.id)

    # --- land -----------------------------------------------------------------------------

    def land(self, good: list[tuple[MergeRequest, str, list[GateResult]]]) -> None:
        first = good[0][0]
        if self.settings["merge_strategy"] == "pr" and first.target == self.rig.branch:
            from gastown.refinery import pr

            for mr, _, results in good:
                pr.open_pull(self, mr, [r.to_json() for r in results])
            return
        tip = good[-1][1]
        target = first.target
        try:
            self.push([f"{tip}:refs/heads/{target}"])
        except gm.PushRejected as exc:
            self.rejected([mr for mr, _, _ in good], target, str(exc))
            return
        if gm.remote_tip(self.clone, "origin", target) != tip:
            self.rejected([mr for mr, _, _ in good], target, "the push did not take")
            return
        if target != self.rig.branch:
            with wt.clone_lock(self.clone):
                gm.follow_local(self.clone, target, tip)
        self.fetch()
        how = "fast-forward" if len(good) == 1 and tip == first.head_commit else "merge"
        done = outcome.landed(
            self.ledger,
            [(mr, {"gates": [r.to_json() for r in results]}) for mr, _, results in good],
            tip,
            how if len(good) == 1 else f"batch of {len(good)}",
        )
        self.progress.landed.extend(m.id for m in done)

    def rejected(self, mrs: Sequence[MergeRequest], target: str, why: str) -> None:
        """A push the remote refused: when the target moved meanwhile, the batch is tested
        again on its new tip (a few times at most); otherwise a person must look."""
        before = gm.rev(self.clone, f"refs/remotes/origin/{target}")
        with suppress(GitError):
            self.fetch()
        moved = gm.rev(self.clone, f"refs/remotes/origin/{target}") != before
        for mr in mrs:
            if moved and mr.attempts + 1 < MAX_ATTEMPTS:
                outcome.requeue(
                    self.ledger,
                    mr,
                    f"{target} moved while it was tested; testing again ({why})",
                    attempts=mr.attempts + 1,
                )
                self.progress.requeued.append(mr.id)
            else:
                outcome.hold(self.ledger, mr, why, "high", attempts=mr.attempts + 1)
                self.progress.held.append(mr.id)


def run_step(
    town: Town,
    rig_name: str,
    environ: dict[str, str] | None = None,
    seams: Seams | None = None,
    actor: str = "refinery",
) -> Progress:
    """One refinery step on a rig, with its own store handle and the rig's lock."""
    environ = dict(os.environ) if environ is None else environ
    with rig_lock(town, rig_name) as mine:
        if not mine:
            return Progress(busy=True)
        town = load(town.path)  # settings changed since the town process started count
        store = town.open_store()
        try:
            seams = seams or Seams()
            ledger = Ledger(store, prefix=town.prefix, actor=actor, clock=seams.clock)
            with store.reader() as tx:
                rig = tx.get_rig(rig_name)
            if rig is None:
                return Progress()
            settings = config.resolve(town.settings, rig.settings, environ)
            return RigStep(town, ledger, rig, settings, seams, environ).run()
        finally:
            store.close()
