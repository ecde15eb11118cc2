"""Sellers' accounts with payment providers. Secret settings (private keys, API keys) are
sealed (``hutong.sealing``), never returned by the API, and unsealed only to build an
adapter's ``Account``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hutong.errors import Conflict, InvalidInput
from hutong.ids import new_id
from hutong.payments.errors import NoProviderAccount
from hutong.payments.models import ProviderAccount
from hutong.payments.protocol import Account, PaymentProvider
from hutong.sealing import Sealer
from hutong.tenants.principal import Principal


def register(
    session: Session,
    who: Principal,
    provider: PaymentProvider,
    settings: dict[str, str],
    gateway_url: str,
    sealer: Sealer,
) -> ProviderAccount:
    """Connect a seller to a provider; ``settings`` must hold what the adapter needs."""
    who.require_admin()
    missing = [name for name in provider.settings_required if not settings.get(name)]
    if missing:
        raise InvalidInput(f"{provider.name} needs settings: {', '.join(missing)}")
    unknown = set(settings) - set(provider.settings_required)
    if unknown:
        raise InvalidInput(f"{provider.name} does not use settings: {', '.join(sorted(unknown))}")
    merchant_key = settings[provider.merchant_key_setting]
    if session.scalar(
        select(ProviderAccount.id).where(
            ProviderAccount.provider == provider.name,
            ProviderAccount.merchant_key == merchant_key,
        )
    ):
        raise Conflict(f"{provider.name} account {merchant_key} is already connected")
    secret = {k: v for k, v in settings.items() if k in provider.settings_secret}
    public = {k: v for k, v in settings.items() if k not in provider.settings_secret}
    account = ProviderAccount(
        id=new_id("pac"),
        seller_id=who.tenant_id,
        provider=provider.name,
        merchant_key=merchant_key,
        settings=public,
        sealed=sealer.seal(secret),
        gateway_url=gateway_url.rstrip("/"),
        active=True,
    )
    session.add(account)
    session.flush()
    return account


def for_seller(session: Session, seller_id: str, provider: str) -> ProviderAccount:
    account = session.scalar(
        select(ProviderAccount)
        .where(
            ProviderAccount.seller_id == seller_id,
            ProviderAccount.provider == provider,
            ProviderAccount.active.is_(True),
        )
        .order_by(ProviderAccount.created_at.desc())
        .limit(1)
    )
    if account is None:
        raise NoProviderAccount(f"the seller has no active {provider} account")
    return account


def as_adapter_account(row: ProviderAccount, sealer: Sealer, notify_url: str) -> Account:
    return Account(
        id=row.id,
        provider=row.provider,
        merchant_key=row.merchant_key,
        settings={**row.settings, **sealer.unseal(row.sealed)},
        gateway_url=row.gateway_url,
        notify_url=notify_url,
    )
