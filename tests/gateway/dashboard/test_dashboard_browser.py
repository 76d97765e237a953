"""The dashboard in headless Debian Chromium (Playwright, never ``playwright install``): traffic
sent with the openai client shows up after entering the admin key, with decisions, their reasons,
deployments' health and a rejected reload's problems. Leaves a screenshot in var/dashboard.png."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.gateway.harness import GatewayServer, fake_config

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
MASTER = "sk-master-browser"
MSGS = [{"role": "user", "content": "What is two plus two?"}]
SCREENSHOT = Path(__file__).resolve().parents[3] / "var" / "dashboard.png"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium: apt-get install -y chromium")


@pytest.fixture
def gw(_fake_upstream_session: FakeUpstream) -> Iterator[GatewayServer]:
    with GatewayServer(fake_config(_fake_upstream_session.base_url), master_key=MASTER) as server:
        yield server


def test_dashboard_shows_traffic_decisions_and_health(gw: GatewayServer, fake_upstream: FakeUpstream) -> None:
    from playwright.sync_api import expect, sync_playwright

    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=MASTER, max_retries=0)
    for _ in range(3):
        client.chat.completions.create(model="auto", messages=MSGS)  # type: ignore[arg-type]
    rid = "browser-" + uuid.uuid4().hex[:8]
    client.chat.completions.create(model="edge-first", messages=MSGS,  # type: ignore[arg-type]
                                   extra_headers={"x-request-id": rid})
    good = gw.config_path.read_text()
    gw.config_path.write_text(good.replace("max_attempts: 2", "max_attempts: 0"))
    assert httpx.post(gw.url + "/admin/config/reload",
                      headers={"authorization": f"Bearer {MASTER}"}).status_code == 400

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            console_errors: list[str] = []
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.goto(gw.url + "/dashboard")
            expect(page.locator("#key-dialog")).to_be_visible()  # the admin API answered 401
            page.fill("#key-input", MASTER)
            page.click("#key-save")

            expect(page.locator("#t-requests")).to_have_text("4")
            expect(page.locator("#t-errors")).to_have_text("0")
            expect(page.locator("#t-saved")).not_to_have_text("$0")  # edge answered for free
            row = page.locator("#decisions tbody tr", has_text=rid)
            expect(row).to_contain_text("edge-first")
            expect(row).to_contain_text("edge")
            expect(row).to_contain_text("fallback")
            expect(page.locator("#traffic-deployments tbody tr", has_text="fast")).to_contain_text("3")
            keyed = page.locator("#deployments tbody tr", has_text="keyed")
            expect(keyed).to_contain_text("unavailable")
            expect(keyed).to_contain_text("SB_TEST_NEVER_SET_KEY")
            expect(page.locator("#deployments tbody tr", has_text="m-fast")).to_contain_text("available")
            expect(page.locator("#config-error")).to_be_visible()
            expect(page.locator("#config-problems")).to_contain_text("retry.max_attempts")
            expect(page.locator("#panel-tools")).to_be_hidden()  # no tools API in this app
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            # the one expected failure is the first, keyless 401; anything else (a CSP refusal, a
            # script error, a missing file) is a bug
            assert [e for e in console_errors if "401" not in e] == []
        finally:
            browser.close()
