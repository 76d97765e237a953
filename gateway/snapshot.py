"""One immutable view of a loaded config: deployments with their backends and prices, policies by
name and alias, a selector per policy. A request takes the current snapshot once, at its start,
and finishes on it even if a reload swaps in a new one meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from core.backend import ChatBackend
from core.config.models import (
    ChatDeployment,
    EmbeddingDeployment,
    GatewayConfig,
    Policy,
    RetryPolicy,
)
from core.errors import ConfigError
from core.pricing import PriceBook
from gateway.providers.factory import BackendFactory
from gateway.routing import RouteSelector, SelectorContext, SelectorRegistry


@dataclass(frozen=True, slots=True)
class DeploymentEntry:
    """A deployment as loaded: its spec, backend, static availability and prices."""

    spec: ChatDeployment
    backend: ChatBackend
    available: bool
    reason: str
    input_per_mtok: float
    output_per_mtok: float
    context_window: int | None
    capabilities: frozenset[str]

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class ConfigSnapshot:
    config: GatewayConfig
    version: int
    source: str
    loaded_at: float  # unix seconds
    deployments: Mapping[str, DeploymentEntry]
    policies: Mapping[str, Policy]  # by name and by alias
    selectors: Mapping[str, RouteSelector]  # by policy name
    embeddings: Mapping[str, EmbeddingDeployment]
    prices: PriceBook
    _direct: dict[str, Policy] = field(default_factory=dict, repr=False)

    def direct_policy(self, deployment: str) -> Policy:
        """The implicit one-candidate policy for a request that names a deployment itself."""
        pol = self._direct.get(deployment)
        if pol is None:
            # model_construct: deployment names may hold characters policy names may not.
            pol = Policy.model_construct(
                name=deployment, aliases=(), description="", candidates=(deployment,), fallbacks=(),
                router=Policy.model_fields["router"].default, cost_weight=0.0,
                constraints=Policy.model_fields["constraints"].default, overrides=(),
                retry=RetryPolicy(), match=Policy.model_fields["match"].default, max_tools=16, cascade=False,
            )
            self._direct[deployment] = pol
        return pol

    def cost_usd(self, deployment: str, prompt_tokens: int, completion_tokens: int) -> float:
        entry = self.deployments.get(deployment)
        if entry is None:
            return 0.0
        return (prompt_tokens * entry.input_per_mtok + completion_tokens * entry.output_per_mtok) / 1e6


def build_snapshot(
    config: GatewayConfig,
    *,
    version: int,
    source: str,
    loaded_at: float,
    backends: BackendFactory,
    registry: SelectorRegistry,
    selector_context: SelectorContext,
    prices: PriceBook | None = None,
) -> ConfigSnapshot:
    """Raises ConfigError (router kinds that are not registered or cannot load)."""
    book = prices or PriceBook.from_config(config)
    entries: dict[str, DeploymentEntry] = {}
    for spec in config.deployments:
        built = backends.build(spec)
        price = book.price_for(spec.name)
        entries[spec.name] = DeploymentEntry(
            spec=spec,
            backend=built.backend,
            available=built.available,
            reason=built.reason,
            input_per_mtok=price[0] if price else 0.0,
            output_per_mtok=price[1] if price else 0.0,
            context_window=book.context_window(spec.name),
            capabilities=frozenset(spec.capabilities),
        )
    policies: dict[str, Policy] = {}
    selectors: dict[str, RouteSelector] = {}
    problems: list[str] = []
    for i, pol in enumerate(config.policies):
        for alias in (pol.name, *pol.aliases):
            policies[alias] = pol
        try:
            selectors[pol.name] = registry.build(pol.router, selector_context)
        except ConfigError as exc:
            problems += [f"{source}: policies[{i}].{p}" for p in exc.problems]
    if problems:
        raise ConfigError(problems)
    return ConfigSnapshot(
        config=config,
        version=version,
        source=source,
        loaded_at=loaded_at,
        deployments=MappingProxyType(entries),
        policies=MappingProxyType(policies),
        selectors=MappingProxyType(selectors),
        embeddings=MappingProxyType({e.name: e for e in config.embeddings}),
        prices=book,
    )
