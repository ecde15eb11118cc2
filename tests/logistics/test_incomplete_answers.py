"""Carriers' answers and pushes that lack a field: each adapter against its own emulator made to
leave one field out of what it sends (and signs, for pushes), every field in turn.

An answer missing a field must be read as "could not read", never as an outcome the carrier's
own books deny: no waybill refused that the carrier made (the order would go to a second
carrier), no cancellation it did not make, no scan at an invented time, no exception into the
request, the worker or the push route.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hutong.logistics.protocol import CarrierAccount, Parcel, PushRefused, Scan, TrackStatus
from hutong.logistics.registry import CARRIERS
from tests.logistics.carriers import Carriers, carriers
from tests.logistics.test_carriers import RECEIVER, account

METHODS = ("quote", "create_waybill", "cancel", "track")


@pytest.fixture(scope="module")
def fleet() -> Iterator[Carriers]:
    with carriers() as c:
        yield c


def parcel() -> Parcel:
    return Parcel("shp_" + secrets.token_hex(10), 1500, "浙江省", "广东省", RECEIVER)


def call(fleet: Carriers, name: str, method: str, omit: str) -> tuple[Any, set[str], Any]:
    """Bring a fresh parcel to where ``method`` applies, then call it with ``omit`` left out of
    what the emulator sends. The result (or the exception raised), the fields the emulator
    sent, and the carrier's truth to hold the result against."""
    carrier, acct, emu = CARRIERS[name], account(fleet, name), fleet.emulators[name]
    omission = emu.omission
    omission.path = ""
    shipped = parcel()
    with httpx.Client(timeout=10) as client:
        waybill = ""
        if method in ("cancel", "track"):
            waybill = carrier.create_waybill(acct, shipped, client).waybill_no
            assert waybill
        if method == "track":
            emu.ledger.advance(waybill, "out_for_delivery")
        omission.path, omission.seen = omit, set()
        try:
            if method in ("quote", "create_waybill"):
                result = getattr(carrier, method)(acct, shipped, client)
            else:
                result = getattr(carrier, method)(acct, waybill, client)
        except Exception as exc:  # the very thing under test: nothing may escape
            result = exc
        finally:
            omission.path = ""
    key = f"{acct.customer_key}:{shipped.reference}"
    made = emu.ledger.by_reference.get(key, "")
    truth = {
        "quote": None,
        "create_waybill": made,
        "cancel": emu.ledger.parcels[waybill].cancelled if waybill else None,
        "track": emu.ledger.parcels[waybill].events if waybill else None,
    }[method]
    return result, set(omission.seen), truth


def scans_agree(scans: list[Scan], events: list[tuple[str, Any, str]], kinds: list[Any]) -> bool:
    """Scans at the carrier's own times (``events``), each of the kind a complete answer gave
    (``kinds``) or honestly UNKNOWN."""
    if len(scans) != len(events):
        return False
    for scan, (_, at, _), kind in zip(scans, events, kinds, strict=True):
        if abs((scan.occurred_at - at).total_seconds()) >= 1:  # carriers keep whole seconds
            return False
        if scan.status not in (kind, TrackStatus.UNKNOWN):
            return False
    return True


def wrong(method: str, result: Any, truth: Any, complete: Any) -> bool:
    if isinstance(result, Exception):
        return True
    if method == "quote":
        return result.ok and (result.fee_fen, result.days) != (complete.fee_fen, complete.days)
    if method == "create_waybill":
        if result.refused:
            return bool(truth)  # "try the next carrier" for a parcel this one took
        return result.ok and result.waybill_no != truth
    if method == "cancel":
        return result is True and not truth  # never a cancellation it did not make
    kinds = [scan.status for scan in complete]
    return result is not None and not scans_agree(result, truth, kinds)


@pytest.mark.parametrize("name", sorted(CARRIERS))
def test_an_answer_missing_a_field_is_an_error_never_a_wrong_outcome(
    fleet: Carriers, name: str
) -> None:
    found = []
    for method in METHODS:
        complete, sent, truth = call(fleet, name, method, "")
        assert not wrong(method, complete, truth, complete), (method, complete)
        assert sent, f"{method}: the emulator sent nothing"
        for path in sorted(sent):
            result, _, truth = call(fleet, name, method, path)
            if wrong(method, result, truth, complete):
                found.append((method, path, result))
    assert not found, "\n".join(map(str, found))


@pytest.mark.parametrize("name", sorted(CARRIERS))
def test_a_signed_push_missing_a_field_is_refused_or_read_right(fleet: Carriers, name: str) -> None:
    carrier, acct, emu = CARRIERS[name], account(fleet, name), fleet.emulators[name]
    pushed = emu.ledger.create(
        acct.customer_key, "push-" + secrets.token_hex(6), "浙江省", "广东省", ""
    )
    events = emu.ledger.advance(pushed.waybill_no, "delivered")

    def lookup(key: str) -> CarrierAccount | None:
        return acct if key == acct.customer_key else None

    emu.omission.seen = set()
    _, complete = carrier.read_push(*emu.push(pushed, events).build(), lookup)
    kinds = [scan.status for scan in complete]
    found, refused = [], 0
    for path in sorted(emu.omission.seen):
        emu.omission.path = path
        try:
            headers, body = emu.push(pushed, events).build()
        finally:
            emu.omission.path = ""
        try:
            _, scans = carrier.read_push(headers, body, lookup)
        except PushRefused:
            refused += 1
            continue
        except Exception as exc:  # nothing else may escape into the push route
            found.append((path, exc))
            continue
        if not scans_agree(scans, events, kinds) or any(
            s.waybill_no != pushed.waybill_no for s in scans
        ):
            found.append((path, scans))
    assert not found, "\n".join(map(str, found))
    assert refused  # some fields are needed, and their absence was noticed
