"""Each carrier adapter against its emulator: signing, waybill formats, tracking mapped to one
vocabulary with the carrier's own code kept, cancellation before pickup only, pushes verified."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from urllib.parse import quote_plus

import httpx
import pytest

from hutong.logistics.carriers import cainiao, jd, sf, zto
from hutong.logistics.protocol import CarrierAccount, Parcel, PushRefused, TrackStatus
from hutong.logistics.registry import CARRIERS
from tests.logistics.carriers import Carriers, carriers

WAYBILL = {
    "sf": r"^SF\d{13}$",
    "zto": r"^7\d{13}$",
    "jd": r"^JDV\d{12}$",
    "cainiao": r"^LP\d{14}$",
}
RECEIVER = {
    "name": "张三",
    "phone": "13812345678",
    "province": "广东省",
    "city": "深圳市",
    "district": "南山区",
    "address": "科技园",
}


@pytest.fixture(scope="module")
def fleet() -> Iterator[Carriers]:
    with carriers() as c:
        yield c


def account(fleet: Carriers, name: str) -> CarrierAccount:
    return CarrierAccount(
        "cac_t",
        name,
        fleet.customer(name),
        fleet.settings(name),
        fleet.gateway(name),
        "http://127.0.0.1:9/tracking/" + name,
    )


def test_signatures_follow_the_published_formulas() -> None:
    """Each formula written out independently of the module (hashlib, by the sources cited)."""
    body, secret, ts = '{"orderId":"HT1"}', "check", "1731254400"
    assert (
        sf.digest(body, ts, secret)
        == base64.b64encode(hashlib.md5(quote_plus(body + ts + secret).encode()).digest()).decode()
    )
    assert (
        zto.data_digest(body, secret)
        == base64.b64encode(hashlib.md5((body + secret).encode()).digest()).decode()
    )
    assert (
        cainiao.data_digest(body, secret)
        == base64.b64encode(hashlib.md5((body + secret).encode()).digest()).decode()
    )
    assert (
        jd.sign("s", "t", "k", "/ecap/v1/orders/create", body, "2024-11-11 00:00:00")
        == hashlib.md5(
            (
                "saccess_tokentapp_keykmethod/ecap/v1/orders/createparam_json"
                + body
                + "timestamp2024-11-11 00:00:00v2.0s"
            ).encode()
        ).hexdigest()
    )
    # SF URL-encodes before hashing: a space and Chinese characters change the digest
    assert (
        sf.digest("收 件", ts, secret)
        != base64.b64encode(hashlib.md5(("收 件" + ts + secret).encode()).digest()).decode()
    )


def test_status_codes_map_to_one_vocabulary() -> None:
    assert sf.OPCODES["50"] is TrackStatus.PICKED_UP and sf.OPCODES["80"] is TrackStatus.DELIVERED
    assert zto.SCAN_TYPES["派件"] is TrackStatus.OUT_FOR_DELIVERY
    assert zto.SCAN_TYPES["SIGNED"] is TrackStatus.DELIVERED
    assert (
        jd.status_of("妥投") is TrackStatus.DELIVERED and jd.status_of("??") is TrackStatus.UNKNOWN
    )
    sample = {
        "time": 1636098210000,
        "logisticsStatus": "TRANSPORT",
        "subLogisticsStatus": "STA_INBOUND",
        "desc": "已到达驿站",
        "areaName": "广东省,深圳市",
    }
    scan = cainiao.scan_of("LP1", sample)
    assert scan.status is TrackStatus.READY_FOR_PICKUP and scan.code == "TRANSPORT/STA_INBOUND"
    unknown = sf.scan_of(
        "SF1", {"opCode": "12345", "remark": "?", "acceptTime": "2024-11-11 10:00:00"}
    )
    assert unknown.status is TrackStatus.UNKNOWN and unknown.code == "12345"


@pytest.mark.parametrize("name", sorted(CARRIERS))
def test_adapter_against_emulator(fleet: Carriers, name: str) -> None:
    carrier = CARRIERS[name]
    acct = account(fleet, name)
    parcel = Parcel(f"shp_{name}0000000000000000"[:24], 1500, "浙江省", "广东省", RECEIVER)
    with httpx.Client() as client:
        quote = carrier.quote(acct, parcel, client)
        assert quote.ok and quote.fee_fen > 0 and quote.days >= 1, quote
        first = carrier.create_waybill(acct, parcel, client)
        again = carrier.create_waybill(acct, parcel, client)
        assert first.ok and re.match(WAYBILL[name], first.waybill_no), first
        assert again.waybill_no == first.waybill_no  # the same order keeps its waybill
        assert carrier.track(acct, first.waybill_no, client) == []
        httpx.post(
            f"{fleet.urls[name]}/_emulator/advance/{first.waybill_no}",
            params={"to": "out_for_delivery"},
        )
        scans = carrier.track(acct, first.waybill_no, client)
        assert scans is not None
        assert [s.status for s in scans] == [
            TrackStatus.PICKED_UP,
            TrackStatus.IN_TRANSIT,
            TrackStatus.IN_TRANSIT,
            TrackStatus.OUT_FOR_DELIVERY,
        ]
        assert all(s.code and s.text for s in scans)  # the carrier's own code and words kept
        assert not carrier.cancel(acct, first.waybill_no, client)  # picked up: too late
        other = carrier.create_waybill(
            acct, Parcel(parcel.reference + "b", 500, "浙江省", "广东省", RECEIVER), client
        )
        assert carrier.cancel(acct, other.waybill_no, client)
        far = carrier.create_waybill(
            acct,
            Parcel("shp_far", 500, "浙江省", "Atlantis", {**RECEIVER, "province": "Atlantis"}),
            client,
        )
        assert not far.ok and far.refused  # out of area: the next carrier's turn
        forged = CarrierAccount(
            acct.id,
            name,
            acct.customer_key,
            {**acct.settings, **{k: "wrong" for k in carrier.settings_secret}},
            acct.gateway_url,
            acct.push_url,
        )
        assert carrier.track(forged, first.waybill_no, client) is None


@pytest.mark.parametrize("name", sorted(CARRIERS))
def test_pushes_verify_and_forgeries_are_refused(fleet: Carriers, name: str) -> None:
    carrier = CARRIERS[name]
    acct = account(fleet, name)
    emu = fleet.emulators[name]
    parcel = emu.ledger.create(acct.customer_key, f"push-{name}", "浙江省", "广东省", "http://x")
    events = emu.ledger.advance(parcel.waybill_no, "delivered")
    delivery = emu.push(parcel, events)
    headers, body = delivery.build()
    got, scans = carrier.read_push(
        headers, body, lambda key: acct if key == acct.customer_key else None
    )
    assert got is acct and scans[-1].status is TrackStatus.DELIVERED and len(scans) == 5
    tampered = (
        body.replace(b"\\u7b7e", b"\\u7b7f") if b"\\u" in body else body[:-3] + b"XY" + body[-1:]
    )
    with pytest.raises(PushRefused):
        carrier.read_push(headers, tampered, lambda key: acct)
    assert json.loads(carrier.reply(True).body) != json.loads(carrier.reply(False).body)
