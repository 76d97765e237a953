"""What a scheduling policy sees of a run: a frozen snapshot built by the scheduler.

Policies are pure functions of these snapshots and ``now``; the scheduler owns time, queues,
slots and I/O. Lower ``priority`` is more urgent (Unix ``nice`` style): ``high`` = 0,
``normal`` = 1, ``low`` = 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PRIORITY_CLASSES: dict[str, int] = {"high": 0, "normal": 1, "low": 2}


def priority_of(name: str) -> int:
    """The numeric priority of a class name; raises KeyError for an unknown class."""
    return PRIORITY_CLASSES[name]


@dataclass(frozen=True, slots=True)
class RunView:
    """One run as a policy sees it.

    ``ready_since`` is when the run last entered the ready queue (aging and round robin use it);
    ``seq`` orders runs by that entry (ties are broken by it, so every policy is deterministic).
    ``submitted_at`` is when the run was first accepted. ``deadline`` is absolute (``math.inf``
    when the run has none). ``predicted_step_s`` is the scheduler's estimate of one step on the
    deployment it would run on; ``remaining_steps`` its estimate of the steps left.
    ``slice_steps`` counts the steps run since the run last got a slot. ``tenant_vtokens`` is the
    tenant's virtual token counter (weighted tokens served, see ``accounting.FairShareLedger``).
    """

    run_id: str
    tenant: str = "default"
    priority: int = 1
    seq: int = 0
    submitted_at: float = 0.0
    ready_since: float = 0.0
    deadline: float = math.inf
    predicted_step_s: float = 1.0
    remaining_steps: int = 1
    slice_steps: int = 0
    tenant_vtokens: float = 0.0

    def laxity(self, now: float) -> float:
        """Slack before the deadline after the predicted remaining work (inf without deadline)."""
        return self.deadline - now - self.predicted_step_s * max(1, self.remaining_steps)
