"""The dated interoperability matrix: which payment providers and carriers a shelf platform
accepts, from when. Checkout and carrier choice ask it at the order's time, so a Taobao order
placed on 2024-09-26 cannot be paid with WeChat Pay and one placed on 2024-10-15 cannot ship
with JD Logistics (seed/interop.json, with the article's sentences)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hutong.commerce.errors import NotAccepted
from hutong.commerce.models import InteropRule, PlatformTerms
from hutong.ids import new_id

SEED = Path(__file__).resolve().parents[1] / "seed" / "interop.json"
ALWAYS = frozenset({("payment", "sandbox")})  # hutong's own sandbox provider: everywhere


def rule_in_force(rules: list[InteropRule], at: dt.datetime) -> InteropRule | None:
    """The rule deciding at ``at``: among those whose window holds it, the latest to start."""
    live = [r for r in rules if r.valid_from <= at and (r.valid_to is None or at < r.valid_to)]
    return max(live, key=lambda r: r.valid_from, default=None)


def accepts(session: Session, platform_id: str, kind: str, partner: str, at: dt.datetime) -> bool:
    if (kind, partner) in ALWAYS:
        return True
    rules = list(
        session.scalars(
            select(InteropRule).where(
                InteropRule.platform_id == platform_id,
                InteropRule.kind == kind,
                InteropRule.partner == partner,
            )
        )
    )
    rule = rule_in_force(rules, at)
    return rule is not None and rule.allowed


def require(session: Session, platform_id: str, kind: str, partner: str, at: dt.datetime) -> None:
    """NotAccepted unless ``platform_id`` accepts ``partner`` at ``at``."""
    if not accepts(session, platform_id, kind, partner, at):
        what = "payment provider" if kind == "payment" else "carrier"
        raise NotAccepted(
            f"{platform_id} does not accept {what} {partner!r} for an order placed at "
            f"{at.isoformat()} (see GET /v1/interop?platform_id={platform_id})"
        )


def accepted(session: Session, platform_id: str, kind: str, at: dt.datetime) -> list[str]:
    partners = session.scalars(
        select(InteropRule.partner)
        .where(InteropRule.platform_id == platform_id, InteropRule.kind == kind)
        .distinct()
    )
    found = {p for p in partners if accepts(session, platform_id, kind, p, at)}
    found |= {p for k, p in ALWAYS if k == kind}
    return sorted(found)


def seed_interop(session: Session) -> int:
    """Load the seeded terms and matrix once (rules already present are left alone)."""
    raw = json.loads(SEED.read_text(encoding="utf-8"))
    for item in raw["terms"]:
        if session.get(PlatformTerms, item["platform_id"]) is None:
            session.add(PlatformTerms(**item))
    if session.scalar(select(InteropRule.id).limit(1)) is not None:
        return 0
    for item in raw["rules"]:
        session.add(
            InteropRule(
                id=new_id("ior"),
                platform_id=item["platform_id"],
                kind=item["kind"],
                partner=item["partner"],
                allowed=item["allowed"],
                valid_from=dt.datetime.fromisoformat(item["valid_from"]),
                valid_to=dt.datetime.fromisoformat(item["valid_to"])
                if "valid_to" in item
                else None,
                source_sentence=item.get("source_sentence", ""),
                date_assumed=item.get("date_assumed", False),
                note=item.get("note", ""),
            )
        )
    session.flush()
    return len(raw["rules"])


def _when(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def terms_of(session: Session, platform_id: str) -> PlatformTerms:
    terms = session.get(PlatformTerms, platform_id)
    if terms is not None:
        return terms
    return PlatformTerms(
        platform_id=platform_id,
        payment_timeout_minutes=30,
        deposit_rule="forfeit",
        source="hutong's default terms (none set for this platform)",
    )
