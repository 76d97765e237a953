"""The one error hierarchy of Switchboard.

Every error that can reach a client is a :class:`SwitchboardError`. The class carries the HTTP
status and OpenAI's ``type`` / ``code`` so that one handler in the gateway renders any of them as
OpenAI's error JSON ``{"error": {"message", "type", "param", "code"}}``. Foreign exceptions
(httpx, redis, litellm, pydantic) are converted at the boundary with ``raise ... from exc``.

::

    SwitchboardError (500 api_error)
    ├── InvalidRequestError (400 invalid_request_error)
    │   ├── PayloadTooLargeError (413)
    │   ├── UnknownModelError (404 model_not_found)
    │   └── NotFoundError (404 not_found)
    ├── AuthenticationError (401 invalid_api_key)
    ├── PermissionDeniedError (403 permission_denied)
    ├── RateLimitError (429 rate_limit_exceeded, retry_after_s)
    │   └── BudgetExceededError (429 insufficient_quota)
    ├── ConflictError (409 conflict)
    ├── NoCandidateError (503 no_candidate: routing constraints cannot be met)
    ├── StoreUnavailableError (503 store_unavailable: Redis unreachable or failing)
    ├── ToolCatalogUnavailableError (503 tool_catalog_unavailable: the tool catalog cannot serve searches)
    ├── ConfigError (not an HTTP error; carries compiler-style ``path:line:col: where: msg`` lines)
    ├── LocalModelError (503 local_model_unavailable: a bundled model is missing or not prepared)
    └── UpstreamError (502 upstream_error)          ← the only family a ChatBackend raises
        ├── UpstreamTimeoutError (504 upstream_timeout)
        ├── UpstreamUnavailableError (503 upstream_unavailable)
        ├── UpstreamRateLimitError (429 upstream_rate_limited, retry_after_s)
        ├── UpstreamBadResponseError (502 upstream_bad_response)
        └── UpstreamRejectedError (400 upstream_rejected_request: the upstream said 4xx)

``retryable`` says whether a dispatcher may try the same or another deployment again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


class SwitchboardError(Exception):
    """Base of every error Switchboard raises on purpose."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "api_error"
    code: ClassVar[str | None] = "internal_error"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI error body for this error."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def headers(self) -> dict[str, str]:
        """Extra response headers (e.g. Retry-After) that go with this error."""
        return {}


class InvalidRequestError(SwitchboardError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class PayloadTooLargeError(InvalidRequestError):
    status = 413
    code = "payload_too_large"


class UnknownModelError(InvalidRequestError):
    status = 404
    code = "model_not_found"


class NotFoundError(InvalidRequestError):
    status = 404
    code = "not_found"


class AuthenticationError(SwitchboardError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDeniedError(SwitchboardError):
    status = 403
    type = "permission_error"
    code = "permission_denied"


class ConflictError(SwitchboardError):
    status = 409
    type = "invalid_request_error"
    code = "conflict"


class _RetryAfterMixin:
    retry_after_s: float | None

    def headers(self) -> dict[str, str]:
        if self.retry_after_s is None:
            return {}
        # Retry-After is whole seconds; never advertise 0 for a real wait.
        secs = max(1, int(self.retry_after_s + 0.999))
        return {"retry-after": str(secs)}


class RateLimitError(_RetryAfterMixin, SwitchboardError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(
        self, message: str, *, retry_after_s: float | None = None, param: str | None = None
    ) -> None:
        super().__init__(message, param=param)
        self.retry_after_s = retry_after_s


class BudgetExceededError(RateLimitError):
    type = "insufficient_quota"
    code = "insufficient_quota"


class NoCandidateError(SwitchboardError):
    """No deployment satisfies the request's routing constraints; ``constraint`` names which."""

    status = 503
    type = "api_error"
    code = "no_candidate"

    def __init__(self, message: str, *, constraint: str, param: str | None = None) -> None:
        super().__init__(message, param=param)
        self.constraint = constraint


class StoreUnavailableError(SwitchboardError):
    """The shared Store (Redis) could not be reached or answered with an error."""

    status = 503
    type = "api_error"
    code = "store_unavailable"
    retryable = True


class ToolCatalogUnavailableError(SwitchboardError):
    """The tool catalog cannot answer searches now (e.g. ``config/tools/`` could not seed an
    empty catalog). The message does not list the ``problems``: they name server files and tools
    (private ones too), so they are shown to admins (``GET /admin/tools``) and in the log, not to
    every caller. Admin calls still work."""

    status = 503
    type = "api_error"
    code = "tool_catalog_unavailable"

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(
            "The tool catalog cannot serve searches: its seed files have problems; an admin can "
            "list them with GET /admin/tools (also in the gateway log)."
        )
        self.problems = tuple(problems)


class ConfigError(SwitchboardError):
    """A configuration file is invalid. ``problems`` are ``path:line:col: where: message`` lines."""

    code = "invalid_config"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class LocalModelError(SwitchboardError):
    """A local model (embedder export, edge GGUF, llama.cpp server) is missing or not prepared."""

    status = 503
    code = "local_model_unavailable"


class UpstreamError(SwitchboardError):
    """An upstream model call failed. Bodies from upstreams never go into ``message``."""

    status = 502
    type = "api_error"
    code = "upstream_error"
    retryable = True

    def __init__(
        self, message: str, *, deployment: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message, param=param)
        self.deployment = deployment


class UpstreamTimeoutError(UpstreamError):
    status = 504
    code = "upstream_timeout"


class UpstreamUnavailableError(UpstreamError):
    status = 503
    code = "upstream_unavailable"


class UpstreamRateLimitError(_RetryAfterMixin, UpstreamError):
    status = 429
    type = "rate_limit_error"
    code = "upstream_rate_limited"

    def __init__(
        self,
        message: str,
        *,
        deployment: str | None = None,
        retry_after_s: float | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message, deployment=deployment, param=param)
        self.retry_after_s = retry_after_s


class UpstreamBadResponseError(UpstreamError):
    code = "upstream_bad_response"


class UpstreamRejectedError(UpstreamError):
    """The upstream refused the request itself (4xx other than 429): retrying will not help."""

    status = 400
    type = "invalid_request_error"
    code = "upstream_rejected_request"
    retryable = False
