"""Cascade policies: answer on the cheapest ranked deployment first, escalate when unsure.

Planning (:func:`cascade_for`) happens with the routing decision; running (:func:`run_cascade`)
wraps the dispatcher's ordinary ranked run, so retries, fallbacks and the deadline behave as
everywhere else. Confidence is the answer's token logprobs when the deployment gives them (asked
for on the caller's behalf and stripped again when the caller did not ask), otherwise the learned
router's predicted quality of the first deployment. With neither signal the first answer stands.
Only non-streaming requests cascade: a streamed answer cannot be taken back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from core.config.models import Policy
from core.deadline import Deadline
from core.routing import DeploymentView, RouteDecision
from core.wire import ChatResponse
from routers.cascade import CascadePlan, cascade_applies, cascade_confidence, plan_cascade, should_escalate

if TYPE_CHECKING:
    from gateway.dispatch import Completed, RoutePlan

DEFAULT_THRESHOLD = 0.5


def cascade_for(policy: Policy, body: Mapping[str, Any], decision: RouteDecision,
                views: Mapping[str, DeploymentView]) -> CascadePlan | None:
    """The cascade to run for this request, or None (policy off, streaming, < 2 candidates)."""
    if not policy.cascade or not cascade_applies(body):
        return None
    raw = policy.router.params.get("cascade_threshold", DEFAULT_THRESHOLD)
    threshold = float(raw) if isinstance(raw, int | float) else DEFAULT_THRESHOLD
    return plan_cascade(decision, views, threshold)


def with_cascade_reason(decision: RouteDecision, cascade: CascadePlan) -> RouteDecision:
    reason = (f"{decision.reason} cascade: {cascade.first} first, escalate to "
              f"{','.join(cascade.escalate_to)} when confidence<{cascade.threshold:g}")
    return dataclasses.replace(decision, ranked=(cascade.first, *cascade.escalate_to), reason=reason)


RunRanked = Callable[["RoutePlan", Deadline], Awaitable["Completed"]]


async def run_cascade(run_ranked: RunRanked, plan: RoutePlan, cascade: CascadePlan,
                      deadline: Deadline, wants_logprobs: bool) -> Completed:
    """Answer on ``cascade.first``; when its confidence is below the threshold, answer again on
    the escalation chain. Raises what the ranked runs raise (UpstreamError)."""
    first_view_caps = plan.snapshot.deployments[cascade.first].spec.capabilities
    asked = bool(plan.request.body.get("logprobs"))
    first_request = plan.request
    if not asked and wants_logprobs and "logprobs" in first_view_caps:
        first_request = plan.request.with_body(logprobs=True)
    first_plan = dataclasses.replace(
        plan, request=first_request,
        decision=dataclasses.replace(plan.decision, ranked=(cascade.first,)))
    done = await run_ranked(first_plan, deadline)
    learned = plan.decision.scores.get(cascade.first)
    confidence, source = cascade_confidence(done.response.body, learned if learned is not None else 1.0)
    if source == "learned" and learned is None:
        source = "none"  # no signal: the first answer stands
    if not should_escalate(confidence, cascade.threshold) or not cascade.escalate_to:
        body = done.response.body if asked else _without_logprobs(done.response.body)
        return dataclasses.replace(done, response=ChatResponse(body, done.response.deployment))
    second = dataclasses.replace(plan, decision=dataclasses.replace(plan.decision, ranked=cascade.escalate_to))
    escalated = await run_ranked(second, deadline)
    return dataclasses.replace(escalated, attempts=done.attempts + escalated.attempts)


def _without_logprobs(body: dict[str, Any]) -> dict[str, Any]:
    choices = body.get("choices")
    if not isinstance(choices, list):
        return body
    return {**body, "choices": [{**c, "logprobs": None} if isinstance(c, dict) else c for c in choices]}

