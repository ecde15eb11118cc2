"""Trust: signals in, scores out, and what the scores drive (alerts, holds, rankings).

Where the counts come from, for a streamer over the policy's window:
- the signals platforms, shelf platforms and merchants report (``POST /v1/trust/signals``),
  orders included (a day's orders may be one row with a count);
- hutong's own trade: orders credited to the streamer (commissions to its tenant), their
  refunds and returns. A reporter does not report those again;
- the session counters: a session that ends reports its orders and refunds per product;
- the penalty ledger (points in force whose offence lies in the window) and open fraud flags.

A recompute appends a row to a streamer's history when anything changed; thresholds
crossed raise alerts (recorded, and sent signed to the policy's endpoint through the outbox)
and put or lift a commission hold on the streamer's tenant. A hold is lifted only by a
score at or above the threshold: going quiet ("not enough data") does not release money
held for a low score.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hutong.commerce.models import AfterSale
from hutong.errors import Forbidden, InvalidInput, NotFound
from hutong.ids import new_id
from hutong.live import service as live_service
from hutong.live.models import IN_FORCE, Penalty, Streamer
from hutong.live.trust import fraud
from hutong.live.trust.models import (
    FlagState,
    LinkedAccount,
    TrustAlert,
    TrustFlag,
    TrustPolicy,
    TrustScore,
    TrustSignal,
)
from hutong.live.trust.rule import RULE_VERSION, Outcome, evaluate
from hutong.live.trust.schemas import LinkedAccountsIn, PolicyIn, SignalsIn
from hutong.payments.models import Refund
from hutong.privacy.hashing import KeyedHasher
from hutong.settlement.models import Commission, PayeeHold
from hutong.store import utcnow
from hutong.tenants.models import TenantKind
from hutong.tenants.principal import Principal
from hutong.traffic.models import Platform, PostbackEndpoint
from hutong.worker.models import OutboxMessage

ALERT_KIND = "trust_alert"
HOLD_PREFIX = "trust:"  # a hold whose reason starts so is the policy's, lifted by the policy
DEFAULT = TrustPolicy(
    platform_id="", alert_below_cp=350, hold_below_cp=300, min_orders=30, window_days=90
)
NO_DATA_WEIGHT = 0.6  # a streamer without a score ranks as if it scored 3.0


# -- reports in ----------------------------------------------------------------------------
def record_signals(session: Session, who: Principal, body: SignalsIn) -> int:
    """Record each signal once per (reporter, ref); how many were new."""
    who.require_admin()
    if who.kind is TenantKind.STREAMER:
        raise Forbidden("a streamer does not report on streamers")
    ids = {s.streamer_id for s in body.signals}
    visible = set(
        session.scalars(
            live_service.visible_streamers(who)
            .with_only_columns(Streamer.id)
            .where(Streamer.id.in_(ids))
        )
    )
    for i, s in enumerate(body.signals):
        if s.streamer_id not in visible:
            raise NotFound(f"signals[{i}]: streamer {s.streamer_id} not found")
    refs = [s.ref for s in body.signals]
    if len(set(refs)) != len(refs):
        raise InvalidInput("a batch names each ref once")
    known = set(
        session.scalars(
            select(TrustSignal.ref).where(
                TrustSignal.reporter_id == who.tenant_id, TrustSignal.ref.in_(refs)
            )
        )
    )
    new = [s for s in body.signals if s.ref not in known]
    for s in new:
        session.add(
            TrustSignal(
                id=new_id("tsg"),
                streamer_id=s.streamer_id,
                kind=s.kind,
                product_ref=s.product_ref,
                count=s.count,
                amount_fen=s.amount_fen,
                occurred_at=s.occurred_at,
                reporter_id=who.tenant_id,
                ref=s.ref,
                detail=s.detail,
            )
        )
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # a concurrent retry recorded them first
        return 0
    return len(new)


def record_session_totals(
    session: Session, reporter_id: str, streamer_id: str, session_id: str, snap: dict[str, Any]
) -> None:
    """An ended session's orders and refunds per product become signals (once: by ref)."""
    ended = utcnow()
    for product_ref, totals in snap["products"].items():
        for kind, count, amount in (
            ("order", totals["orders"], totals["gmv_fen"]),
            ("refund", totals["refunds"], totals["refund_fen"]),
        ):
            ref = f"live:{session_id}:{product_ref}:{kind}"
            if count <= 0 or session.scalar(
                select(TrustSignal.id).where(
                    TrustSignal.reporter_id == reporter_id, TrustSignal.ref == ref
                )
            ):
                continue
            session.add(
                TrustSignal(
                    id=new_id("tsg"),
                    streamer_id=streamer_id,
                    kind=kind,
                    product_ref=product_ref,
                    count=count,
                    amount_fen=amount,
                    occurred_at=ended,
                    reporter_id=reporter_id,
                    ref=ref,
                    detail=f"live session {session_id}",
                )
            )
    session.flush()


