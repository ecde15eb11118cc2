"""Payments: one provider protocol, an adapter per provider, notifications, refunds, sync."""
