"""/admin/keys and ``switchboard keys`` against a real uvicorn server (the keys router + one handler)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from gateway.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[3]
MASTER = "sk-master-admin-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(state: Path, master: str | None = MASTER) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "TEST_STATE_PATH": str(state)}
    env.pop("SWITCHBOARD_MASTER_KEY", None)
    if master:
        env["SWITCHBOARD_MASTER_KEY"] = master
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.gateway.keys.admin_app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError("admin test app exited")
            try:
                httpx.get(url + "/whoami", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.fixture(scope="module")
def state_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("admin") / "store.json"


@pytest.fixture(scope="module")
def gateway(state_path: Path) -> Iterator[str]:
    with serve(state_path) as url:
        yield url


def _admin(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"authorization": f"Bearer {MASTER}"}, timeout=10)


def test_create_returns_secret_once_and_key_works(gateway: str) -> None:
    with _admin(gateway) as c:
        r = c.post("/admin/keys", json={"name": "ci", "tenant": "team-a", "rpm": 5})
        assert r.status_code == 201
        body = r.json()
        secret, key_id = body["key"], body["id"]
        assert secret.startswith("sk-sb-") and body["tenant"] == "team-a"
        listed = c.get("/admin/keys").json()["data"]
        assert key_id in [k["id"] for k in listed]
        assert secret not in c.get("/admin/keys").text
        assert secret not in c.get(f"/admin/keys/{key_id}").text
    who = httpx.get(gateway + "/whoami", headers={"authorization": f"Bearer {secret}"}).json()
    assert who["key_id"] == key_id


def test_get_one_shows_spend(gateway: str) -> None:
    with _admin(gateway) as c:
        key_id = c.post("/admin/keys", json={"budget_usd": 2, "budget_period": "day"}).json()["id"]
        spend = c.get(f"/admin/keys/{key_id}").json()["spend"]
    assert spend["period"] == "day" and spend["period_usd"] == 0 and spend["budget_usd"] == 2


@pytest.mark.parametrize("how", ["delete", "post"])
def test_revoke_stops_the_key(gateway: str, how: str) -> None:
    with _admin(gateway) as c:
        body = c.post("/admin/keys", json={}).json()
        r = (c.delete(f"/admin/keys/{body['id']}") if how == "delete"
             else c.post(f"/admin/keys/{body['id']}/revoke"))
        assert r.status_code == 200 and r.json()["revoked"] is True
    r = httpx.get(gateway + "/whoami", headers={"authorization": f"Bearer {body['key']}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"authorization": "Bearer wrong"}, 401)],
    ids=["no-key", "wrong-key"],
)
def test_admin_needs_master_key(gateway: str, headers: dict[str, str], status: int) -> None:
    r = httpx.get(gateway + "/admin/keys", headers=headers)
    assert r.status_code == status
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}


def test_virtual_key_is_not_admin(gateway: str) -> None:
    with _admin(gateway) as c:
        secret = c.post("/admin/keys", json={}).json()["key"]
    assert httpx.get(gateway + "/admin/keys", headers={"authorization": f"Bearer {secret}"}).status_code == 401


def test_unknown_key_id_is_404(gateway: str) -> None:
    with _admin(gateway) as c:
        r = c.get("/admin/keys/key_nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "body", [{"rpm": 0}, {"budget_period": "week"}, {"surprise": 1}], ids=["rpm-0", "period", "extra"]
)
def test_bad_body_is_400(gateway: str, body: dict[str, object]) -> None:
    with _admin(gateway) as c:
        r = c.post("/admin/keys", json=body)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


def test_admin_api_is_off_without_master_key(tmp_path: Path) -> None:
    with serve(tmp_path / "s.json", master=None) as url:
        r = httpx.post(url + "/admin/keys", json={}, headers={"authorization": "Bearer x"})
    assert r.status_code == 403 and "SWITCHBOARD_MASTER_KEY" in r.json()["error"]["message"]


def test_keys_survive_restart_without_redis(tmp_path: Path) -> None:
    state = tmp_path / "store.json"
    with serve(state) as url, _admin(url) as c:
        body = c.post("/admin/keys", json={"name": "durable"}).json()
    with serve(state) as url:
        who = httpx.get(url + "/whoami", headers={"authorization": f"Bearer {body['key']}"})
        assert who.status_code == 200 and who.json()["key_id"] == body["id"]
        with _admin(url) as c:
            assert [k["name"] for k in c.get("/admin/keys").json()["data"]] == ["durable"]


def test_cli_create_list_show_revoke(gateway: str, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["keys", "--url", gateway, "--master-key", MASTER]
    assert cli_main([*base, "create", "--name", "cli", "--rpm", "7", "--tag", "edge-only"]) == 0
    out = capsys.readouterr().out
    key_id, secret = out.split()[1], out.splitlines()[1]
    assert secret.startswith("sk-sb-") and "rpm=7" in out and "tags=edge-only" in out
    assert cli_main([*base, "list"]) == 0
    listing = capsys.readouterr().out
    assert key_id in listing and secret not in listing
    assert cli_main([*base, "show", key_id]) == 0
    assert "spend:" in capsys.readouterr().out
    assert cli_main([*base, "revoke", key_id]) == 0
    assert f"revoked {key_id}" in capsys.readouterr().out


def test_cli_reports_refusal(gateway: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["keys", "--url", gateway, "--master-key", "wrong", "list"]) == 1
    assert "401" in capsys.readouterr().err


def test_cli_reports_unreachable_gateway(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    assert cli_main(["keys", "--url", url, "--master-key", MASTER, "list"]) == 2
    assert "cannot reach the gateway" in capsys.readouterr().err


def test_cli_needs_master_key(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHBOARD_MASTER_KEY", raising=False)
    assert cli_main(["keys", "list"]) == 2
    assert "master key" in capsys.readouterr().err
