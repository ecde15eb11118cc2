"""Logistics: carriers behind one protocol, waybills, one tracking timeline, write-back."""
