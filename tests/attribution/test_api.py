"""Attribution through the public interfaces, on SQLite and PostgreSQL: impressions and clicks
come in over HTTP, orders are placed and paid, the operator runs attribution by API and by
``hutong attribute``; each tenant reads the comparison it may see."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from typing import Any

import httpx

from hutong.lake.compact import SHANGHAI
from hutong.worker.runner import compact_all
from tests.api.market import MOBILE_SAFARI, Market, build_market, ok
from tests.api.test_jump_flow import jump, wait_for
from tests.commerce.shop import (
    ADDRESS,
    connect_sandbox,
    product,
    sandbox_emulator,
    state_of,
    wait_until,
)
from tests.conftest import LiveServer
from tests.serving import cli, env_for


def _token(answer: httpx.Response) -> str:
    return str(httpx.URL(answer.headers["location"]).params["ht_ct"])


def _paid_order(m: Market, sku_id: str, **extra: Any) -> str:
    body = {
        "lines": [{"sku_id": sku_id, "quantity": 1}],
        "ship_to": ADDRESS,
        **extra,
    }
    created = ok(m.client("tmall").post("/v1/orders", json=body), 201)
    payment = ok(
        m.client("tmall").post(
            f"/v1/orders/{created['id']}/payments", json={"provider": "sandbox"}
        ),
        201,
    )
    assert httpx.post(payment["pay_url"]).status_code == 200
    wait_until(lambda: state_of(m, "tmall", created["id"]) == "paid")
    return str(created["id"])


def _world(server: LiveServer, m: Market) -> dict[str, str]:
    """Douyin shows an impression, Kuaishou's link is clicked; four orders, four ways tied."""
    splash = m.placement("douyin", "splash")
    feed = m.placement("kuaishou", "feed")
    campaign = m.campaign("tmall", [splash, feed], billing="cps")
    link = m.link("tmall", campaign, feed)
    wait_for(lambda: link["code"] in server.world.runtime.cache.links)
    shown = ok(
        m.client("douyin").post(
            "/v1/impressions",
            json={
                "batch_key": "b-1",
                "impressions": [
                    {
                        "placement_id": splash,
                        "campaign_id": campaign,
                        "ts": (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)).isoformat(),
                        "device_id": "OAID-A",
                        "user_agent": MOBILE_SAFARI,
                    }
                ],
            },
        ),
        202,
    )
    assert shown["accepted"] == 1
    time.sleep(0.01)
    token = _token(jump(server, link["code"], MOBILE_SAFARI, "?oaid=OAID-A", ip="10.3.0.1"))
    sku = product(m, "tmall", price_fen=10_000, stock=10)["skus"][0]["id"]
    orders = {
        "token": _paid_order(m, sku, click_token=token, buyer_ref="13800000001"),
        "device": _paid_order(m, sku, device_ref="oaid-a", buyer_ref="13800000002"),
        "buyer": _paid_order(m, sku, buyer_ref="13800000001"),
        "organic": _paid_order(m, sku, buyer_ref="13800000009"),
    }
    server.world.runtime.clicks.rotate()
    server.world.runtime.impressions_log.rotate()
    time.sleep(0.1)
    compact_all(server.world.settings)
    return {"splash": splash, "feed": feed, "campaign": campaign, **orders}


def _today() -> tuple[str, str]:
    today = dt.datetime.now(SHANGHAI).date()
    return today.isoformat(), (today + dt.timedelta(days=1)).isoformat()


