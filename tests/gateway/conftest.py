"""Fixtures for the gateway tests: one fake upstream per session, reset before each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.fakes.upstream import FakeUpstream
from tests.gateway.harness import GatewayServer, fake_config

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(scope="session")
def _fake_upstream_session() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def fake_upstream(_fake_upstream_session: FakeUpstream) -> FakeUpstream:
    _fake_upstream_session.reset()
    return _fake_upstream_session


@pytest.fixture(scope="session")
def gateway(_fake_upstream_session: FakeUpstream) -> Iterator[GatewayServer]:
    """One gateway for the session, over the fake upstream (deployments in harness.fake_config)."""
    with GatewayServer(fake_config(_fake_upstream_session.base_url)) as server:
        yield server
