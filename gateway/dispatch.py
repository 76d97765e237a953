"""The routed dispatcher: policy → selector → ranked deployments → retries and fallbacks.

It is itself a :class:`core.backend.ChatBackend` (agents are handed it), and the HTTP API uses its
two-step form (:meth:`Dispatcher.plan`, then :meth:`Dispatcher.run` / :meth:`open_stream`) to know
the routing decision and the deployment that answered before writing response headers.

Reliability rules, all spending from the request's one Deadline:

* each ranked deployment gets up to ``policy.retry.max_attempts`` attempts; between them an
  exponential backoff with jitter (``base·2^n``, capped, times 0.5–1.0), never shorter than an
  upstream Retry-After; a Retry-After longer than ``backoff_max_s`` (or than the time left) moves
  on to the next deployment at once and cools the rate-limited one down for that long;
* non-retryable errors (the upstream rejected the request itself) are raised at once;
* ``settings.cooldown.failures`` consecutive failures cool a deployment down for
  ``settings.cooldown.seconds``; selectors see it as unavailable meanwhile;
* a stream can fail over only until its first chunk has been received; after that a failure is
  raised mid-stream (the API turns it into one in-stream error event).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from core.clock import Clock
from core.config.models import Policy
from core.deadline import Deadline
from core.errors import (
    NoCandidateError,
    SwitchboardError,
    UnknownModelError,
    UpstreamBadResponseError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRejectedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from core.routing import RouteDecision
from core.wire import ChatRequest, ChatResponse
from gateway.cascade import cascade_for, run_cascade, with_cascade_reason
from gateway.deployment_state import DeploymentStates
from gateway.route_inputs import ANONYMOUS, Caller, build_constraints, build_views, choose_policy
from gateway.snapshot import ConfigSnapshot, DeploymentEntry
from routers.cascade import CascadePlan

_T = TypeVar("_T")


class AttemptObserver(Protocol):
    """Where the dispatcher reports each upstream attempt (the gateway's metrics)."""

    def attempt(self, deployment: str, outcome: str) -> None: ...

    def in_flight(self, deployment: str, value: int) -> None: ...

    def cooldown(self, deployment: str) -> None: ...


class _NoObserver:
    def attempt(self, deployment: str, outcome: str) -> None:
        pass

    def in_flight(self, deployment: str, value: int) -> None:
        pass

    def cooldown(self, deployment: str) -> None:
        pass


@dataclass(frozen=True, slots=True)
class RoutePlan:
    snapshot: ConfigSnapshot
    policy: Policy
    direct: bool
    decision: RouteDecision
    request: ChatRequest  # what goes to backends (usage always asked for on streams)
    client_wants_usage: bool
    cascade: CascadePlan | None = None  # cheap first, escalate when unsure (non-streaming only)
    extra_headers: tuple[tuple[bytes, bytes], ...] = ()  # response headers added by planning (tools kept)

    @property
    def policy_label(self) -> str:
        """Metrics label: the policy name, or "" when the request named a deployment."""
        return "" if self.direct else self.policy.name


@dataclass(frozen=True, slots=True)
class Completed:
    response: ChatResponse
    entry: DeploymentEntry
    attempts: int


def _backoff(policy: Policy, attempt: int, rng: random.Random) -> float:
    r = policy.retry
    base: float = min(r.backoff_max_s, r.backoff_base_s * (2.0**attempt))
    return base * (0.5 + rng.random() / 2)


class Dispatcher:
    """A ChatBackend over the current config snapshot. Raises only UpstreamError (as a backend)."""

    def __init__(
        self,
        snapshots: Callable[[], ConfigSnapshot],
        states: DeploymentStates,
        clock: Clock,
        *,
        observer: AttemptObserver | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._snapshots = snapshots
        self.states = states
        self._clock = clock
        self._obs: AttemptObserver = observer or _NoObserver()
        self._rng = rng or random.Random()

    # -- planning ------------------------------------------------------------------------------
    async def plan(
        self,
        request: ChatRequest,
        *,
        snapshot: ConfigSnapshot | None = None,
        caller: Caller = ANONYMOUS,
        headers: Mapping[str, str] | None = None,
    ) -> RoutePlan:
        """Choose the policy and rank deployments. Raises UnknownModelError, NoCandidateError,
        InvalidRequestError (bad routing headers)."""
        snap = snapshot or self._snapshots()
        hdrs = headers or {}
        choice = choose_policy(snap, request.model, caller, hdrs, request.metadata)
        body = request.body
        constraints = build_constraints(choice.policy, body, hdrs, caller)
        views = build_views(snap, choice.policy, self.states)
        if choice.direct:
            name = choice.policy.candidates[0]
            view = views.get(name)
            if view is None or not view.available:
                reason = view.unavailable_reason if view is not None else "unknown"
                raise NoCandidateError(f"deployment {name!r} is unavailable: {reason}", constraint="availability")
            decision = RouteDecision(policy=name, ranked=(name,), reason=f"direct: {name}", router="direct")
        else:
            selector = snap.selectors[choice.policy.name]
            decision = await selector.select(request, choice.policy, views, constraints)
        cascade = None if choice.direct else cascade_for(choice.policy, body, decision, views)
        if cascade is not None:
            decision = with_cascade_reason(decision, cascade)
        wants_usage = False
        if request.stream:
            opts = body.get("stream_options")
            opts = opts if isinstance(opts, dict) else {}
            wants_usage = bool(opts.get("include_usage"))
            if not wants_usage:
                request = request.with_body(stream_options={**opts, "include_usage": True})
        return RoutePlan(snap, choice.policy, choice.direct, decision, request, wants_usage, cascade)

    # -- non-streaming -------------------------------------------------------------------------
    async def run(self, plan: RoutePlan, deadline: Deadline) -> Completed:
        """Try the ranked deployments in order with retries (through the plan's cascade when it
        has one). Raises UpstreamError."""
        if plan.cascade is not None:
            return await run_cascade(self._run_ranked, plan, plan.cascade, deadline, wants_logprobs=True)
        return await self._run_ranked(plan, deadline)

    async def _run_ranked(self, plan: RoutePlan, deadline: Deadline) -> Completed:
        async def once(entry: DeploymentEntry) -> tuple[ChatResponse, float]:
            started = self._clock.now()
            return await entry.backend.complete(plan.request, deadline), started

        (resp, started), entry, attempts = await self._first_success(plan, deadline, once)
        name = entry.name
        self._leave(name)
        self._obs.attempt(name, "ok")
        usage = resp.usage
        e2e = self._clock.now() - started
        tpot = e2e / usage.completion_tokens if usage.completion_tokens else None
        self.states.succeeded(name, e2e_s=e2e, tpot_s=tpot)
        return Completed(resp, entry, attempts)

    # -- streaming -----------------------------------------------------------------------------
    async def open_stream(self, plan: RoutePlan, deadline: Deadline) -> OpenedStream:
        """Open a stream on the first deployment that yields a first chunk (retries and fallbacks
        apply until then). Raises UpstreamError. The caller must iterate or ``aclose`` it."""

        async def once(entry: DeploymentEntry) -> tuple[AsyncIterator[dict[str, Any]], dict[str, Any], float]:
            started = self._clock.now()
            it = entry.backend.stream(plan.request, deadline).__aiter__()
            try:
                first = await it.__anext__()
            except StopAsyncIteration:
                raise UpstreamBadResponseError(f"deployment {entry.name!r} sent an empty stream",
                                               deployment=entry.name) from None
            except UpstreamError:
                raise
            except BaseException:
                await _aclose(it)
                raise
            return it, first, started

        (it, first, started), entry, attempts = await self._first_success(plan, deadline, once)
        return OpenedStream(self, plan, entry, first, it, started, attempts)

    async def _first_success(
        self, plan: RoutePlan, deadline: Deadline, once: Callable[[DeploymentEntry], Awaitable[_T]]
    ) -> tuple[_T, DeploymentEntry, int]:
        """Run ``once`` on the plan's ranked deployments, retrying each per the policy, until one
        returns; returns (its result, the deployment, attempts so far). The deployment is left
        *entered* (in flight) on success; the caller settles it. Raises the last UpstreamError,
        or a deadline error when the request's time runs out between attempts."""
        attempts = 0
        last: UpstreamError | None = None
        for name in plan.decision.ranked:
            entry = plan.snapshot.deployments[name]
            for attempt in range(plan.policy.retry.max_attempts):
                if deadline.expired():
                    raise self._deadline_error(last, attempts)
                attempts += 1
                self._enter(name)
                try:
                    result = await once(entry)
                except UpstreamError as exc:
                    self._leave(name)
                    last = exc
                    if not await self._after_failure(plan, name, exc, attempt, deadline):
                        break
                    continue
                except BaseException:
                    self._leave(name)
                    raise
                return result, entry, attempts
        raise last or UpstreamUnavailableError("no deployment could be tried")

    # -- ChatBackend ---------------------------------------------------------------------------
    async def complete(self, request: ChatRequest, deadline: Deadline) -> ChatResponse:
        plan = await self._plan_as_backend(request)
        return (await self.run(plan, deadline)).response

    async def stream(self, request: ChatRequest, deadline: Deadline) -> AsyncIterator[dict[str, Any]]:
        plan = await self._plan_as_backend(request.with_body(stream=True))
        opened = await self.open_stream(plan, deadline)
        try:
            async for chunk in opened:
                yield chunk
        finally:
            await opened.aclose()

    async def aclose(self) -> None:
        """Backends belong to the runtime that built the snapshots; nothing to release here."""

    async def _plan_as_backend(self, request: ChatRequest) -> RoutePlan:
        try:
            return await self.plan(request)
        except UnknownModelError as exc:
            raise UpstreamRejectedError(exc.message) from exc
        except SwitchboardError as exc:
            raise UpstreamUnavailableError(exc.message) from exc

    # -- bookkeeping ---------------------------------------------------------------------------
    def _enter(self, name: str) -> None:
        self.states.started(name)
        self._obs.in_flight(name, self.states.get(name).in_flight)

    def _leave(self, name: str) -> None:
        self.states.finished(name)
        self._obs.in_flight(name, self.states.get(name).in_flight)

    async def _after_failure(
        self, plan: RoutePlan, name: str, exc: UpstreamError, attempt: int, deadline: Deadline
    ) -> bool:
        """Record the failure; raise it when it must not be retried; sleep the backoff and return
        True to retry ``name``, or False to move on to the next deployment."""
        self._obs.attempt(name, exc.code or "error")
        if self.states.failed(name, exc, plan.snapshot.config.settings.cooldown):
            self._obs.cooldown(name)
        if not exc.retryable or attempt + 1 >= plan.policy.retry.max_attempts:
            if not exc.retryable:
                raise exc
            return False
        delay = _backoff(plan.policy, attempt, self._rng)
        if isinstance(exc, UpstreamRateLimitError) and exc.retry_after_s is not None:
            # A short Retry-After is waited out here; a long one sends us to the next deployment
            # (DeploymentStates.failed has already cooled this one down for that long).
            if exc.retry_after_s > plan.policy.retry.backoff_max_s:
                return False
            delay = max(delay, exc.retry_after_s)
        elif self.states.cooling(name):
            return False
        if delay >= deadline.remaining():
            return False
        await self._clock.sleep(delay)
        return True

    def _deadline_error(self, last: UpstreamError | None, attempts: int) -> UpstreamError:
        if isinstance(last, UpstreamTimeoutError):
            return last
        return UpstreamTimeoutError(f"the request deadline passed after {attempts} attempt(s)")


class OpenedStream:
    """A stream that has produced its first chunk. Iterate it once; failures after the first chunk
    are raised from the iteration (UpstreamError). ``usage`` is known once iteration ends."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        plan: RoutePlan,
        entry: DeploymentEntry,
        first: dict[str, Any],
        rest: AsyncIterator[dict[str, Any]],
        started: float,
        attempts: int,
    ) -> None:
        self._d = dispatcher
        self.plan = plan
        self.entry = entry
        self.attempts = attempts
        self._first: dict[str, Any] | None = first
        self._rest = rest
        self._started = started
        self.ttft_s = dispatcher._clock.now() - started
        self.usage: dict[str, Any] | None = None
        self.content_chunks = 0
        self.failed: UpstreamError | None = None
        self._open = True

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        name = self.entry.name
        d = self._d
        wants_usage = self.plan.client_wants_usage
        try:
            if self._first is not None:
                chunk, self._first = self._first, None
                if self._keep(chunk, wants_usage):
                    yield chunk
            async for chunk in self._rest:
                if self._keep(chunk, wants_usage):
                    yield chunk
        except UpstreamError as exc:
            self.failed = exc
            d._obs.attempt(name, exc.code or "error")
            if d.states.failed(name, exc, self.plan.snapshot.config.settings.cooldown):
                d._obs.cooldown(name)
            raise
        else:
            d._obs.attempt(name, "ok")
            end = d._clock.now()
            out_tokens = int((self.usage or {}).get("completion_tokens") or self.content_chunks)
            tpot = (end - self._started - self.ttft_s) / (out_tokens - 1) if out_tokens > 1 else None
            d.states.succeeded(name, e2e_s=end - self._started, ttft_s=self.ttft_s, tpot_s=tpot)
        finally:
            await self.aclose()

    def _keep(self, chunk: dict[str, Any], wants_usage: bool) -> bool:
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
            if not chunk.get("choices"):
                return wants_usage  # the usage-only chunk the gateway asked for on its own behalf
            if not wants_usage:
                chunk.pop("usage", None)
        elif chunk.get("choices"):
            self.content_chunks += 1
        return True

    async def aclose(self) -> None:
        """Close the upstream stream (closing its connection if unfinished); idempotent."""
        if self._open:
            self._open = False
            self._d._leave(self.entry.name)
            await _aclose(self._rest)


async def _aclose(it: AsyncIterator[Any]) -> None:
    close = getattr(it, "aclose", None)
    if close is not None:
        try:
            await close()
        except UpstreamError:
            pass
