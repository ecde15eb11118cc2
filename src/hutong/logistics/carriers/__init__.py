"""Carrier adapters, one module each, behind ``logistics.protocol.Carrier``."""
