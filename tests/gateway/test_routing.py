"""Policy match, constraints from headers and key tags, the FallbackSelector and the registry."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.config import load_model_text
from core.config.models import GatewayConfig, Policy, RouterRef
from core.errors import ConfigError, NoCandidateError, UnknownModelError
from core.routing import DeploymentView, RouteConstraints, RouteDecision
from core.wire import ChatRequest
from gateway.providers.factory import BackendFactory
from gateway.providers.http_pool import HttpPool
from gateway.providers.local_edge import LocalModels
from gateway.route_inputs import Caller, build_constraints, choose_policy
from gateway.routing import FallbackSelector, SelectorContext, SelectorRegistry
from gateway.snapshot import ConfigSnapshot, build_snapshot

CONFIG = """
settings: {default_policy: general}
deployments:
  - {name: e1, kind: openai_compatible, base_url: "http://127.0.0.1:9/v1", model: m, tier: edge}
  - {name: c1, kind: openai_compatible, base_url: "http://127.0.0.1:9/v1", model: m}
policies:
  - {name: general, aliases: [auto], candidates: [e1, c1]}
  - {name: team-policy, candidates: [c1], match: {teams: [research]}}
  - {name: key-policy, candidates: [c1], match: {keys: [key_42]}}
  - {name: header-policy, candidates: [e1], match: {header: {x-workload: batch}}}
  - {name: meta-policy, candidates: [e1], match: {metadata: {app: crm}}}
