"""Shipped configs load; ``switchboard check-config`` reports problems as path:line:col lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.config import load_gateway_config
from core.config.models import LocalLlamaDeployment
from gateway.cli import main as cli_main
from gateway.providers.factory import BackendFactory
from gateway.providers.http_pool import HttpPool
from gateway.providers.local_edge import LocalModels
from gateway.routing import SelectorContext, SelectorRegistry
from gateway.snapshot import build_snapshot

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "config" / "default.yaml", *sorted((ROOT / "config" / "examples").glob("*.yaml"))]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_config_loads(path: Path) -> None:
    config = load_gateway_config(path)
    assert config.policies
    assert any("auto" in p.aliases for p in config.policies)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_check_config_accepts_shipped_files(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["check-config", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: ok"


def _snapshot(env: dict[str, str]):  # type: ignore[no-untyped-def]
    config = load_gateway_config(ROOT / "config" / "default.yaml")
    pool = HttpPool()
    factory = BackendFactory(pool, LocalModels(Path("var/models"), pool), env=env)
    return build_snapshot(config, version=1, source="default.yaml", loaded_at=0.0, backends=factory,
                          registry=SelectorRegistry(), selector_context=SelectorContext())


def test_default_cloud_deployments_wait_for_their_keys() -> None:
    snap = _snapshot({})
    reasons = {name: e.reason for name, e in snap.deployments.items() if not e.available}
    assert reasons["gpt-4.1-mini"] == "OPENAI_API_KEY not set"
    assert reasons["claude-haiku-4-5"] == "ANTHROPIC_API_KEY not set"
    assert reasons["gemini-2.5-flash"] == "GEMINI_API_KEY not set"


def test_default_cloud_deployment_switches_on_with_its_key() -> None:
    snap = _snapshot({"OPENAI_API_KEY": "sk-test"})
    assert snap.deployments["gpt-4.1-mini"].available
    assert not snap.deployments["claude-haiku-4-5"].available


def test_default_has_the_local_edge_model_and_embedder() -> None:
    snap = _snapshot({})
    assert isinstance(snap.deployments["smollm2-local"].spec, LocalLlamaDeployment)
    assert snap.deployments["smollm2-local"].spec.tier == "edge"
    assert any(e.kind == "local_embedding" for e in snap.embeddings.values())


def test_default_prices_come_from_the_litellm_map() -> None:
    snap = _snapshot({})
    assert snap.deployments["gpt-4.1-mini"].input_per_mtok > 0
    assert snap.deployments["claude-haiku-4-5"].output_per_mtok > 0


BASE = """deployments:
  - name: a
    kind: openai_compatible
    base_url: http://x/v1
    model: m
"""

BAD: list[tuple[str, str, str]] = [
    ("duplicate-key", BASE + "    model: n\n", r":6:5: deployments\[0\]\.model: duplicate key 'model' \(first defined at line 5\)"),
    ("unknown-field", BASE + "    colour: red\n", r":6:13: deployments\[0\]\.colour: Extra inputs are not permitted"),
    ("wrong-type", BASE + "    max_concurrency: many\n", r":6:22: deployments\[0\]\.max_concurrency: Input should be"),
    ("bad-kind", "deployments:\n  - {name: a, kind: grpc, model: m}\n", r":2:5: deployments\[0\]"),
    ("unknown-ref", BASE + "policies:\n  - name: p\n    candidates: [a, ghost]\n",
     r":8:21: policies\[0\]\.candidates\[1\]: policy 'p' names unknown deployment 'ghost'"),
    ("duplicate-name", BASE + "  - {name: a, kind: openai_compatible, base_url: 'http://y/v1', model: m}\n",
     r":6:12: deployments\[1\]\.name: deployment name 'a' is used twice"),
    ("alias-clash", BASE + "policies:\n  - name: p\n    aliases: [a]\n    candidates: [a]\n",
     r":8:15: policies\[0\]\.aliases\[0\]: model name 'a' is used twice"),
    ("router-kind", BASE + "policies:\n  - name: p\n    candidates: [a]\n    router: {kind: psychic}\n",
     r":9:20: policies\[0\]\.router\.kind: unknown router kind 'psychic'"),
    ("syntax", "deployments: [\n", r":2:1: <document>: "),
    ("default-policy", BASE + "settings: {default_policy: nope}\n",
     r":6:28: settings\.default_policy: settings\.default_policy names unknown policy 'nope'"),
    ("tools-llm-model", BASE + "tools:\n  llm: {model: ghost}\n",
     r":7:16: tools\.llm\.model: tools\.llm\.model names unknown policy or deployment 'ghost'"),
    ("tools-rerank-depth", BASE + "tools:\n  llm: {model: a, rerank_depth: 1}\n",
     r":7:33: tools\.llm\.rerank_depth: Input should be greater than or equal to 2"),
]


@pytest.mark.parametrize(("text", "pattern"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_check_config_reports_file_line_col(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            text: str, pattern: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert cli_main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert re.search(re.escape(str(path)) + pattern, err), err