def test_attribution_runs_by_api_and_each_tenant_reads_its_share(server: LiveServer) -> None:
    m = build_market(server)
    try:
        with sandbox_emulator({"tmall-shop-1": "s3cret"}) as (_emulator, gateway):
            connect_sandbox(m, "tmall", gateway, "tmall-shop-1", "s3cret")
            world = _world(server, m)
        start, end = _today()
        run = ok(
            m.operator.post(
                "/v1/attribution/runs",
                json={"start": start, "end": end, "models": ["last_click", "linear", "markov"]},
            ),
            201,
        )
        assert run["state"] == "done", run["error"]
        assert (run["orders"], run["attributed_orders"]) == (4, 3)
        assert run["by_tier"] == {"token": 1, "device": 1, "buyer": 1}
        assert run["gmv_fen"] == 40_000 and run["attributed_fen"] == 30_000

        by_platform = ok(
            m.operator.get(f"/v1/attribution/runs/{run['id']}/compare?by=source_platform")
        )
        credits = {r["key"]: r["credits_fen"] for r in by_platform["rows"]}
        # every order's last touch is the Kuaishou click; linear halves with Douyin's view
        assert credits["kuaishou"]["last_click"] == 30_000
        assert credits["douyin"]["last_click"] == 0
        assert credits["kuaishou"]["linear"] == credits["douyin"]["linear"] == 15_000
        assert sum(c["markov"] for c in credits.values()) == 30_000

        journey = ok(m.operator.get(f"/v1/attribution/runs/{run['id']}/orders/{world['token']}"))
        assert [(t["kind"], t["tier"]) for t in journey["touchpoints"]] == [
            ("view", "token"),
            ("click", "token"),
        ]
        assert [t["credits_fen"]["last_click"] for t in journey["touchpoints"]] == [0, 10_000]

        # Douyin sees its placement's credits only; the streamer has no touchpoint at all
        seen = ok(m.client("douyin").get(f"/v1/attribution/runs/{run['id']}/compare"))
        assert [r["key"] for r in seen["rows"]] == [world["splash"]]
        assert (
            ok(m.client("streamer").get(f"/v1/attribution/runs/{run['id']}/compare"))["rows"] == []
        )
        hidden = m.client("streamer").get(
            f"/v1/attribution/runs/{run['id']}/orders/{world['token']}"
        )
        assert hidden.status_code == 404

        # bad input: a clear 4xx, nothing run
        for body, status in (
            ({"start": end, "end": start}, 422),
            ({"start": start, "end": end, "models": ["best_guess"]}, 422),
            ({"start": start, "end": end, "first_share": 0.8, "last_share": 0.4}, 422),
            ({"start": start, "end": end, "engine": "excel"}, 422),
        ):
            bad = m.operator.post("/v1/attribution/runs", json=body)
            assert bad.status_code == status and bad.json()["code"], bad.text
        assert (
            m.client("tmall")
            .post("/v1/attribution/runs", json={"start": start, "end": end})
            .status_code
            == 403
        )
        nonsense = m.operator.get(f"/v1/attribution/runs/{run['id']}/compare?by=weather")
        assert nonsense.status_code == 422
        assert m.operator.get("/v1/attribution/runs/atr_nope/compare").status_code == 404

        # the same attribution by the command line, with its comparison table
        settings = server.world.settings
        env = env_for(settings.data_dir, settings.database_url)
        out = cli(
            env,
            "attribute",
            "--from",
            start,
            "--to",
            end,
            "--model",
            "last_click",
            "--model",
            "linear",
            "--by",
            "source_platform",
        ).stdout
        assert "3 of 4 orders attributed" in out and "kuaishou" in out and "150.00" in out

        # the overview from the lake: the same four paid orders, by day and shelf platform
        sheet = settings.data_dir / "overview.csv"
        printed = cli(env, "report", "--from", start, "--to", end, "--out", str(sheet)).stdout
        assert "400.00" in printed
        rows = list(csv.DictReader(io.StringIO(sheet.read_text(encoding="utf-8-sig"))))
        assert sum(int(r["paid_orders"]) for r in rows) == 4
        assert sum(int(r["gmv_fen"]) for r in rows) == 40_000
        assert cli(env, "report", "--from", end, "--to", start, check=False).returncode == 2
    finally:
        m.close()