"""


@pytest.fixture
def snap() -> ConfigSnapshot:
    config = load_model_text(CONFIG, GatewayConfig)
    pool = HttpPool()
    return build_snapshot(config, version=1, source="t", loaded_at=0.0,
                          backends=BackendFactory(pool, LocalModels(Path("x"), pool), env={}),
                          registry=SelectorRegistry(), selector_context=SelectorContext())


@pytest.mark.parametrize(
    ("model", "caller", "headers", "metadata", "expected", "how"),
    [
        ("auto", Caller(), {}, {}, "general", "model"),
        ("general", Caller(tenant="research"), {}, {}, "general", "model"),
        ("c1", Caller(), {}, {}, "c1", "deployment"),
        ("gpt-x", Caller(tenant="research"), {}, {}, "team-policy", "match"),
        ("gpt-x", Caller(key_id="key_42"), {}, {}, "key-policy", "match"),
        ("gpt-x", Caller(), {"x-workload": "batch"}, {}, "header-policy", "match"),
        ("gpt-x", Caller(), {}, {"app": "crm"}, "meta-policy", "match"),
        ("gpt-x", Caller(), {}, {}, "general", "default"),
    ],
    ids=["alias", "name-beats-match", "deployment", "team", "key", "header", "metadata", "default"],
)
def test_policy_match(snap: ConfigSnapshot, model: str, caller: Caller, headers: dict[str, str],
                      metadata: dict[str, str], expected: str, how: str) -> None:
    choice = choose_policy(snap, model, caller, headers, metadata)
    assert (choice.policy.name, choice.matched_by) == (expected, how)


def test_unknown_model_without_default_policy(snap: ConfigSnapshot) -> None:
    config = snap.config.model_copy(update={"settings": snap.config.settings.model_copy(update={"default_policy": None})})
    with pytest.raises(UnknownModelError):
        choose_policy(replace(snap, config=config), "gpt-x")


POLICY = Policy(name="p", candidates=("a", "b"), fallbacks=("c",))


def _view(name: str, **kw: object) -> DeploymentView:
    base: dict[str, object] = dict(name=name, model="m", tier="cloud", input_per_mtok=1.0, output_per_mtok=2.0,
                                   context_window=1000, capabilities=frozenset({"streaming", "tools"}),
                                   available=True)
    base.update(kw)
    return DeploymentView(**base)  # type: ignore[arg-type]


async def _select(views: dict[str, DeploymentView], c: RouteConstraints | None = None) -> RouteDecision:
    return await FallbackSelector().select(ChatRequest({}), POLICY, views, c or RouteConstraints())


async def test_fallback_selector_keeps_policy_order() -> None:
    d = await _select({n: _view(n) for n in "abc"})
    assert d.ranked == ("a", "b", "c")
    assert d.router == "fallback"


@pytest.mark.parametrize(
    ("a_view", "constraints", "why"),
    [
        ({"available": False, "unavailable_reason": "KEY not set"}, RouteConstraints(), "availability"),
        ({"tier": "edge"}, RouteConstraints(tiers=frozenset({"cloud"})), "tier"),
        ({"capabilities": frozenset()}, RouteConstraints(require_capabilities=frozenset({"tools"})), "capabilities"),
        ({"context_window": 10}, RouteConstraints(prompt_tokens=50), "context_window"),
        ({"input_per_mtok": 1000.0}, RouteConstraints(max_cost_usd=0.01, prompt_tokens=100), "max_cost_usd"),
        ({"ttft_ms": 900.0}, RouteConstraints(ttft_slo_ms=500), "ttft_slo_ms"),
    ],
    ids=["unavailable", "tier", "capabilities", "context", "cost", "ttft"],
)
async def test_fallback_selector_skips_what_does_not_fit(a_view: dict[str, object], constraints: RouteConstraints,
                                                         why: str) -> None:
    views = {"a": _view("a", **a_view), "b": _view("b"), "c": _view("c")}
    d = await _select(views, constraints)
    assert d.ranked[0] == "b"
    assert f"a={why}" in d.reason


async def test_saturated_deployments_move_to_the_back() -> None:
    views = {"a": _view("a", in_flight=4, max_concurrency=4), "b": _view("b"), "c": _view("c")}
    assert (await _select(views)).ranked == ("b", "c", "a")


async def test_nothing_fits_names_the_binding_constraint() -> None:
    views = {n: _view(n, tier="edge") for n in "abc"}
    with pytest.raises(NoCandidateError) as info:
        await _select(views, RouteConstraints(tiers=frozenset({"cloud"})))
    assert info.value.constraint == "tier"


@pytest.mark.parametrize(
    ("headers", "tags", "field", "value"),
    [
        ({"x-switchboard-max-cost-usd": "0.5"}, frozenset(), "max_cost_usd", 0.5),
        ({"x-switchboard-ttft-slo-ms": "250"}, frozenset(), "ttft_slo_ms", 250.0),
        ({"x-switchboard-tier": "edge"}, frozenset(), "tiers", frozenset({"edge"})),
        ({}, frozenset({"edge-only"}), "tiers", frozenset({"edge"})),
        ({}, frozenset({"cloud-only"}), "tiers", frozenset({"cloud"})),
    ],
    ids=["cost", "ttft", "tier-header", "edge-only-tag", "cloud-only-tag"],
)
def test_constraints_are_tightened(headers: dict[str, str], tags: frozenset[str], field: str, value: object) -> None:
    c = build_constraints(POLICY, {"messages": []}, headers, Caller(tags=tags))
    assert getattr(c, field) == value


def test_headers_never_loosen_policy_constraints() -> None:
    pol = Policy(name="p", candidates=("a",), constraints={"max_cost_usd": 0.1})  # type: ignore[arg-type]
    c = build_constraints(pol, {"messages": []}, {"x-switchboard-max-cost-usd": "5"}, Caller())
    assert c.max_cost_usd == 0.1


def test_request_features_become_required_capabilities() -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
            "tools": [{"type": "function"}], "response_format": {"type": "json_object"}, "stream": True}
    c = build_constraints(POLICY, body, {}, Caller())
    assert c.require_capabilities == {"vision", "tools", "json_mode", "streaming"}


class _FirstOnly:
    async def select(self, request: ChatRequest, policy: Policy, views: object, constraints: object) -> RouteDecision:
        return RouteDecision(policy=policy.name, ranked=policy.candidates[:1], reason="first", router="first")


def test_registry_builds_registered_kinds_and_caches_them() -> None:
    reg = SelectorRegistry()
    built: list[RouterRef] = []

    def factory(ref: RouterRef, ctx: SelectorContext) -> _FirstOnly:
        built.append(ref)
        return _FirstOnly()

    reg.register("first", factory)
    ref = RouterRef(kind="first")
    assert reg.build(ref, SelectorContext()) is reg.build(ref, SelectorContext())
    assert len(built) == 1
    assert "first" in reg.kinds()


def test_registry_refuses_unknown_kinds() -> None:
    with pytest.raises(ConfigError):
        SelectorRegistry().build(RouterRef(kind="nope"), SelectorContext())
