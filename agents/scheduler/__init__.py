"""The agent scheduler: deployment slots are the CPU, agent steps are what it schedules.

Pure policies (:mod:`policies`) behind one protocol (:mod:`policy`), a clock-free state machine
(:mod:`core`) and its async driver (:mod:`runtime`).
"""

from agents.scheduler.accounting import FairShareLedger, SwitchStats
from agents.scheduler.core import Dispatch, RunSpec, RunState, SchedulerCore, Verdict
from agents.scheduler.policies import (
    CriticalPathPolicy,
    EdfPolicy,
    FairSharePolicy,
    FifoPolicy,
    PriorityPolicy,
    RoundRobinPolicy,
    ShortestRemainingPolicy,
)
from agents.scheduler.policy import SchedulerPolicy
from agents.scheduler.registry import build_policy, policy_kinds
from agents.scheduler.runtime import AsyncScheduler, RunExecutor, StepLease
from agents.scheduler.slots import SlotPool
from agents.scheduler.views import PRIORITY_CLASSES, RunView, priority_of

__all__ = [
    "PRIORITY_CLASSES",
    "AsyncScheduler",
    "CriticalPathPolicy",
    "Dispatch",
    "EdfPolicy",
    "FairShareLedger",
    "FairSharePolicy",
    "FifoPolicy",
    "PriorityPolicy",
    "RoundRobinPolicy",
    "RunExecutor",
    "RunSpec",
    "RunState",
    "RunView",
    "SchedulerCore",
    "SchedulerPolicy",
    "ShortestRemainingPolicy",
    "SlotPool",
    "StepLease",
    "SwitchStats",
    "Verdict",
    "build_policy",
    "policy_kinds",
    "priority_of",
]