def link_accounts(
    session: Session, who: Principal, hasher: KeyedHasher, streamer_id: str, body: LinkedAccountsIn
) -> int:
    who.require_admin()
    streamer = live_service.streamer_for(session, who, streamer_id)
    live_service.writes_for(who, streamer)
    for ref in set(body.accounts):
        buyer_hash = hasher.hash("buyer", ref)
        if session.get(LinkedAccount, (streamer.id, buyer_hash)) is None:
            session.add(
                LinkedAccount(
                    streamer_id=streamer.id, buyer_hash=buyer_hash, reported_by=who.tenant_id
                )
            )
    session.flush()
    return int(
        session.scalar(
            select(func.count())
            .select_from(LinkedAccount)
            .where(LinkedAccount.streamer_id == streamer.id)
        )
        or 0
    )


# -- policy --------------------------------------------------------------------------------
def set_policy(session: Session, who: Principal, body: PolicyIn) -> TrustPolicy:
    who.require_admin()
    if who.is_operator:
        if body.platform_id is None:
            raise InvalidInput("the operator names the platform (platform_id)")
        platform = body.platform_id
    else:
        who.require_kind(TenantKind.CONTENT_PLATFORM)
        if body.platform_id not in (None, who.platform_id) or who.platform_id is None:
            raise Forbidden("a content platform sets the policy of its own platform")
        platform = who.platform_id
    if session.get(Platform, platform) is None:
        raise InvalidInput(f"unknown platform {platform!r}")
    if body.hold_below > body.alert_below:
        raise InvalidInput("hold_below is at most alert_below: an alert comes before a hold")
    if body.endpoint_id is not None:
        endpoint = session.get(PostbackEndpoint, body.endpoint_id)
        if endpoint is None or (not who.is_operator and endpoint.tenant_id != who.tenant_id):
            raise InvalidInput(f"unknown endpoint {body.endpoint_id!r}")
    policy = session.get(TrustPolicy, platform) or TrustPolicy(platform_id=platform)
    policy.alert_below_cp = round(body.alert_below * 100)
    policy.hold_below_cp = round(body.hold_below * 100)
    policy.min_orders = body.min_orders
    policy.window_days = body.window_days
    policy.endpoint_id = body.endpoint_id
    policy.updated_by = who.tenant_id
    policy.updated_at = utcnow()
    session.add(policy)
    session.flush()
    return policy


def policy_for(session: Session, platform_id: str) -> TrustPolicy:
    found = session.get(TrustPolicy, platform_id)
    if found is not None:
        return found
    return TrustPolicy(
        platform_id=platform_id,
        alert_below_cp=DEFAULT.alert_below_cp,
        hold_below_cp=DEFAULT.hold_below_cp,
        min_orders=DEFAULT.min_orders,
        window_days=DEFAULT.window_days,
        endpoint_id=None,
    )


# -- scoring -------------------------------------------------------------------------------
def may_recompute(who: Principal) -> None:
    if not who.is_operator and who.kind is not TenantKind.CONTENT_PLATFORM:
        raise Forbidden("the operator or a content platform recomputes scores")


def recompute(
    session: Session, who: Principal, as_of: dt.datetime | None, only: list[str] | None
) -> list[TrustScore]:
    """Score the streamers the caller may write for (a platform its own; the operator all)."""
    may_recompute(who)
    query = live_service.visible_streamers(who).order_by(Streamer.id)
    if only is not None:
        query = query.where(Streamer.id.in_(only))
    streamers = list(session.scalars(query))
    if only is not None and len(streamers) != len(set(only)):
        missing = sorted(set(only) - {s.id for s in streamers})
        raise NotFound(f"streamer {missing[0]} not found")
    return [score_streamer(session, s, as_of or utcnow()) for s in streamers]


