"""Building a small traffic market through the HTTP API, as its tenants would."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.conftest import LiveServer

DOUBLE11 = {"starts_at": "2024-10-14T00:00:00+08:00", "ends_at": "2030-01-01T00:00:00+08:00"}
MOBILE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
DESKTOP_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
DOUYIN_WEBVIEW = (
    "Mozilla/5.0 (Linux; Android 13; V2227A) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/99.0 Mobile Safari/537.36 aweme_290100 JsSdk/1.0 NetType/WIFI "
    "Channel/vivo_1128_64 AppName/aweme app_version/29.1.0 BytedanceWebview/d8a21c6"
)
TAOBAO_APP = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Mobile/15E148 AliApp(TB/10.38.10) WindVane/8.7.2 1170x2532"
)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


@dataclass
class Market:
    server: LiveServer
    operator: httpx.Client
    keys: dict[str, str] = field(default_factory=dict)
    tenants: dict[str, str] = field(default_factory=dict)
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def client(self, who: str) -> httpx.Client:
        if who not in self.clients:
            self.clients[who] = self.server.client(self.keys[who])
        return self.clients[who]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.operator.close()

    def platform_tenant(self, platform: str, name: str) -> str:
        tenants = ok(self.operator.get("/v1/tenants"))
        tenant_id = next(t["id"] for t in tenants if t["platform_id"] == platform)
        key = ok(self.operator.post(f"/v1/tenants/{tenant_id}/keys", json={"role": "admin"}), 201)
        self.keys[name] = key["key"]
        self.tenants[name] = tenant_id
        return tenant_id

    def tenant(self, name: str, kind: str, parent: str | None = None) -> str:
        body: dict[str, Any] = {"kind": kind, "name": name}
        if parent is not None:
            body["parent_id"] = self.tenants[parent]
        creator = self.client(parent) if kind == "merchant" and parent else self.operator
        tenant = ok(creator.post("/v1/tenants", json=body), 201)
        key = ok(creator.post(f"/v1/tenants/{tenant['id']}/keys", json={"role": "admin"}), 201)
        self.keys[name] = key["key"]
        self.tenants[name] = tenant["id"]
        return str(tenant["id"])

    def placement(self, seller: str, surface: str, price_fen: int = 100_000) -> str:
        body = {
            "surface": surface,
            "name": f"{seller} {surface}",
            "pricing_model": "cpm",
            "price_fen": price_fen,
        }
        return str(ok(self.client(seller).post("/v1/placements", json=body), 201)["id"])

    def campaign(
        self,
        buyer: str,
        placements: list[str],
        target: str = "taobao",
        billing: str = "cpc",
        **extra: Any,
    ) -> str:
        body = {
            "name": "Tmall Double 11",
            "target_platform_id": target,
            "placement_ids": placements,
            "billing_model": billing,
            "cpc_fen": 50,
            "cps_rate_bp": 500,
            "budget_fen": 10_000_000,
            **DOUBLE11,
            **extra,
        }
        return str(ok(self.client(buyer).post("/v1/campaigns", json=body), 201)["id"])

    def link(self, buyer: str, campaign: str, placement: str, **extra: Any) -> dict[str, Any]:
        body = {
            "campaign_id": campaign,
            "placement_id": placement,
            "target_kind": "activity",
            "web_url": "https://pages.tmall.com/wow/a/act/tmall/dailygroup/double11?spm=a1",
            **extra,
        }
        result: dict[str, Any] = ok(self.client(buyer).post("/v1/links", json=body), 201)
        return result


def build_market(server: LiveServer) -> Market:
    """Douyin and Kuaishou sell, Tmall (taobao) and a merchant buy, a streamer earns."""
    market = Market(server, server.client(server.world.operator_key))
    market.platform_tenant("douyin", "douyin")
    market.platform_tenant("kuaishou", "kuaishou")
    market.platform_tenant("taobao", "tmall")
    market.platform_tenant("jd", "jd")
    market.tenant("shop", "merchant", parent="tmall")
    market.tenant("streamer", "streamer")
    return market
