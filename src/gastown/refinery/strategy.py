"""How a rig's work reaches its target, chosen once per step from `merge_strategy`.

    Direct          the refinery lands a gated batch itself: one commit pushed onto the target
                    (`land.push_landing`), batches of `refinery.batch_size`
    PullRequests    each merge request, gated alone, goes to a pull request on the rig's forge
                    (`pr.open_pull`), which the refinery then follows until it merges; work on
                    a convoy's feature branch (a branch of the town's own) is still pushed

The rest of the step does not ask which one it has: it asks the strategy how many to take and
hands it what passed the gates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from gastown.model import MergeRequest
from gastown.refinery import land
from gastown.refinery.gates import GateResult
from gastown.sections import Refinery

if TYPE_CHECKING:
    from gastown.refinery.step import RigStep

Gated = list[tuple[MergeRequest, str, list[GateResult]]]
"""What passed the gates: each merge request with its stack commit and its gates' results."""


class Strategy(Protocol):
    name: str

    def batch_size(self, refinery: Refinery) -> int:
        """How many waiting merge requests one step takes together."""
        ...

    def land(self, step: RigStep, good: Gated, base: str) -> None:
        """Take what passed the gates onward; the target stood at `base` under the stack."""
        ...


class Direct:
    name = "direct"

    def batch_size(self, refinery: Refinery) -> int:
        return refinery.batch_size

    def land(self, step: RigStep, good: Gated, base: str) -> None:
        land.push_landing(step, good, base)


class PullRequests:
    name = "pr"

    def batch_size(self, refinery: Refinery) -> int:
        return 1  # a pull request is one branch, reviewed and merged on its own

    def land(self, step: RigStep, good: Gated, base: str) -> None:
        if good[0][0].target != step.rig.branch:  # a convoy's own branch: no pull request
            land.push_landing(step, good, base)
            return
        from gastown.refinery import pr

        for mr, _, results in good:
            pr.open_pull(step, mr, [r.to_json() for r in results])


def strategy_for(refinery: Refinery) -> Strategy:
    """The rig's strategy from its `merge_strategy` setting."""
    return PullRequests() if refinery.merge_strategy == "pr" else Direct()
