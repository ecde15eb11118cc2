"""Tenant visibility over every route of the app: outsiders get 404, insiders get the object.

The routes come from the app itself; a new route with a path parameter this test does not know
fails the test until its visibility rule is written down here and in docs/visibility.md.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx

from hutong.app import create_app
from hutong.ids import new_id
from hutong.lake.compact import SHANGHAI
from hutong.live.trust.models import TrustFlag
from tests.api.market import build_market, ok
from tests.api.test_jump_flow import wait_for
from tests.conftest import LiveServer

# names anyone may use (link codes, platforms, providers, carriers, ad systems): no object
PUBLIC_PARAMS = {"code", "platform_id", "fmt", "provider", "merchant", "carrier", "platform_name"}


def test_every_object_route_hides_other_tenants_objects(server: LiveServer) -> None:
    m = build_market(server)
    try:
        _walk(server, m)
    finally:
        m.close()


def _walk(server: LiveServer, m: Any) -> None:
    splash = m.placement("douyin", "splash")
    campaign = m.campaign("tmall", [splash])
    ok(
        m.client("tmall").post(
            f"/v1/campaigns/{campaign}/creatives", json={"placement_id": splash, "name": "splash A"}
        ),
        201,
    )
    link = m.link("tmall", campaign, splash, affiliate_id=m.tenants["streamer"])
    wait_for(lambda: link["code"] in server.world.runtime.cache.links)
    endpoint = ok(
        m.client("douyin").post(
            "/v1/postback-endpoints", json={"url": "https://ads.douyin.example/pb"}
        ),
        201,
    )
    keys = ok(m.client("tmall").get(f"/v1/tenants/{m.tenants['tmall']}/keys"))
    policy = ok(
        m.client("douyin").post(
            "/v1/policies",
            json={
                "source_platform_id": "douyin",
                "target_platform_id": "jd",
                "surface": "feed",
                "modes": ["passcode"],
                "valid_from": "2030-01-01T00:00:00+08:00",
            },
        ),
        201,
    )

    product = ok(
        m.client("shop").post(
            "/v1/products",
            json={
                "title": "box",
                "skus": [{"code": "B1", "title": "box", "price_fen": 100, "stock": 5}],
            },
        ),
        201,
    )
    sku_id = product["skus"][0]["id"]
    order = ok(
        m.client("shop").post(
            "/v1/orders",
            json={
                "lines": [{"sku_id": sku_id, "quantity": 1}],
                "buyer_ref": "b1",
                "ship_to": {
                    "name": "王五",
                    "phone": "13700000000",
                    "province": "上海市",
                    "city": "上海市",
                    "address": "南京路",
                },
            },
        ),
        201,
    )
    ok(
        m.client("shop").post(
            "/v1/provider-accounts",
            json={
                "provider": "sandbox",
                "settings": {"merchant_id": "shop-1", "secret": "x"},
                "gateway_url": "http://127.0.0.1:9",
            },
        ),
        201,
    )
    payment = ok(
        m.client("shop").post(f"/v1/orders/{order['id']}/payments", json={"provider": "sandbox"}),
        201,
    )

    with server.world.store.transaction() as session:  # a shipment, as logistics records one
        from hutong.logistics.models import CarrierAccount, Shipment

        session.add(
            CarrierAccount(
                id="cac_" + "0" * 20,
                seller_id=m.tenants["shop"],
                carrier="zto",
                customer_key="vis",
                settings={},
                sealed="",
                gateway_url="http://x",
            )
        )
        session.add(
            Shipment(
                id="shp_" + "0" * 20,
                order_id=order["id"],
                seller_id=m.tenants["shop"],
                account_id="cac_" + "0" * 20,
                carrier="zto",
                waybill_no="7000",
                status="info_received",
            )
        )

    today = dt.datetime.now(SHANGHAI).date()
    run = ok(
        m.operator.post(
            "/v1/attribution/runs",
            json={"start": today.isoformat(), "end": (today + dt.timedelta(days=1)).isoformat()},
        ),
        201,
    )
    alliance = ok(
        m.client("douyin").post(
            "/v1/alliances/accounts",
            json={
                "platform": "jd",
                "payer_id": m.tenants["jd"],
                "gateway_url": "http://127.0.0.1:9/routerjson",
                "settings": {"app_key": "vis", "app_secret": "x"},
            },
        ),
        201,
    )
    streamer = ok(
        m.client("douyin").post(
            "/v1/streamers",
            json={"handle": "vis", "name": "vis", "tenant_id": m.tenants["streamer"]},
        ),
        201,
    )
    live = ok(
        m.client("douyin").post(
            "/v1/live/sessions",
            json={"streamer_id": streamer["id"], "title": "x", "starts_at": "2024-11-10T20:00Z"},
        ),
        201,
    )
    penalty_body = {"points": 1, "code": "x", "reason": "x", "occurred_at": "2024-11-01T00:00Z"}
    penalty = ok(
        m.client("douyin").post(f"/v1/streamers/{streamer['id']}/penalties", json=penalty_body),
        201,
    )
    ok(m.client("douyin").post("/v1/trust/recompute", json={"streamer_ids": [streamer["id"]]}))
    with server.world.store.transaction() as session:
        flag = TrustFlag(id=new_id("tfl"), streamer_id=streamer["id"], kind="self_purchase")
        session.add(flag)
    everyone = {"douyin", "kuaishou", "tmall", "jd", "shop", "streamer"}
    readers = everyone - {"kuaishou"}  # a streamer's record: not another content platform's
    # param -> (value, tenants who may see it)
    objects: dict[str, tuple[str, set[str]]] = {
        "run_id": (run["id"], everyone),  # each sees its own share of a run
        "period_id": ("2024-11", everyone),  # each sees its own statement
        "product_id": (product["id"], {"shop", "tmall"}),
        "sku_id": (sku_id, {"shop", "tmall"}),
        "order_id": (order["id"], {"shop", "tmall"}),
        "payment_id": (payment["id"], {"shop", "tmall"}),
        "shipment_id": ("shp_" + "0" * 20, {"shop", "tmall"}),
        "after_sale_id": ("afs_" + "0" * 20, {"shop", "tmall"}),
        "campaign_id": (campaign, {"tmall"}),
        "link_id": (link["id"], {"tmall", "streamer"}),
        "placement_id": (splash, {"douyin", "tmall", "jd", "shop"}),
        "tenant_id": (m.tenants["tmall"], {"tmall"}),
        "key_id": (keys[0]["id"], {"tmall"}),
        "endpoint_id": (endpoint["id"], {"douyin"}),
        "policy_id": (policy["id"], {"douyin"}),
        "account_id": (alliance["id"], {"douyin", "jd"}),  # its owner and the payer
        "position_id": ("3003003", everyone),
        "streamer_id": (streamer["id"], readers),
        "session_id": (live["id"], readers),
        "penalty_id": (penalty["id"], readers),
        "flag_id": (flag.id, readers),
    }
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/v1/campaigns/{campaign_id}/creatives"): {"placement_id": splash, "name": "x"},
        ("PATCH", "/v1/links/{link_id}"): {"active": True},
        ("POST", "/v1/links/{link_id}/passcodes"): {"ttl_days": 3},
        ("POST", "/v1/tenants/{tenant_id}/keys"): {"role": "analyst"},
        ("POST", "/v1/skus/{sku_id}/stock"): {"add": 1},
        ("POST", "/v1/orders/{order_id}/cancel"): {"reason": "x"},
        ("POST", "/v1/orders/{order_id}/payments"): {"provider": "sandbox"},
        ("POST", "/v1/orders/{order_id}/refunds"): {"amount_fen": 1},
        ("POST", "/v1/orders/{order_id}/shipments"): {"carrier": "zto"},
        ("POST", "/v1/orders/{order_id}/after-sales"): {
            "kind": "refund_only",
            "amount_fen": 1,
            "reason": "x",
        },
        ("POST", "/v1/after-sales/{after_sale_id}/approve"): {},
        ("POST", "/v1/after-sales/{after_sale_id}/reject"): {},
        ("POST", "/v1/settlement/periods/{period_id}/close"): {},
        ("PUT", "/v1/alliances/accounts/{account_id}/positions/{position_id}"): {},
        ("POST", "/v1/alliances/accounts/{account_id}/poll"): {},
        ("POST", "/v1/streamers/{streamer_id}/penalties"): penalty_body,
        ("POST", "/v1/penalties/{penalty_id}/appeal"): {},
        ("POST", "/v1/penalties/{penalty_id}/uphold"): {},
        ("POST", "/v1/penalties/{penalty_id}/revoke"): {},
        ("POST", "/v1/live/sessions/{session_id}/events"): {
            "events": [{"event_id": "e", "kind": "like", "ts_ms": 1_731_240_000_000}]
        },
        ("POST", "/v1/live/sessions/{session_id}/end"): {},
        ("POST", "/v1/streamers/{streamer_id}/linked-accounts"): {"accounts": ["x"]},
        ("POST", "/v1/trust/flags/{flag_id}/dismiss"): {"note": "x"},
    }
    app = create_app(server.world.runtime, manage_runtime=False)
    checked = 0
    routes = app.openapi()["paths"]  # every route the app serves, from the app itself
    assert len(routes) > 20
    for template, operations in routes.items():
        params = set(re.findall(r"{(\w+)}", template)) - PUBLIC_PARAMS
        if not params:
            continue
        unknown = params - objects.keys()
        assert not unknown, f"{template}: add a visibility rule for {unknown}"
        path = template.replace("{fmt}", "png")
        for name in params:
            path = path.replace("{" + name + "}", objects[name][0])
        allowed = set.intersection(*(objects[name][1] for name in params))
        for method in sorted(m_.upper() for m_ in operations if m_ != "head"):
            body = bodies.get((method, template))
            if "requestBody" in operations[method.lower()]:
                assert body is not None, f"{method} {template}: add a valid body"
            for tenant in sorted(everyone - allowed):
                answer = m.client(tenant).request(method, path, json=body)
                assert answer.status_code == 404, (tenant, method, path, answer.text)
                assert answer.json()["code"].endswith("not_found")
                checked += 1
            if method == "GET":
                for tenant in sorted(allowed):
                    query = {"limit": 1} if path.endswith("/stream") else None  # SSE: one
                    answer: httpx.Response = m.client(tenant).get(path, params=query)
                    assert answer.status_code == 200, (tenant, path, answer.text)
    assert checked > 40


def test_lists_are_scoped(server: LiveServer) -> None:
    m = build_market(server)
    try:
        splash = m.placement("douyin", "splash")
        feed = m.placement("kuaishou", "feed")
        tmall_campaign = m.campaign("tmall", [splash])
        shop_campaign = m.campaign("shop", [feed])
        jd_campaign = m.campaign("jd", [splash], target="jd")

        def ids(who: str, path: str) -> set[str]:
            return {row["id"] for row in ok(m.client(who).get(path))}

        assert ids("tmall", "/v1/campaigns") == {tmall_campaign, shop_campaign}
        assert ids("shop", "/v1/campaigns") == {shop_campaign}
        assert ids("jd", "/v1/campaigns") == {jd_campaign}
        assert ids("douyin", "/v1/campaigns") == set()
        assert ids("douyin", "/v1/placements") == {splash}
        assert ids("streamer", "/v1/placements") == set()
        assert ids("tmall", "/v1/placements") == {splash, feed}
        assert ids("tmall", "/v1/tenants") == {m.tenants["tmall"], m.tenants["shop"]}
        assert ids("jd", "/v1/tenants") == {m.tenants["jd"]}
        operator = ids("operator", "/v1/campaigns") if "operator" in m.keys else None
        assert operator is None or len(operator) == 3
    finally:
        m.close()