def score_all(session: Session, as_of: dt.datetime) -> list[TrustScore]:
    """Every streamer, as the worker does each ``trust_every_seconds``."""
    return [score_streamer(session, s, as_of) for s in session.scalars(select(Streamer))]


def score_streamer(session: Session, streamer: Streamer, as_of: dt.datetime) -> TrustScore:
    policy = policy_for(session, streamer.platform_id)
    since = as_of - dt.timedelta(days=policy.window_days)
    open_flags = _detect_flags(session, streamer, since)
    counts, orders, gmv = _counts(session, streamer, since, as_of)
    points = session.scalar(
        select(func.coalesce(func.sum(Penalty.points), 0)).where(
            Penalty.streamer_id == streamer.id,
            Penalty.state.in_([s.value for s in IN_FORCE]),
            Penalty.occurred_at > since,
            Penalty.occurred_at <= as_of,
        )
    )
    outcome = evaluate(orders, counts, int(points or 0), open_flags, policy.min_orders)
    previous = latest(session, streamer.id)
    factors = _factors(outcome)
    if previous is not None and (
        previous.status,
        previous.score_cp,
        previous.orders,
        previous.gmv_fen,
        previous.factors,
        previous.rule_version,
    ) == (outcome.status, outcome.score_cp, orders, gmv, factors, RULE_VERSION):
        return previous  # unchanged: the history records changes only
    row = TrustScore(
        streamer_id=streamer.id,
        as_of=as_of,
        rule_version=RULE_VERSION,
        status=outcome.status,
        score_cp=outcome.score_cp,
        orders=orders,
        gmv_fen=gmv,
        factors=factors,
    )
    session.add(row)
    session.flush()
    _act_on(session, streamer, policy, previous, row)
    return row


def _factors(outcome: Outcome) -> list[dict[str, Any]]:
    return [
        {
            "factor": d.factor,
            "count": d.count,
            "rate": d.rate,
            "smoothed_rate": d.smoothed_rate,
            "deduction_cp": d.deduction_cp,
        }
        for d in outcome.deductions
    ]


def _counts(
    session: Session, streamer: Streamer, since: dt.datetime, as_of: dt.datetime
) -> tuple[dict[str, int], int, int]:
    counts: dict[str, int] = defaultdict(int)
    gmv = 0
    for kind, count, amount in session.execute(
        select(TrustSignal.kind, func.sum(TrustSignal.count), func.sum(TrustSignal.amount_fen))
        .where(
            TrustSignal.streamer_id == streamer.id,
            TrustSignal.occurred_at > since,
            TrustSignal.occurred_at <= as_of,
        )
        .group_by(TrustSignal.kind)
    ):
        counts[kind] += int(count or 0)
        if kind == "order":
            gmv += int(amount or 0)
    if streamer.tenant_id is not None:  # hutong's own trade credited to the streamer
        credited = (
            select(Commission.order_id)
            .where(
                Commission.payee_id == streamer.tenant_id,
                Commission.paid_at > since,
                Commission.paid_at <= as_of,
            )
            .distinct()
        )
        own = int(session.scalar(select(func.count()).select_from(credited.subquery())) or 0)
        counts["order"] += own
        counts["refund"] += int(
            session.scalar(
                select(func.count(func.distinct(Refund.order_id))).where(
                    Refund.order_id.in_(credited.scalar_subquery()),
                    Refund.succeeded_at.is_not(None),
                )
            )
            or 0
        )
        counts["return"] += int(
            session.scalar(
                select(func.count(func.distinct(AfterSale.order_id))).where(
                    AfterSale.order_id.in_(credited.scalar_subquery()),
                    AfterSale.kind == "return_refund",
                    AfterSale.state == "refunded",
                )
            )
            or 0
        )
    orders = counts.pop("order", 0)
    return dict(counts), orders, gmv


