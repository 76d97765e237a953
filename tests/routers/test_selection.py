"""select_target: one table of constraint cases, ranking under λ, reasons."""

from __future__ import annotations

import dataclasses

import pytest

from core.errors import NoCandidateError
from core.routing import DeploymentView, RouteConstraints
from routers.selection import select_target


def view(name: str, **kw: object) -> DeploymentView:
    base: dict[str, object] = dict(
        name=name,
        model=name,
        tier="cloud",
        input_per_mtok=1.0,
        output_per_mtok=2.0,
        context_window=8000,
        capabilities=frozenset({"tools", "streaming"}),
        available=True,
    )
    base.update(kw)
    return DeploymentView(**base)  # type: ignore[arg-type]


STRONG = view(
    "strong",
    input_per_mtok=10.0,
    output_per_mtok=30.0,
    ttft_ms=900.0,
    tpot_ms=40.0,
    capabilities=frozenset({"tools", "vision", "streaming"}),
    context_window=128000,
)
WEAK = view("weak", input_per_mtok=0.1, output_per_mtok=0.2, ttft_ms=200.0, tpot_ms=10.0)
EDGE = view(
    "edge",
    tier="edge",
    input_per_mtok=0.0,
    output_per_mtok=0.0,
    context_window=2048,
    capabilities=frozenset({"streaming"}),
)
VIEWS = {v.name: v for v in (STRONG, WEAK, EDGE)}
QUALITY = {"strong": 0.9, "weak": 0.6, "edge": 0.3}
CANDS = ("strong", "weak", "edge")

CASES = [
    # id, views override, constraints, expected first pick, expected binding constraint
    ("no-constraints", {}, RouteConstraints(), "strong", None),
    (
        "strong-down",
        {"strong": dataclasses.replace(STRONG, available=False, unavailable_reason="cooldown")},
        RouteConstraints(),
        "weak",
        "availability",
    ),
    (
        "strong-saturated",
        {"strong": dataclasses.replace(STRONG, in_flight=64)},
        RouteConstraints(),
        "weak",
        "concurrency",
    ),
    ("edge-only-key", {}, RouteConstraints(tiers=frozenset({"edge"})), "edge", "tier"),
    ("needs-vision", {}, RouteConstraints(require_capabilities=frozenset({"vision"})), "strong", None),
    ("needs-tools", {}, RouteConstraints(require_capabilities=frozenset({"tools"})), "strong", None),
    ("long-prompt", {}, RouteConstraints(prompt_tokens=10000), "strong", None),
    ("cost-cap", {}, RouteConstraints(max_cost_usd=0.001, prompt_tokens=100), "weak", "max_cost_usd"),
    ("ttft-slo", {}, RouteConstraints(ttft_slo_ms=500), "weak", "ttft_slo_ms"),
    ("tpot-slo", {}, RouteConstraints(tpot_slo_ms=20), "weak", "tpot_slo_ms"),
    (
        "no-latency-data-is-allowed",
        {"strong": dataclasses.replace(STRONG, ttft_ms=None)},
        RouteConstraints(ttft_slo_ms=500),
        "strong",
        None,
    ),
]


@pytest.mark.parametrize(
    ("views_override", "constraints", "pick", "binding"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_constraint_table(
    views_override: dict[str, DeploymentView], constraints: RouteConstraints, pick: str, binding: str | None
) -> None:
    views = {**VIEWS, **views_override}
    d = select_target("p", CANDS, views, constraints, QUALITY, router="knn")
    assert d.ranked[0] == pick
    assert d.binding_constraint == binding


FAIL_CASES = [
    (
        "all-down",
        {n: dataclasses.replace(v, available=False) for n, v in VIEWS.items()},
        RouteConstraints(),
        "availability",
    ),
    (
        "edge-only-but-needs-tools",
        {},
        RouteConstraints(tiers=frozenset({"edge"}), require_capabilities=frozenset({"tools"})),
        "capabilities",
    ),
    ("prompt-too-long", {}, RouteConstraints(prompt_tokens=200000), "context_window"),
    (
        "cost-cap-too-low",
        {"edge": dataclasses.replace(EDGE, available=False)},
        RouteConstraints(max_cost_usd=1e-9, prompt_tokens=100),
        "max_cost_usd",
    ),
    (
        "ttft-too-tight",
        {"edge": dataclasses.replace(EDGE, ttft_ms=300.0)},
        RouteConstraints(ttft_slo_ms=50),
        "ttft_slo_ms",
    ),
    ("unknown-deployments", {}, None, "unknown"),
]


@pytest.mark.parametrize(
    ("views_override", "constraints", "constraint"),
    [c[1:] for c in FAIL_CASES],
    ids=[c[0] for c in FAIL_CASES],
)
def test_no_candidate_names_the_binding_constraint(
    views_override: dict[str, DeploymentView], constraints: RouteConstraints | None, constraint: str
) -> None:
    views = {**VIEWS, **views_override}
    cands = ("nope",) if constraints is None else CANDS
    with pytest.raises(NoCandidateError) as err:
        select_target("p", cands, views, constraints or RouteConstraints(), QUALITY)
    assert err.value.constraint == constraint
    assert constraint in err.value.message


def test_cost_weight_trades_quality_for_price() -> None:
    c = RouteConstraints(prompt_tokens=1000)
    assert select_target("p", CANDS, VIEWS, c, QUALITY, cost_weight=0.0).ranked[0] == "strong"
    # strong costs ~$0.0177 for 1000 in + 256 out; λ=100 makes that −1.77 of quality
    assert select_target("p", CANDS, VIEWS, c, QUALITY, cost_weight=100.0).ranked[0] == "weak"
    assert select_target("p", CANDS, VIEWS, c, QUALITY, cost_weight=1e6).ranked[0] == "edge"


def test_expected_output_tokens_enter_the_cost() -> None:
    c = RouteConstraints(max_cost_usd=0.003, prompt_tokens=10)
    short = select_target("p", ("strong",), VIEWS, c, QUALITY, output_tokens={"strong": 50})
    assert short.ranked == ("strong",)
    with pytest.raises(NoCandidateError):
        select_target("p", ("strong",), VIEWS, c, QUALITY, output_tokens={"strong": 5000})


def test_ties_keep_policy_order() -> None:
    d = select_target("p", ("weak", "strong"), VIEWS, RouteConstraints(), {"weak": 0.5, "strong": 0.5})
    assert d.ranked == ("weak", "strong")


def test_reason_is_one_line_and_names_pick_and_drops() -> None:
    d = select_target(
        "p", CANDS, VIEWS, RouteConstraints(ttft_slo_ms=500), QUALITY, router="mf", category="math"
    )
    assert "\n" not in d.reason
    for part in ("router=mf", "category=math", "pick=weak", "bound_by=ttft_slo_ms", "strong(ttft_slo_ms)"):
        assert part in d.reason
    assert d.scores == {"strong": 0.9, "weak": 0.6, "edge": 0.3}
