"""Streamer trust: after-sale signals, fraud flags, the explained 0-5 score, its history, and
the alerts, commission holds and rankings it drives."""
