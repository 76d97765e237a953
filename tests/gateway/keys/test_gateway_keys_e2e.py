"""Keys end to end on the real gateway without Redis: ``switchboard keys`` creates a key, the official
openai client uses it, spend is priced from usage, the key survives a restart (state file), a
spent budget is refused, and a revoked key is refused."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from gateway.cli import main as cli_main
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway.keys.gateway_proc import MASTER, gateway_process

# USD per million tokens: the fake upstream's default usage is 11 prompt + 7 completion tokens
CONFIG = """\
deployments:
  - name: priced
    kind: openai_compatible
    model: priced-model
    base_url: {base_url}
    price: {{input_per_mtok: 1000, output_per_mtok: 2000}}
  - name: other
    kind: openai_compatible
    model: other-model
    base_url: {base_url}
"""
COST = (11 * 1000 + 7 * 2000) / 1e6


def _cli(url: str, *args: str) -> int:
    return cli_main(["keys", "--url", url, "--master-key", MASTER, *args])


@pytest.mark.slow
def test_key_lifecycle_on_the_real_gateway(
    fake_upstream: FakeUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(CONFIG.format(base_url=fake_upstream.base_url))
    state = tmp_path / "state" / "store.json"
    fake_upstream.set_default(Reply.ok(prompt_tokens=11, completion_tokens=7))

    with gateway_process(config, tmp_path / "gw1.log", state_path=state) as url:
        assert _cli(url, "create", "--name", "e2e", "--models", "priced",
                    "--budget-usd", str(COST * 1.5), "--budget-period", "day") == 0
        out = capsys.readouterr().out
        key_id, secret = out.split()[1], out.splitlines()[1]
        client = openai.OpenAI(base_url=url + "/v1", api_key=secret, max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="priced", messages=[{"role": "user", "content": "hi"}]
        )
        assert float(raw.headers["x-switchboard-cost-usd"]) == pytest.approx(COST)
        with pytest.raises(openai.PermissionDeniedError):
            client.chat.completions.create(model="other", messages=[{"role": "user", "content": "hi"}])

    with gateway_process(config, tmp_path / "gw2.log", state_path=state) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key=secret, max_retries=0)
        assert _cli(url, "--json", "show", key_id) == 0
        assert f'"total_usd": {COST}' in capsys.readouterr().out.replace("\n", " ")
        # the key and its spend survived the restart: one more request, then the budget is spent
        client.chat.completions.create(model="priced", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.RateLimitError) as err:
            client.chat.completions.create(model="priced", messages=[{"role": "user", "content": "hi"}])
        assert err.value.code == "insufficient_quota"
        assert int(err.value.response.headers["retry-after"]) >= 1
        assert _cli(url, "revoke", key_id) == 0
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model="priced", messages=[{"role": "user", "content": "hi"}])
