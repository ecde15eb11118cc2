"""The README's first command, end to end: `hutong demo` on a fresh directory plays Double 11
through the real API (emulated providers and carriers as their own processes); then `hutong
serve` on what it left, and a real browser (Debian's Chromium driven by Playwright) signs in
and reads every console page: figures not empty, no console error, a screenshot of each kept
in docs/console/."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
HUTONG = [sys.executable, "-m", "hutong.cli"]


@dataclass
class Demo:
    data: Path
    url: str
    key: str
    output: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data = tmp_path_factory.mktemp("demo") / "data"
    data.mkdir()
    (data / "stale").write_text("a previous run")  # the demo starts from a fresh directory
    done = subprocess.run(
        [
            *HUTONG,
            "demo",
            "--shoppers",
            "24",
            "--no-serve",
            "--port",
            str(free_port()),
            "--data-dir",
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    key = re.search(r"htk_[\w-]+", done.stdout)
    assert key is not None, done.stdout[-500:]
    port = free_port()
    env = {
        **os.environ,
        "HUTONG_DATA_DIR": str(data),
        "HUTONG_DATABASE_URL": f"sqlite:///{data / 'hutong.sqlite3'}",
        "HUTONG_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "HUTONG_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [*HUTONG, "serve", "--port", str(port), "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/healthz", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        yield Demo(data, url, key.group(0), done.stdout)
    finally:
        server.terminate()
        server.wait(timeout=15)


@pytest.mark.slow
def test_the_demo_played_double11_through_the_api(demo: Demo) -> None:
    assert not (demo.data / "stale").exists()
    assert "24 shoppers" in demo.output and "2 commission holds" in demo.output
    db = sqlite3.connect(demo.data / "hutong.sqlite3")

    def one(sql: str) -> int:
        return int(db.execute(sql).fetchone()[0])

    orders = one("SELECT count(*) FROM orders")
    assert orders > 0 and one("SELECT count(*) FROM orders WHERE paid_at IS NOT NULL") == orders
    # every payment was confirmed by the provider's signed notification
    assert one("SELECT count(*) FROM payment_notices") >= orders
    providers = {r[0] for r in db.execute("SELECT DISTINCT provider FROM payments")}
    assert providers and providers <= {"alipay", "wechatpay", "unionpay"}
    assert one("SELECT count(*) FROM conversions") == orders
    assert one("SELECT count(*) FROM shipments") == orders
    assert one("SELECT count(*) FROM attribution_runs") == 1
    assert one("SELECT count(*) FROM live_sessions") == 1
    assert one("SELECT count(*) FROM payee_holds") == 2
    # the data came through the HTTP API: the server's own request counts say so
    served = json.loads((demo.data / "demo-summary.json").read_text())["requests"]
    assert served["POST /v1/orders 2xx"] == orders
    assert served["POST /v1/orders/{order_id}/payments 2xx"] == orders
    notified = sum(n for k, n in served.items() if k.startswith("POST /notify/") and "2xx" in k)
    assert notified >= orders
    assert served["POST /v1/orders/{order_id}/shipments 2xx"] == orders
    assert served["POST /v1/live/sessions/{session_id}/events 2xx"] >= 1
    assert served["POST /v1/attribution/runs 2xx"] == 1


@pytest.mark.slow
@pytest.mark.browser
def test_every_console_page_in_a_real_browser(demo: Demo) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing at /usr/bin/chromium (scripts/test.sh installs it)")
        pytest.skip("Chromium is not installed at /usr/bin/chromium (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"],
        )
        page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

        page.goto(demo.url + "/console")
        assert page.url.endswith("/console/signin")
        page.fill("#key", "htk_wrong_key")
        page.click("button[type=submit]")
        assert page.locator("#key-error").inner_text() == "这个密钥无效或已吊销"  # beside the field
        page.fill("#key", demo.key)
        page.click("button[type=submit]")
        page.wait_for_url("**/console/overview")
        gmv = page.locator("#total-gmv").inner_text()
        assert gmv.startswith("¥") and gmv != "¥0.00"
        page.locator(".chart .plot-container").first.wait_for()  # Plotly drew, from our server
        page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)

        page.click("text=English")
        assert page.locator("h1").first.inner_text() == "Overview"
        page.click("nav >> text=Live")
        rows = page.locator("#ranking tbody tr")
        assert rows.count() == 3
        kinds = page.locator("#alerts tbody td:nth-child(2)").all_inner_texts()
        assert sorted(set(kinds)) == ["below", "held"]  # the trust alerts, in the console
        page.screenshot(path=str(SHOTS / "live.png"), full_page=True)

        page.locator("a[href^='/console/live/lvs_']").first.click()
        views = page.locator("[data-counter=views]")
        assert int(views.inner_text().replace(",", "")) > 0
        status = page.wait_for_selector("#live-status[data-applied]")  # the first SSE event
        assert status is not None and int(status.get_attribute("data-applied") or 0) > 0
        page.screenshot(path=str(SHOTS / "session.png"), full_page=True)

        page.goto(demo.url + "/console/live")
        page.locator("#ranking a", has_text="@xiaoyangge").click()
        assert float(page.locator("#score").inner_text()) < 3.0
        assert page.locator("#explanation tbody tr").count() == 7
        page.screenshot(path=str(SHOTS / "streamer.png"), full_page=True)

        page.click("nav >> text=Traffic")
        assert page.locator("#campaigns tbody tr").count() == 3
        assert page.locator("#policies tbody tr").count() > 5  # the article's policy history
        page.screenshot(path=str(SHOTS / "traffic.png"), full_page=True)
        history = page.locator("#policies tbody tr").count()
        page.select_option("#source", "kuaishou")
        page.select_option("#target", "taobao")
        page.check("#modes input[value=passcode]")
        page.click("#policy-form button")  # no date: refused beside the field
        assert page.locator("#valid_from-error").is_visible()
        page.fill("#valid_from", "2024-12-12")
        page.check("#modes input[value=passcode]")
        page.fill("#policy-reason", "a console test cuts Kuaishou's links to Taobao for a day")
        page.click("#policy-form button")
        page.wait_for_url("**/console/traffic")
        assert page.locator("#policies tbody tr").count() == history + 1

        page.click("nav >> text=Orders")
        assert page.locator("#orders tbody tr").count() > 0
        page.locator("#orders a").first.click()
        states = page.locator("#states tbody td:nth-child(3)").all_inner_texts()
        assert states[:2] == ["created", "paid"] and "delivered" in states
        assert page.locator("#notices tbody tr").count() >= 1  # the provider's notification
        assert page.locator(".tracking tbody tr").count() >= 1  # the carrier's tracking
        refunds = page.locator("#refunds tbody tr").count()
        page.fill("#amount", "1.234")  # finer than a fen: refused beside the field
        page.click("#refund-form button")
        assert page.locator("#amount-error").inner_text() == (
            "Enter an amount in yuan, at most two decimals"
        )
        page.fill("#amount", "1.50")
        page.click("#refund-form button")
        page.wait_for_selector("#refunds tbody tr")
        assert page.locator("#refunds tbody tr").count() == refunds + 1
        page.screenshot(path=str(SHOTS / "order.png"), full_page=True)

        db = sqlite3.connect(demo.data / "hutong.sqlite3")
        complaint = db.execute(
            "SELECT id, order_id FROM after_sales WHERE state = 'requested' LIMIT 1"
        ).fetchone()
        assert complaint is not None  # the demo leaves complaints to resolve
        page.goto(f"{demo.url}/console/orders/{complaint[1]}")
        page.locator("#after-sales form.decide button.approve").first.click()
        page.wait_for_url(f"**/console/orders/{complaint[1]}")
        assert page.locator("#after-sales .sale-state").first.inner_text() != "requested"
        state = db.execute("SELECT state FROM after_sales WHERE id = ?", (complaint[0],))
        assert state.fetchone()[0] in ("approved", "refunded")

        page.click("nav >> text=Attribution")
        assert page.locator("#compare tbody tr").count() > 0
        headers = page.locator("#compare thead th").all_inner_texts()
        assert {"last_click", "markov"} <= set(headers)  # the models side by side
        page.click("#dimensions >> text=campaign_id")  # htmx swaps the table in place
        page.wait_for_url("**/console/attribution?by=campaign_id")
        assert page.locator("#compare thead th").first.inner_text() == "campaign_id"
        page.locator("#compare-region .chart .plot-container").wait_for()
        page.screenshot(path=str(SHOTS / "attribution.png"), full_page=True)

        page.click("nav >> text=Settlement")
        assert page.locator("#lines tbody tr").count() > 0
        with page.expect_download() as download:
            page.click("#csv")
        assert download.value.suggested_filename.endswith(".csv")
        page.screenshot(path=str(SHOTS / "settlement.png"), full_page=True)

        page.click("nav >> text=Market")
        assert "8740" in page.content() and page.locator("blockquote").count() == 5
        page.screenshot(path=str(SHOTS / "market.png"), full_page=True)
        browser.close()
    assert errors == []


@pytest.mark.slow
def test_a_seller_acts_in_the_console(demo: Demo) -> None:
    """Forms: a carrier rule, a campaign with its link; errors beside the field, in zh."""
    operator = httpx.Client(base_url=demo.url, headers={"Authorization": f"Bearer {demo.key}"})
    tenants = operator.get("/v1/tenants").json()
    taobao = next(t for t in tenants if t["platform_id"] == "taobao")
    key = operator.post(f"/v1/tenants/{taobao['id']}/keys", json={"role": "admin"}).json()["key"]
    form = {"content-type": "application/x-www-form-urlencoded"}
    with httpx.Client(base_url=demo.url, follow_redirects=False) as browser:
        assert browser.post("/console/signin", content=f"key={key}", headers=form).is_redirect
        bad = browser.post("/console/carrier-rule?lang=zh", content="mode=bogus", headers=form)
        assert bad.status_code == 200 and "格式不正确" in bad.text  # beside the field, in zh
        done = browser.post(
            "/console/carrier-rule", content="mode=fastest&carriers=zto&carriers=jd", headers=form
        )
        assert done.status_code == 303
        page = browser.get("/console/traffic").text
        placement = re.search(r'<option value="(plc_\w+)"', page)
        assert placement is not None
        campaign = {
            "name": "天猫 双12 预热",
            "placement": placement.group(1),
            "billing_model": "cpc",
            "price": "0.8",
            "budget": "5000",
            "target_kind": "activity",
            "web_url": "https://evil.example.com/phish",
        }
        auth = {"Authorization": f"Bearer {key}"}
        before = len(httpx.get(demo.url + "/v1/campaigns", headers=auth).json())
        refused = browser.post(
            "/console/campaigns?lang=zh",
            content=urllib.parse.urlencode(campaign),
            headers=form,
        )
        assert 'id="web_url-error"' in refused.text  # a target off Taobao's domains
        assert len(httpx.get(demo.url + "/v1/campaigns", headers=auth).json()) == before
        campaign["web_url"] = "https://pages.tmall.com/wow/double12"
        made = browser.post(
            "/console/campaigns", content=urllib.parse.urlencode(campaign), headers=form
        )
        assert made.status_code == 303
        mine = httpx.get(demo.url + "/v1/campaigns", headers=auth)
        assert len(mine.json()) == before + 1
        assert any(c["name"] == "天猫 双12 预热" and c["cpc_fen"] == 80 for c in mine.json())
    rule = httpx.get(demo.url + "/v1/carrier-rule", headers={"Authorization": f"Bearer {key}"})
    assert rule.json()["mode"] == "fastest" and rule.json()["carriers"] == ["zto", "jd"]
    operator.close()


@pytest.mark.slow
def test_each_tenant_sees_only_its_world_in_the_console(demo: Demo) -> None:
    operator = httpx.Client(base_url=demo.url, headers={"Authorization": f"Bearer {demo.key}"})
    tenants = operator.get("/v1/tenants").json()
    kuaishou = next(t for t in tenants if t["platform_id"] == "kuaishou")
    key = operator.post(f"/v1/tenants/{kuaishou['id']}/keys", json={"role": "admin"}).json()
    operator.close()
    form = {"content-type": "application/x-www-form-urlencoded"}
    with httpx.Client(base_url=demo.url, follow_redirects=False) as browser:
        assert browser.get("/console/live").status_code == 303  # not signed in: to sign in
        browser.post("/console/signin", content=f"key={key['key']}", headers=form)
        live = browser.get("/console/live").text
        assert "/console/live/lvs_" not in live and "@xiaoyangge" not in live  # Douyin's own
        orders = browser.get("/console/orders").text
        assert "/console/orders/ord_" not in orders  # Kuaishou sold no goods
        session = re.search(r"lvs_\w+", (demo.data / "demo-summary.json").read_text())
        assert session is not None
        assert browser.get(f"/console/live/{session.group(0)}").status_code == 404
        browser.post("/console/signout")
        assert browser.get("/console/overview").status_code == 303
