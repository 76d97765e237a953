"""Turn what an upstream said (status, headers, body) into our UpstreamError family.

Upstream bodies are never copied into messages: they can carry account names, key fragments or
internal hostnames. At most a short, identifier-shaped ``code`` from the upstream's error object is
kept, because clients act on codes such as ``context_length_exceeded``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from core.errors import (
    UpstreamBadResponseError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRejectedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

_SAFE_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def parse_retry_after(value: str | None, now_wall: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None when absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        secs = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if now_wall is None:
            import time

            now_wall = time.time()
        secs = when.timestamp() - now_wall
    if secs != secs or secs < 0:  # NaN or in the past
        return 0.0
    return min(secs, 3600.0)


def safe_upstream_code(body: bytes | Mapping[str, Any] | None) -> str | None:
    """The upstream's ``error.code`` (or ``type``) when it is a short identifier, else None."""
    data: Any = body
    if isinstance(body, (bytes, bytearray)):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(data, Mapping):
        return None
    err = data.get("error")
    if not isinstance(err, Mapping):
        return None
    for field in ("code", "type"):
        val = err.get(field)
        if isinstance(val, str) and _SAFE_CODE.match(val):
            return val
    return None


def error_for_status(
    status: int,
    deployment: str,
    *,
    retry_after: str | None = None,
    body: bytes | Mapping[str, Any] | None = None,
) -> UpstreamError:
    """The UpstreamError for a non-2xx upstream answer."""
    code = safe_upstream_code(body)
    suffix = f" ({code})" if code else ""
    if status == 429:
        return UpstreamRateLimitError(
            f"deployment {deployment!r} is rate limited upstream{suffix}",
            deployment=deployment,
            retry_after_s=parse_retry_after(retry_after),
        )
    if status in (408, 504):
        return UpstreamTimeoutError(f"deployment {deployment!r} timed out upstream (HTTP {status})",
                                    deployment=deployment)
    if status in (401, 403):
        # The client's key is fine; the gateway's credentials for this upstream are not.
        return UpstreamUnavailableError(
            f"deployment {deployment!r} refused the gateway's credentials (HTTP {status})",
            deployment=deployment,
        )
    if 400 <= status < 500:
        return UpstreamRejectedError(
            f"deployment {deployment!r} rejected the request (HTTP {status}){suffix}", deployment=deployment
        )
    if status in (500, 502, 503):
        return UpstreamUnavailableError(
            f"deployment {deployment!r} failed (HTTP {status})", deployment=deployment
        )
    return UpstreamBadResponseError(
        f"deployment {deployment!r} answered with unexpected HTTP {status}", deployment=deployment
    )


def bad_response(deployment: str, what: str) -> UpstreamBadResponseError:
    return UpstreamBadResponseError(f"deployment {deployment!r} sent {what}", deployment=deployment)


def timeout(deployment: str) -> UpstreamTimeoutError:
    return UpstreamTimeoutError(f"deployment {deployment!r} did not answer before the deadline",
                                deployment=deployment)


def unreachable(deployment: str, reason: str) -> UpstreamUnavailableError:
    return UpstreamUnavailableError(f"deployment {deployment!r} is unreachable ({reason})",
                                    deployment=deployment)
