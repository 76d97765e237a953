"""What a selector decides over: which policy applies, the constraints, the deployment views.

Policy match, in order:

1. the request's ``model`` is a policy name or alias → that policy;
2. ``model`` is a deployment name → the implicit one-deployment policy (``direct``);
3. a policy whose ``match`` block fits the caller (key id, team/tenant, headers, metadata; every
   given field must fit, and an empty block never matches) → the first such policy;
4. ``settings.default_policy`` → that policy;
5. otherwise UnknownModelError (404 model_not_found).

Constraints: the policy's, tightened (never loosened) by ``x-switchboard-max-cost-usd``,
``x-switchboard-ttft-slo-ms``, ``x-switchboard-tier`` and by key tags ``edge-only`` /
``cloud-only``; capabilities come from the request itself (tools, json response_format, logprobs,
image parts, stream).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.config.models import Policy, PolicyMatch
from core.errors import InvalidRequestError, UnknownModelError
from core.routing import DeploymentView, RouteConstraints
from gateway.deployment_state import DeploymentStates
from gateway.snapshot import ConfigSnapshot

HDR_MAX_COST = "x-switchboard-max-cost-usd"
HDR_TTFT_SLO = "x-switchboard-ttft-slo-ms"
HDR_TIER = "x-switchboard-tier"
_TIERS = frozenset({"edge", "cloud"})


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, as policy matching sees it (the gateway fills it from the Principal)."""

    key_id: str = "anonymous"
    tenant: str = "default"
    tags: frozenset[str] = frozenset()


ANONYMOUS = Caller()


@dataclass(frozen=True, slots=True)
class PolicyChoice:
    policy: Policy
    direct: bool  # True: the request named a deployment, not a policy
    matched_by: str  # "model" | "deployment" | "match" | "default"


def _fits(m: PolicyMatch, caller: Caller, headers: Mapping[str, str], metadata: Mapping[str, Any]) -> bool:
    if not (m.keys or m.teams or m.header or m.metadata):
        return False
    if m.keys and caller.key_id not in m.keys:
        return False
    if m.teams and caller.tenant not in m.teams:
        return False
    for name, want in m.header.items():
        if headers.get(name.lower()) != want:
            return False
    return all(str(metadata.get(k)) == v for k, v in m.metadata.items())


def choose_policy(
    snap: ConfigSnapshot,
    model: str,
    caller: Caller = ANONYMOUS,
    headers: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> PolicyChoice:
    """The policy for this request (see the module docstring). Raises UnknownModelError."""
    pol = snap.policies.get(model)
    if pol is not None:
        return PolicyChoice(pol, False, "model")
    if model in snap.deployments:
        return PolicyChoice(snap.direct_policy(model), True, "deployment")
    hdrs = headers or {}
    meta = metadata or {}
    for candidate in snap.config.policies:
        if _fits(candidate.match, caller, hdrs, meta):
            return PolicyChoice(candidate, False, "match")
    default = snap.config.settings.default_policy
    if default:
        return PolicyChoice(snap.policies[default], False, "default")
    raise UnknownModelError(f"The model {model!r} does not exist or you do not have access to it.",
                            param="model")


def _header_float(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise InvalidRequestError(f"Header {name} must be a positive number.", param=name)
    return value


def _tighter(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


def request_capabilities(body: Mapping[str, Any]) -> frozenset[str]:
    caps = set()
    if body.get("tools") or body.get("functions"):
        caps.add("tools")
    rf = body.get("response_format")
    if isinstance(rf, dict) and rf.get("type") in {"json_object", "json_schema"}:
        caps.add("json_mode")
    if body.get("logprobs"):
        caps.add("logprobs")
    if body.get("stream"):
        caps.add("streaming")
    for msg in body.get("messages") or ():
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, list) and any(
            isinstance(p, dict) and p.get("type") == "image_url" for p in content
        ):
            caps.add("vision")
            break
    return frozenset(caps)


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    """A cheap estimate (~4 characters per token) for context-window, cost and tpm checks."""
    chars = 0
    for msg in body.get("messages") or ():
        if not isinstance(msg, dict):
            continue
        content = msg.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    chars += len(part["text"])
        chars += 16  # role and framing
    tools = body.get("tools")
    if isinstance(tools, list):
        chars += 200 * len(tools)
    return chars // 4 + 1


def max_output_tokens(body: Mapping[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def build_constraints(
    policy: Policy, body: Mapping[str, Any], headers: Mapping[str, str], caller: Caller
) -> RouteConstraints:
    """Policy constraints tightened by headers and key tags. Raises InvalidRequestError for a
    malformed header."""
    pc = policy.constraints
    tiers = frozenset(pc.tiers)
    tier_hdr = headers.get(HDR_TIER)
    if tier_hdr is not None:
        want = frozenset(t.strip() for t in tier_hdr.split(",") if t.strip())
        if not want or not want <= _TIERS:
            raise InvalidRequestError(f"Header {HDR_TIER} must be 'edge' or 'cloud'.", param=HDR_TIER)
        tiers &= want
    if "edge-only" in caller.tags:
        tiers &= {"edge"}
    if "cloud-only" in caller.tags:
        tiers &= {"cloud"}
    return RouteConstraints(
        max_cost_usd=_tighter(pc.max_cost_usd, _header_float(headers, HDR_MAX_COST)),
        ttft_slo_ms=_tighter(pc.ttft_slo_ms, _header_float(headers, HDR_TTFT_SLO)),
        tpot_slo_ms=pc.tpot_slo_ms,
        tiers=tiers,
        require_capabilities=frozenset(pc.require_capabilities) | request_capabilities(body),
        prompt_tokens=estimate_prompt_tokens(body),
        max_output_tokens=max_output_tokens(body),
    )


def build_views(snap: ConfigSnapshot, policy: Policy, states: DeploymentStates) -> dict[str, DeploymentView]:
    """Views of the deployments this policy may use, with live availability and latency."""
    views: dict[str, DeploymentView] = {}
    names = [*policy.candidates, *policy.fallbacks]
    for ov in policy.overrides:
        names += ov.candidates
    for name in names:
        if name in views:
            continue
        entry = snap.deployments.get(name)
        if entry is None:
            continue
        available, reason = entry.available, entry.reason
        if available:
            cooling = states.cooling(name)
            if cooling is not None:
                available, reason = False, cooling
        ttft, tpot = states.latency(name)
        views[name] = DeploymentView(
            name=name,
            model=entry.spec.model,
            tier=entry.spec.tier,
            input_per_mtok=entry.input_per_mtok,
            output_per_mtok=entry.output_per_mtok,
            context_window=entry.context_window,
            capabilities=entry.capabilities,
            available=available,
            unavailable_reason=reason,
            ttft_ms=ttft,
            tpot_ms=tpot,
            in_flight=states.get(name).in_flight,
            max_concurrency=entry.spec.max_concurrency,
        )
    return views
