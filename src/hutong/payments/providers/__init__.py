"""Payment provider adapters, one module each, behind ``payments.protocol.PaymentProvider``."""