def _detect_flags(session: Session, streamer: Streamer, since: dt.datetime) -> int:
    """Run the detectors; a finding opens (or refreshes) its flag. How many flags are open."""
    now = utcnow()
    for kind, detect in fraud.DETECTORS.items():
        evidence = detect(session, streamer, since)
        flag = session.scalar(
            select(TrustFlag).where(TrustFlag.streamer_id == streamer.id, TrustFlag.kind == kind)
        )
        if not evidence:
            continue
        if flag is None:
            session.add(
                TrustFlag(
                    id=new_id("tfl"),
                    streamer_id=streamer.id,
                    kind=kind,
                    evidence=evidence,
                    first_seen_at=now,
                    updated_at=now,
                )
            )
        elif flag.evidence != evidence:
            flag.evidence, flag.updated_at = evidence, now
    session.flush()
    return int(
        session.scalar(
            select(func.count())
            .select_from(TrustFlag)
            .where(TrustFlag.streamer_id == streamer.id, TrustFlag.state == FlagState.OPEN.value)
        )
        or 0
    )


def latest(session: Session, streamer_id: str) -> TrustScore | None:
    return session.scalar(
        select(TrustScore)
        .where(TrustScore.streamer_id == streamer_id)
        .order_by(TrustScore.id.desc())
        .limit(1)
    )


def history_of(session: Session, streamer_id: str, limit: int) -> list[TrustScore]:
    """A streamer's scores, newest first."""
    return list(
        session.scalars(
            select(TrustScore)
            .where(TrustScore.streamer_id == streamer_id)
            .order_by(TrustScore.id.desc())
            .limit(limit)
        )
    )


# -- what a score drives -------------------------------------------------------------------
def _act_on(
    session: Session,
    streamer: Streamer,
    policy: TrustPolicy,
    previous: TrustScore | None,
    row: TrustScore,
) -> None:
    was = previous.score_cp if previous is not None else None
    now = row.score_cp
    if (
        now is not None
        and now < policy.alert_below_cp
        and (was is None or was >= policy.alert_below_cp)
    ):
        _alert(session, streamer, policy, "below", now, policy.alert_below_cp)
    if (
        now is not None
        and now >= policy.alert_below_cp
        and was is not None
        and was < policy.alert_below_cp
    ):
        _alert(session, streamer, policy, "recovered", now, policy.alert_below_cp)
    if streamer.tenant_id is None:
        return
    hold = session.get(PayeeHold, streamer.tenant_id)
    ours = hold is not None and hold.reason.startswith(HOLD_PREFIX)
    if now is not None and now < policy.hold_below_cp:
        reason = (
            f"{HOLD_PREFIX} @{streamer.handle} scored {now / 100:.2f} "
            f"< {policy.hold_below_cp / 100:.2f} ({RULE_VERSION})"
        )
        if hold is None:
            session.add(PayeeHold(tenant_id=streamer.tenant_id, reason=reason))
            _alert(session, streamer, policy, "held", now, policy.hold_below_cp)
        elif ours:
            hold.reason = reason
    elif now is not None and ours:
        session.delete(hold)
        _alert(session, streamer, policy, "released", now, policy.hold_below_cp)
    session.flush()


MESSAGES = {
    "below": "trust score of @{handle} fell to {score} (alert below {threshold})",
    "recovered": "trust score of @{handle} recovered to {score} (alert below {threshold})",
    "held": "commissions of @{handle} held: score {score} below {threshold}",
    "released": "commissions of @{handle} released: score {score} back at {threshold} or more",
}


def _alert(
    session: Session,
    streamer: Streamer,
    policy: TrustPolicy,
    kind: str,
    score_cp: int,
    threshold_cp: int,
) -> None:
    alert = TrustAlert(
        id=new_id("tal"),
        streamer_id=streamer.id,
        platform_id=streamer.platform_id,
        kind=kind,
        score_cp=score_cp,
        threshold_cp=threshold_cp,
        message=MESSAGES[kind].format(
            handle=streamer.handle,
            score=f"{score_cp / 100:.2f}",
            threshold=f"{threshold_cp / 100:.2f}",
        ),
        at=utcnow(),
    )
    session.add(alert)
    endpoint = session.get(PostbackEndpoint, policy.endpoint_id) if policy.endpoint_id else None
    if endpoint is None or not endpoint.active:
        return
    body = {
        "type": ALERT_KIND,
        "alert_id": alert.id,
        "kind": kind,
        "streamer_id": streamer.id,
        "handle": streamer.handle,
        "platform_id": streamer.platform_id,
        "score": score_cp / 100,
        "threshold": threshold_cp / 100,
        "rule_version": RULE_VERSION,
        "message": alert.message,
        "at": alert.at.isoformat(),
    }
    session.add(
        OutboxMessage(
            id=new_id("obx"),
            kind=ALERT_KIND,
            owner_id=endpoint.tenant_id,
            endpoint_id=endpoint.id,
            url=endpoint.url,
            body=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
            idempotency_key=f"{alert.id}:{endpoint.id}",
            next_attempt_at=utcnow(),
        )
    )


