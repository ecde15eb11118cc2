"""The console's routes: importing each page module registers its pages on the one router."""

from __future__ import annotations

from hutong.console import ads, assets, books, figures, live, orders, overview, signin, traffic
from hutong.console.web import router

PAGES = (signin, overview, traffic, orders, books, live, ads, figures, assets)

__all__ = ["PAGES", "router"]
