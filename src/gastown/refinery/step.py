"""One refinery step on one rig: tend the queue, take a batch, and carry it as far as it goes.

    tend       (`tend`) what changed while the refinery was away: finished rework, convoys
               ready to land, merge requests whose bead went elsewhere, open pull requests
    review     (`reviewing`) each merge request not yet approved at its head is reviewed
    prepare    (`prepare`) the batch is put onto the fetched target in the scratch worktree
    gates      (`gating`) the gates run once on the top of the stack; a red stack is bisected
    land       (`strategy`, chosen once per step from `merge_strategy`) one commit of the
               gated tree (`landing`) pushed to the target (`land`), or each branch through
               a pull request on the rig's forge (`pr`)

A step runs in a worker thread with a store handle of its own and an exclusive lock per rig,
so two steps (the town process and `gt refinery run`, say) never touch one target at once.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from gastown import config
from gastown.clock import Clock, SystemClock
from gastown.errors import GastownError
from gastown.forge.base import Forge
from gastown.forge.gitauth import authorize_url
from gastown.git import merge as gm
from gastown.git import worktree as wt
from gastown.model import (
    MR_OPEN,
    MR_TESTING,
    MergeRequest,
    Rig,
)
from gastown.polecat.remote import fetch_runs
from gastown.record import Record, field
from gastown.refinery import babysat, gating, outcome, prepare, queue, reviewing, tend
from gastown.refinery.gate_runs import GateRunner, runner_for
from gastown.refinery.gates import Stopped
from gastown.refinery.review import ModelReviewer, Reviewer
from gastown.refinery.review_agent import AgentReviewer
from gastown.refinery.strategy import strategy_for
from gastown.sections import sections
from gastown.services.ledger import Ledger
from gastown.town import Town, load

log = logging.getLogger("gastown.refinery")


def reviewer_for(settings: config.Resolved) -> Reviewer:
    """The reviewer `refinery.reviewer` names: the model asked directly, or the rig's runtime."""
    read = sections(settings)
    if read.refinery.reviewer == "agent":
        return AgentReviewer(settings)
    agents = read.agents
    return ModelReviewer(agents.refinery_model, agents.model_base_url, agents.model_api_key)


class Seams(Record):
    """What a step reaches outside the town: the reviewer (a model or an agent) and the rig's
    forge (GitHub or GitLab; None: the one `forge.select` picks)."""

    reviewer: Callable[[config.Resolved], Reviewer] = reviewer_for
    forge: Callable[[config.Resolved, Rig], Forge | None] | None = None
    clock: Clock = field(default_factory=SystemClock)
    stop: threading.Event = field(default_factory=threading.Event)
    """Set when the town process stops: a running gate is killed, the batch requeued."""
    remote_gates: GateRunner | None = None
    """Where `refinery.gates_on = workers` sends the gates (a PostgreSQL town's job engine);
    None: they run in this process whatever the setting says."""


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

    def add(self, other: Progress) -> None:
        """Count `other`'s step into this running total."""
        for name in ("landed", "reworked", "held", "requeued"):
            getattr(self, name).extend(getattr(other, name))
        self.busy = self.busy or other.busy


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
        self.sections = sections(settings)  # one read of the settings for the whole step
        self.seams, self.environ = seams, environ
        self.clone = (town.path / rig.path).resolve()
        self.scratch_path = town.path / "worktrees" / rig.name / ".refinery"
        self.identity = gm.refinery_identity(rig.name)
        self.strategy = strategy_for(self.sections.refinery)
        self.gates = runner_for(rig.name, self.sections.refinery, seams.remote_gates)
        self.batch: list[MergeRequest] = []
        try:  # fetches and pushes carry the forge token
            authorize_url(rig.url, settings, environ)
        except GastownError as exc:  # no token for git now: its fetch says what went wrong
            log.warning("rig %s: %s", rig.name, exc)
        self.progress = Progress()
        self.step_id = f"{seams.clock.now().strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"

    # --- the step -------------------------------------------------------------------------

    def run(self) -> Progress:
        tend.tend(self)
        with self.ledger.store.reader() as tx:
            waiting = tx.list_merge_requests(rig=self.rig.name, status=MR_OPEN)
        waiting = babysat.push_all(self, waiting)  # people's pull requests: never landed here
        batch = queue.next_batch(waiting, self.strategy.batch_size(self.sections.refinery))
        if batch and not self.seams.stop.is_set():
            self.process(outcome.start(self.ledger, batch))
        return self.progress

    def process(self, batch: list[MergeRequest]) -> None:
        if not batch:
            return
        self.progress.changed = True
        self.batch = batch
        try:
            self.fetch(batch)
            target = self.target_commit(batch[0].target)
            with wt.clone_lock(self.clone):
                scratch = gm.scratch(self.clone, self.scratch_path)
            batch = reviewing.review(self, batch, target)
            stack = prepare.stack(self, scratch, target, batch)
            if not stack:
                return
            good = gating.gate(self, scratch, target, stack)
            if good:
                self.strategy.land(self, good, target)
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
            if current.attempts + 1 >= outcome.MAX_ATTEMPTS:
                outcome.hold(self.ledger, current, why, "high", attempts=current.attempts + 1)
                self.progress.held.append(mr.id)
            else:
                outcome.requeue(self.ledger, current, why, attempts=current.attempts + 1)
                self.progress.requeued.append(mr.id)

    # --- what the stages share --------------------------------------------------------

    def forge(self) -> Forge | None:
        """The rig's forge client (None without a token or a repository)."""
        if self.seams.forge is not None:
            return self.seams.forge(self.settings, self.rig)
        from gastown.forge.select import forge_for

        return forge_for(self.settings, self.rig, self.environ)

    def fetch(self, batch: Sequence[MergeRequest] = ()) -> None:
        """Fetch the remote, and the heads of the batch's runs that ran on workers."""
        with wt.clone_lock(self.clone):  # a dispatch to this rig may be fetching too
            wt.fetch(self.clone)
            elsewhere = [
                m.run_id for m in batch if m.run_id and not gm.rev(self.clone, m.head_commit)
            ]
            fetch_runs(self.clone, elsewhere)

    def push(self, commit: str, branch: str) -> None:
        """Move `branch` on the remote to `commit`: the rig's target or a branch of the town's."""
        with wt.clone_lock(self.clone):  # a push updates the clone's view of the remote
            spec = f"{commit}:refs/heads/{branch}"
            gm.push(self.clone, "origin", [spec], "--quiet", target=self.rig.branch)

    def target_commit(self, target: str) -> str:
        """The target's commit as fetched (a feature branch not pushed yet: the local one,
        else made from the rig's target)."""
        with wt.clone_lock(self.clone):  # it may make the local branch
            return wt.base_commit(self.clone, target, create_from=self.rig.branch)

    def told(self, sentence: str) -> None:
        """Say on each merge request of the batch still being tested what it waits for."""
        with self.ledger.store.reader() as tx:
            found = [tx.get_merge_request(mr.id) for mr in self.batch]
        for mr in found:
            if mr is not None and mr.status == MR_TESTING:
                outcome.update(self.ledger, mr, "mr.testing", sentence)

    def title_of(self, mr: MergeRequest) -> str:
        with self.ledger.store.reader() as tx:
            bead = tx.get_bead(mr.bead_id) if mr.bead_id else None
        return bead.title if bead is not None else (mr.summary or mr.branch)


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