# -- reading -------------------------------------------------------------------------------
def flags_of(session: Session, who: Principal, streamer_id: str) -> list[TrustFlag]:
    streamer = live_service.streamer_for(session, who, streamer_id)
    return list(
        session.scalars(
            select(TrustFlag).where(TrustFlag.streamer_id == streamer.id).order_by(TrustFlag.kind)
        )
    )


def dismiss_flag(session: Session, who: Principal, flag_id: str, note: str) -> TrustFlag:
    """Risk staff (the operator's, or the platform's) found the pattern innocent."""
    who.require_admin()
    flag = session.get(TrustFlag, flag_id)
    if flag is None:
        raise NotFound(f"flag {flag_id} not found")
    streamer = live_service.streamer_for(session, who, flag.streamer_id)
    live_service.writes_for(who, streamer)
    flag.state, flag.note, flag.updated_at = FlagState.DISMISSED.value, note, utcnow()
    session.flush()
    return flag


def signal_summary(
    session: Session, who: Principal, streamer_id: str, since: dt.datetime, until: dt.datetime
) -> list[dict[str, Any]]:
    streamer = live_service.streamer_for(session, who, streamer_id)
    rows = session.execute(
        select(
            TrustSignal.product_ref,
            TrustSignal.kind,
            func.sum(TrustSignal.count),
            func.sum(TrustSignal.amount_fen),
        )
        .where(
            TrustSignal.streamer_id == streamer.id,
            TrustSignal.occurred_at > since,
            TrustSignal.occurred_at <= until,
        )
        .group_by(TrustSignal.product_ref, TrustSignal.kind)
        .order_by(TrustSignal.product_ref, TrustSignal.kind)
    )
    return [
        {"product_ref": p, "kind": k, "count": int(c or 0), "amount_fen": int(a or 0)}
        for p, k, c, a in rows
    ]


def alerts(session: Session, who: Principal, limit: int) -> list[TrustAlert]:
    visible = live_service.visible_streamers(who).with_only_columns(Streamer.id)
    return list(
        session.scalars(
            select(TrustAlert)
            .where(TrustAlert.streamer_id.in_(visible.scalar_subquery()))
            .order_by(TrustAlert.at.desc(), TrustAlert.id.desc())
            .limit(limit)
        )
    )


def ranking(
    session: Session, who: Principal, platform_id: str | None, by: str, limit: int
) -> list[dict[str, Any]]:
    """Streamers by GMV in their latest score's window, weighted by trust (score / 5; a
    streamer without a score weighs ``NO_DATA_WEIGHT``)."""
    query = live_service.visible_streamers(who)
    if platform_id is not None:
        query = query.where(Streamer.platform_id == platform_id)
    out = []
    for streamer in session.scalars(query):
        row = latest(session, streamer.id)
        score = row.score_cp if row is not None else None
        weight = score / 500 if score is not None else NO_DATA_WEIGHT
        gmv = row.gmv_fen if row is not None else 0
        out.append(
            {
                "streamer_id": streamer.id,
                "handle": streamer.handle,
                "platform_id": streamer.platform_id,
                "gmv_fen": gmv,
                "status": row.status if row is not None else "not_scored",
                "score": score / 100 if score is not None else None,
                "trust_weight": weight,
                "weighted_gmv_fen": gmv * score // 500 if score is not None else int(gmv * 3 // 5),
            }
        )
    keys = {
        "weighted": lambda r: (-r["weighted_gmv_fen"], r["handle"]),
        "gmv": lambda r: (-r["gmv_fen"], r["handle"]),
        "trust": lambda r: (-(r["score"] if r["score"] is not None else -1), r["handle"]),
    }
    return sorted(out, key=keys[by])[:limit]
