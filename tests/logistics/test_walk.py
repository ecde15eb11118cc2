"""The article's walk over HTTP, on SQLite and PostgreSQL: a Douyin click → a Tmall order → paid
with WeChat Pay → shipped by JD Logistics (written back to Taobao) → delivered → a partial
refund. Then what carriers do wrong: re-pushes, silence, refusals, a refund before pickup."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from hutong.logistics.emulators.base import Tariff
from hutong.logistics.emulators.sf import SfEmulator
from hutong.logistics.models import CarrierAccount
from hutong.logistics.service import (
    ask_unsettled_again,
    flag_stale,
    intercept_refunded,
    poll_due,
)
from hutong.payments.emulators.wechatpay import WechatPayEmulator
from tests.api.market import Market, build_market, ok
from tests.commerce.shop import (
    connect_sandbox,
    order,
    product,
    sandbox_emulator,
    state_of,
    wait_until,
)
from tests.commerce.test_order_walk import click_token
from tests.conftest import LiveServer, running
from tests.logistics.carriers import SF, TAOBAO, Carriers, carriers
from tests.payments.test_wechatpay import KEY_ID, Keys, merchant
from tests.payments.test_wechatpay import settings as wechat_settings


@pytest.fixture(scope="module")
def wx_keys() -> Keys:
    return Keys()


@pytest.fixture
def fleet_world(server: LiveServer) -> Iterator[tuple[Market, Carriers]]:
    m = build_market(server)
    try:
        with carriers() as fleet:
            fleet.point_pushes_at(server.url)
            for name in ("jd", "sf", "zto", "cainiao"):
                ok(
                    m.client("tmall").post(
                        "/v1/carrier-accounts",
                        json={
                            "carrier": name,
                            "settings": fleet.settings(name),
                            "gateway_url": fleet.gateway(name),
                        },
                    ),
                    201,
                )
            ok(
                m.client("tmall").post(
                    "/v1/platform-accounts",
                    json={
                        "platform_id": "taobao",
                        "settings": TAOBAO,
                        "gateway_url": fleet.platforms_url + "/router/rest",
                    },
                ),
                201,
            )
            yield m, fleet
    finally:
        m.close()


def paid_order(m: Market, server: LiveServer, gateway: str, **order_extra: Any) -> dict[str, Any]:
    sku = product(m, "tmall", price_fen=59_900, stock=3)["skus"][0]
    created = ok(order(m, "tmall", sku["id"], **order_extra), 201)
    payment = ok(
        m.client("tmall").post(
            f"/v1/orders/{created['id']}/payments", json={"provider": "sandbox"}
        ),
        201,
    )
    httpx.post(payment["pay_url"])
    wait_until(lambda: state_of(m, "tmall", created["id"]) == "paid")
    return created


def test_click_order_wechat_pay_jd_logistics_delivered_partial_refund(
    server: LiveServer, fleet_world: tuple[Market, Carriers], wx_keys: Keys
) -> None:
    m, fleet = fleet_world
    wx = WechatPayEmulator([merchant(wx_keys)], wx_keys.platform_private, KEY_ID, time_scale=0.001)
    try:
        with running(wx.app) as wx_url:
            ok(
                m.client("tmall").post(
                    "/v1/provider-accounts",
                    json={
                        "provider": "wechatpay",
                        "gateway_url": wx_url,
                        "settings": wechat_settings(wx_keys),
                    },
                ),
                201,
            )
            token = click_token(server, m)
            sku = product(m, "tmall", price_fen=59_900, stock=2)["skus"][0]
            created = ok(
                order(m, "tmall", sku["id"], click_token=token, external_ref="TB-2024-11-11-001"),
                201,
            )
            payment = ok(
                m.client("tmall").post(
                    f"/v1/orders/{created['id']}/payments", json={"provider": "wechatpay"}
                ),
                201,
            )
            httpx.post(payment["pay_url"])
            wait_until(lambda: state_of(m, "tmall", created["id"]) == "paid")

            shipment = ok(
                m.client("tmall").post(
                    f"/v1/orders/{created['id']}/shipments",
                    json={"carrier": "jd", "weight_g": 2_000},
                ),
                201,
            )
            assert shipment["carrier"] == "jd" and shipment["waybill_no"].startswith("JDV")
            assert shipment["written_back"] is True
            assert fleet.platforms.shipped["taobao:TB-2024-11-11-001"] == {
                "carrier": "JD",
                "waybill": shipment["waybill_no"],
            }
            assert state_of(m, "tmall", created["id"]) == "shipped"

            httpx.post(
                f"{fleet.urls['jd']}/_emulator/advance/{shipment['waybill_no']}",
                params={"to": "delivered"},
            )
            wait_until(lambda: state_of(m, "tmall", created["id"]) == "delivered")
            timeline = ok(m.client("tmall").get(f"/v1/orders/{created['id']}/shipments"))[0]
            assert [e["status"] for e in timeline["events"]] == [
                "picked_up",
                "in_transit",
                "in_transit",
                "out_for_delivery",
                "delivered",
            ]
            assert (
                timeline["events"][-1]["code"] == "妥投"
                and timeline["events"][-1]["source"] == "push"
            )
            assert timeline["status"] == "delivered" and timeline["delivered_at"]

            ok(
                m.client("tmall").post(
                    f"/v1/orders/{created['id']}/refunds", json={"amount_fen": 9_900}
                ),
                201,
            )
            wait_until(lambda: state_of(m, "tmall", created["id"]) == "partially_refunded")
            walk = ok(m.client("tmall").get(f"/v1/orders/{created['id']}"))
            assert [e["to_state"] for e in walk["events"]] == [
                "created",
                "paid",
                "shipped",
                "delivered",
                "partially_refunded",
            ]
            assert (walk["paid_fen"], walk["refunded_fen"]) == (59_900, 9_900)
            conversions = ok(m.client("douyin").get("/v1/conversions"))
            assert [c["order_ref"] for c in conversions] == [created["id"]]
    finally:
        wx.close()


def test_repush_silence_stale_and_records(
    server: LiveServer, fleet_world: tuple[Market, Carriers]
) -> None:
    m, fleet = fleet_world
    with sandbox_emulator({"tm-l": "s"}) as (_emu, gateway):
        connect_sandbox(m, "tmall", gateway, "tm-l", "s")
        created = paid_order(m, server, gateway)
        shipment = ok(
            m.client("tmall").post(
                f"/v1/orders/{created['id']}/shipments", json={"carrier": "zto"}
            ),
            201,
        )
        waybill, zto = shipment["waybill_no"], fleet.urls["zto"]
        httpx.post(f"{zto}/_emulator/advance/{waybill}", params={"to": "in_transit"})
        events = lambda: ok(m.client("tmall").get(f"/v1/shipments/{shipment['id']}"))["events"]  # noqa: E731
        wait_until(lambda: len(events()) == 2)
        httpx.post(f"{zto}/_emulator/repush/{waybill}")  # the whole history again
        wait_until(
            lambda: all(d["done"] for d in httpx.get(f"{zto}/_emulator/state").json()["deliveries"])
        )
        assert len(events()) == 2  # nothing doubled

        httpx.post(f"{zto}/_emulator/mute")  # the carrier stops pushing
        httpx.post(f"{zto}/_emulator/advance/{waybill}", params={"to": "out_for_delivery"})
        assert len(events()) == 2
        runtime = server.world.runtime
        an_hour_later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        assert poll_due(runtime.logistics, an_hour_later) >= 1
        polled = events()
        assert (
            len(polled) == 4
            and polled[-1]["status"] == "out_for_delivery"
            and polled[-1]["source"] == "poll"
        )
        httpx.post(f"{zto}/_emulator/mute", params={"on": False})

        four_days_later = dt.datetime.now(dt.UTC) + dt.timedelta(days=4)
        assert flag_stale(runtime.logistics, four_days_later) >= 1  # 72 h without news
        assert ok(m.client("tmall").get(f"/v1/shipments/{shipment['id']}"))["stale"] is True
        httpx.post(f"{zto}/_emulator/advance/{waybill}", params={"to": "delivered"})
        wait_until(lambda: state_of(m, "tmall", created["id"]) == "delivered")
        assert ok(m.client("tmall").get(f"/v1/shipments/{shipment['id']}"))["stale"] is False
        records = {r["carrier"]: r for r in ok(m.client("tmall").get("/v1/carriers/records"))}
        assert records["zto"]["shipments"] >= 1 and records["zto"]["delivered"] >= 1


def test_rules_fall_back_and_a_refund_before_pickup_intercepts(
    server: LiveServer, fleet_world: tuple[Market, Carriers]
) -> None:
    m, fleet = fleet_world
    picky = SfEmulator(
        {SF["partner_id"]: SF["check_word"]},
        time_scale=0.001,
        tariff=Tariff((1, 1, 1), (1, 1, 1), (1, 1, 1), serves=frozenset({"north"})),
    )
    try:
        with running(picky.app) as picky_url, sandbox_emulator({"tm-r": "s"}) as (_emu, gateway):
            connect_sandbox(m, "tmall", gateway, "tm-r", "s")
            # the seller moves its SF account to a branch that does not deliver to the south
            with server.world.store.transaction() as session:
                session.execute(
                    update(CarrierAccount)
                    .where(CarrierAccount.carrier == "sf")
                    .values(gateway_url=picky_url + "/std/service")
                )
            ok(
                m.client("tmall").put(
                    "/v1/carrier-rule", json={"mode": "preference", "carriers": ["sf", "zto"]}
                )
            )
            created = paid_order(m, server, gateway)
            shipped = ok(
                m.client("tmall").post(f"/v1/orders/{created['id']}/shipments", json={}), 201
            )
            assert shipped["carrier"] == "zto" and shipped["chosen_by"] == "preference #2"
            all_shipments = ok(m.client("tmall").get(f"/v1/orders/{created['id']}/shipments"))
            assert [(s["carrier"], s["status"]) for s in all_shipments] == [
                ("sf", "cancelled"),
                ("zto", "info_received"),
            ]

            ok(
                m.client("tmall").put(
                    "/v1/carrier-rule",
                    json={"mode": "cheapest", "carriers": ["zto", "jd", "cainiao"]},
                )
            )
            cheap = paid_order(m, server, gateway)
            chosen = ok(m.client("tmall").post(f"/v1/orders/{cheap['id']}/shipments", json={}), 201)
            assert chosen["carrier"] == "zto" and chosen["quoted_fee_fen"] == 500  # 浙江 → 浙江

            # refunded in full before the carrier picked it up: the waybill is cancelled
            ok(
                m.client("tmall").post(
                    f"/v1/orders/{cheap['id']}/refunds", json={"amount_fen": 59_900}
                ),
                201,
            )
            wait_until(lambda: state_of(m, "tmall", cheap["id"]) == "refunded")
            assert intercept_refunded(server.world.runtime.logistics) == 1
            stopped = ok(m.client("tmall").get(f"/v1/shipments/{chosen['id']}"))
            assert (
                stopped["status"] == "cancelled" and stopped["events"][-1]["code"] == "INTERCEPTED"
            )
            parcel = httpx.get(f"{fleet.urls['zto']}/_emulator/state").json()["parcels"][
                chosen["waybill_no"]
            ]
            assert parcel["cancelled"] is True
            twice = m.client("tmall").post(f"/v1/orders/{created['id']}/shipments", json={})
            assert twice.status_code == 409
    finally:
        picky.close()


def test_an_unreadable_waybill_answer_asks_the_same_carrier_again_never_the_next(
    server: LiveServer, fleet_world: tuple[Market, Carriers]
) -> None:
    """SF may have taken the parcel when its answer cannot be read: handing the order to ZTO
    would book it twice. The shipment waits; the same request asks SF again, for it."""
    m, fleet = fleet_world
    with sandbox_emulator({"tm-u": "s"}) as (_emu, gateway):
        connect_sandbox(m, "tmall", gateway, "tm-u", "s")
        ok(
            m.client("tmall").put(
                "/v1/carrier-rule", json={"mode": "preference", "carriers": ["sf", "zto"]}
            )
        )
        created = paid_order(m, server, gateway)
        sf = fleet.urls["sf"]
        ok(httpx.post(f"{sf}/_emulator/omit", json={"field": "msgData.waybillNoInfoList"}))
        try:
            unsettled = m.client("tmall").post(f"/v1/orders/{created['id']}/shipments", json={})
        finally:
            ok(httpx.post(f"{sf}/_emulator/omit", json={"field": ""}))
        assert unsettled.status_code == 409, unsettled.text
        assert unsettled.json()["code"] == "carrier_unsettled"
        waiting = ok(m.client("tmall").get(f"/v1/orders/{created['id']}/shipments"))
        assert [(s["carrier"], s["status"], s["waybill_no"]) for s in waiting] == [
            ("sf", "info_received", None)
        ]
        assert state_of(m, "tmall", created["id"]) == "paid"
        zto = httpx.get(f"{fleet.urls['zto']}/_emulator/state").json()["parcels"]
        assert not any(p["reference"] == waiting[0]["id"] for p in zto.values())

        shipped = ok(m.client("tmall").post(f"/v1/orders/{created['id']}/shipments", json={}), 201)
        assert (shipped["id"], shipped["carrier"]) == (waiting[0]["id"], "sf")
        parcels = httpx.get(f"{sf}/_emulator/state").json()["parcels"]
        taken = [w for w, p in parcels.items() if p["reference"] == shipped["id"]]
        assert taken == [shipped["waybill_no"]]  # booked once, kept the waybill it first made
        assert state_of(m, "tmall", created["id"]) == "shipped"

        # left waiting, the worker asks SF again by itself
        later = paid_order(m, server, gateway)
        ok(httpx.post(f"{sf}/_emulator/omit", json={"field": "msgData.waybillNoInfoList"}))
        try:
            again = m.client("tmall").post(f"/v1/orders/{later['id']}/shipments", json={})
            assert again.status_code == 409
            assert ask_unsettled_again(server.world.runtime.logistics) == 0  # still unreadable
        finally:
            ok(httpx.post(f"{sf}/_emulator/omit", json={"field": ""}))
        assert ask_unsettled_again(server.world.runtime.logistics) == 1
        assert ask_unsettled_again(server.world.runtime.logistics) == 0  # nothing left waiting
        assert state_of(m, "tmall", later["id"]) == "shipped"
        (settled,) = ok(m.client("tmall").get(f"/v1/orders/{later['id']}/shipments"))
        assert settled["carrier"] == "sf" and settled["waybill_no"]
