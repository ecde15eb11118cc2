"""Insights: figures read from the lake by one SQL definition that both engines run."""
