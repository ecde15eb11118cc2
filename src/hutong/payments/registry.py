"""The payment providers hutong speaks, by name. Adding one is a module and a line here."""

from __future__ import annotations

from hutong.payments.protocol import PaymentProvider
from hutong.payments.providers import alipay, sandbox, unionpay, wechatpay

PROVIDERS: dict[str, PaymentProvider] = {
    sandbox.PROVIDER.name: sandbox.PROVIDER,
    alipay.PROVIDER.name: alipay.PROVIDER,
    wechatpay.PROVIDER.name: wechatpay.PROVIDER,
    unionpay.PROVIDER.name: unionpay.PROVIDER,
}
