"""Tenants (who calls), their API keys and roles, and who may see what."""
