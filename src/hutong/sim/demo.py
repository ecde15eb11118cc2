"""``hutong demo``: Double 11 2024 played through hutong's real HTTP API, then left serving.

A fresh data directory; the store migrated and seeded with the article's world; ``hutong
serve`` (with its worker) and the providers' and carriers' emulators started as their own
processes, as in production; then, all through the API: the shelf platforms connect their
payment providers (Taobao takes WeChat Pay beside Alipay), carriers (JD Logistics ships Taobao
orders) and write-back; content platforms publish placements; Tmall buys Douyin's splash
screen, JD Bilibili's cards (京火计划), Taobao Bilibili's cards into a live room; shoppers see
the ads, tap (bots too), order with the click token, pay through the emulated providers (whose
signed notifications come back), get their parcels from the emulated carriers, confirm
receipt, and some ask for refunds; the live scene (``sim/live.py``) follows; then attribution
and settlement run. The scenario is data: ``sim/double11.toml`` (``--scenario`` takes a copy).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hutong.sim import live
from hutong.sim.scenario import load_scenario

HUTONG = [sys.executable, "-m", "hutong.cli"]
MOBILE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
BOT = "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"
PROVINCES = ("浙江省", "广东省", "北京市", "上海市", "四川省", "陕西省")


class DemoError(RuntimeError):
    pass


@dataclass
class Outcome:
    """What the demo did, for its summary and its test."""

    url: str
    data_dir: Path
    operator_key: str
    shoppers: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    gmv_fen: int = 0
    attribution_run: str = ""
    settlement: dict[str, Any] = field(default_factory=dict)
    live: live.LiveScene | None = None
    requests: dict[str, int] = field(default_factory=dict)  # "POST /v1/orders 2xx" -> count

    def write(self, path: Path) -> None:
        """The summary as JSON beside the data (the console test reads it)."""
        body = {
            "url": self.url,
            "shoppers": self.shoppers,
            "counts": dict(self.counts),
            "gmv_fen": self.gmv_fen,
            "attribution_run": self.attribution_run,
            "settlement": self.settlement,
            "live_session": self.live.session_id if self.live else None,
            "requests": self.requests,
        }
        path.write_text(json.dumps(body, ensure_ascii=False, indent=1))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ok(response: httpx.Response) -> Any:
    if response.is_error:
        method, url = response.request.method, response.request.url
        raise DemoError(f"{method} {url} answered {response.status_code}: {response.text[:300]}")
    return response.json() if response.content else None


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DemoError(f"{url}: the process exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise DemoError(f"{url} did not answer in {timeout} s")


def _until(check: Any, timeout: float = 30, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return False


class Demo:
    def __init__(
        self,
        data_dir: Path,
        scenario: dict[str, Any],
        port: int,
        console: Console,
        shoppers: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.scenario = scenario
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.console = console
        self.shoppers = shoppers or int(scenario["demo"]["shoppers"])
        self.seed = int(scenario["demo"]["seed"])
        self.env = {
            **os.environ,
            "HUTONG_DATA_DIR": str(data_dir),
            "HUTONG_DATABASE_URL": f"sqlite:///{data_dir / 'hutong.sqlite3'}",
            "HUTONG_PUBLIC_URL": self.url,
            "HUTONG_LOG_LEVEL": "WARNING",
            "HUTONG_CLICK_SEGMENT_SECONDS": "3",  # clicks reach the lake within seconds
            "HUTONG_SETTLE_EVERY_SECONDS": "86400",  # the demo settles itself, once
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.emulators: dict[str, str] = {}  # name -> base URL
        self.clients: dict[str, httpx.Client] = {}
        self.placements: dict[str, str] = {}
        self.links: dict[str, dict[str, Any]] = {}  # campaign key -> link
        self.passcodes: dict[str, str] = {}
        self.skus: dict[str, list[dict[str, Any]]] = {}  # seller -> skus

    # -- processes -------------------------------------------------------------------------
    def _cli(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603 (our own interpreter and commands)
            [*HUTONG, *args], env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise DemoError(f"hutong {' '.join(args)} failed: {done.stderr[-500:]}")
        return done.stdout

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(  # noqa: S603 (our own interpreter and commands)
            [*HUTONG, *args], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.procs.append(proc)
        return proc

    def start(self) -> str:
        """Migrate, seed, start the emulators and the server; the operator's key."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._cli("db", "upgrade")
        seeded = self._cli("seed")
        key = next((w for w in seeded.split() if w.startswith("htk_")), None)
        if key is None:
            raise DemoError(f"seeding printed no operator key: {seeded[-300:]}")
        for seller, name in self._emulated():
            port = _free_port()
            where = self._sandbox(seller, name)
            proc = self._spawn(
                "sandbox", name, "--port", str(port), "--dir", str(where), "--time-scale", "0.01"
            )
            self.emulators[f"{seller}:{name}"] = f"http://127.0.0.1:{port}"
            _until(lambda where=where: (where / "account.json").exists(), timeout=60)
            self._wait_emulator(f"{seller}:{name}", proc)
        server = self._spawn("serve", "--port", str(self.port))
        _wait_http(self.url + "/healthz", server)
        self.clients["operator"] = self._client(key)
        return key

    def _emulated(self) -> list[tuple[str, str]]:
        """(seller, emulator): each seller has its own merchant account at each provider and
        carrier it uses, as in life; one emulator plays the shelf platforms' write-back."""
        pairs = [("all", "platforms")]
        for seller, providers in self.scenario["payments"].items():
            pairs += [(seller, p) for p in providers]
        for seller, rule in self.scenario["carriers"].items():
            pairs += [(seller, c) for c in rule["carriers"]]
        return pairs

    def _sandbox(self, seller: str, name: str) -> Path:
        return self.data_dir / "sandbox" / seller / name

    def _account(self, seller: str, name: str) -> Any:
        return json.loads((self._sandbox(seller, name) / "account.json").read_text())

    def _wait_emulator(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DemoError(f"the {name} emulator exited with {proc.returncode}")
            try:
                httpx.get(self.emulators[name] + "/", timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise DemoError(f"the {name} emulator did not start")

    def stop(self) -> None:
        for client in self.clients.values():
            client.close()
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    def _client(self, key: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )

    # -- the world -------------------------------------------------------------------------
    def platform(self, platform_id: str) -> httpx.Client:
        if platform_id not in self.clients:
            operator = self.clients["operator"]
            tenants = _ok(operator.get("/v1/tenants"))
            tenant = next(t for t in tenants if t["platform_id"] == platform_id)
            key = _ok(operator.post(f"/v1/tenants/{tenant['id']}/keys", json={"role": "admin"}))
            self.clients[platform_id] = self._client(key["key"])
        return self.clients[platform_id]

    def connect(self) -> None:
        """The shelf platforms connect providers, carriers, write-back and their rules."""
        platforms = self._account("all", "platforms")
        for seller, providers in self.scenario["payments"].items():
            for provider in providers:
                account = self._account(seller, provider)
                _ok(self.platform(seller).post("/v1/provider-accounts", json=account))
        for seller, rule in self.scenario["carriers"].items():
            client = self.platform(seller)
            for carrier in rule["carriers"]:
                _ok(client.post("/v1/carrier-accounts", json=self._account(seller, carrier)))
            _ok(client.post("/v1/platform-accounts", json=platforms[seller]))
            _ok(client.put("/v1/carrier-rule", json=rule))

    def publish(self) -> None:
        """Placements, campaigns, links, passcodes and the products for sale."""
        for p in self.scenario["placements"]:
            body = {k: p[k] for k in ("surface", "name", "pricing_model", "price_fen")}
            self.placements[p["key"]] = _ok(
                self.platform(p["platform"]).post("/v1/placements", json=body)
            )["id"]
        for c in self.scenario["campaigns"]:
            buyer = self.platform(c["buyer"])
            body = {
                "name": c["name"],
                "target_platform_id": c["buyer"],
                "placement_ids": [self.placements[k] for k in c["placements"]],
                "billing_model": c["billing_model"],
                "cpc_fen": c.get("cpc_fen", 0),
                "cps_rate_bp": c.get("cps_rate_bp", 0),
                "budget_fen": c["budget_fen"],
                "starts_at": "2024-10-14T20:00:00+08:00",
                "ends_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
            }
            campaign = _ok(buyer.post("/v1/campaigns", json=body))
            link = _ok(
                buyer.post(
                    "/v1/links",
                    json={
                        "campaign_id": campaign["id"],
                        "placement_id": self.placements[c["placements"][0]],
                        "target_kind": c["target_kind"],
                        "web_url": c["web_url"],
                    },
                )
            )
            self.links[c["key"]] = link | {"buyer": c["buyer"], "weight": c["weight"]}
            passcode = _ok(buyer.post(f"/v1/links/{link['id']}/passcodes", json={"ttl_days": 7}))
            self.passcodes[c["key"]] = passcode["passcode"]
        self._wait_for_links()
        for product in self.scenario["products"]:
            made = _ok(
                self.platform(product["seller"]).post(
                    "/v1/products", json={"title": product["title"], "skus": product["skus"]}
                )
            )
            self.skus.setdefault(product["seller"], []).extend(made["skus"])

    def _wait_for_links(self) -> None:
        """The server answers /j/ from its cache of links, which follows the store's change
        feed (every 500 ms): shoppers start once every link is there."""
        wanted = len(self.links)
        if not _until(lambda: _ok(httpx.get(self.url + "/healthz"))["links"] >= wanted, 30):
            raise DemoError("the server's link cache did not pick up the campaigns' links")

    # -- shoppers --------------------------------------------------------------------------
    def shop(self, n: int) -> Counter[str]:
        """One shopper: an impression, a tap, maybe an order, paid, shipped, received."""
        seen: Counter[str] = Counter()
        keys = list(self.links)
        rnd = random.Random(self.seed * 1_000_003 + n)  # each shopper the same on every run
        key = rnd.choices(keys, weights=[self.links[k]["weight"] for k in keys])[0]
        link = self.links[key]
        device = f"OAID-{n:06d}"
        bot = rnd.random() < float(self.scenario["demo"]["bot_share"])
        campaign = next(c for c in self.scenario["campaigns"] if c["key"] == key)
        source = next(
            p for p in self.scenario["placements"] if p["key"] == campaign["placements"][0]
        )
        _ok(
            self.platform(source["platform"]).post(
                "/v1/impressions",
                json={
                    "batch_key": f"demo-{n}",
                    "impressions": [
                        {
                            "placement_id": self.placements[source["key"]],
                            "campaign_id": link["campaign_id"],
                            "ts": dt.datetime.now(dt.UTC).isoformat(),
                            "device_id": device,
                            "user_agent": BOT if bot else MOBILE,
                        }
                    ],
                },
            )
        )
        seen["impressions"] += 1
        token, via = self._tap(link["code"], key, device, bot, n)
        seen["taps"] += 1
        seen[via] += 1
        if bot or token is None or rnd.random() > float(self.scenario["demo"]["buy_share"]):
            return seen
        seller = link["buyer"]
        client = self.platform(seller)
        sku = rnd.choice(self.skus[seller])
        order = _ok(
            client.post(
                "/v1/orders",
                headers={"Idempotency-Key": f"demo-order-{n}"},
                json={
                    "lines": [{"sku_id": sku["id"], "quantity": rnd.choice((1, 1, 2))}],
                    "buyer_ref": f"1380000{n:04d}",
                    "ship_to": {
                        "name": "买家",
                        "phone": f"1380000{n:04d}",
                        "province": rnd.choice(PROVINCES),
                        "city": "市辖区",
                        "address": f"双十一路 {n} 号",
                    },
                    "click_token": token,
                    "external_ref": f"{seller.upper()}-1111-{n:06d}",
                },
            )
        )
        seen["orders"] += 1
        provider = rnd.choice(self.scenario["payments"][seller])
        payment = _ok(
            client.post(f"/v1/orders/{order['id']}/payments", json={"provider": provider})
        )
        httpx.post(payment["pay_url"], timeout=30)  # the buyer pays at the provider
        if not _until(lambda: self._state(client, order["id"]) == "paid", timeout=60):
            raise DemoError(f"order {order['id']} was not paid through {provider}")
        seen[f"paid_{provider}"] += 1
        seen["gmv_fen"] += int(order["total_fen"])
        shipment = _ok(client.post(f"/v1/orders/{order['id']}/shipments", json={}))
        seen[f"shipped_{shipment['carrier']}"] += 1
        carrier_url = self.emulators[f"{seller}:{shipment['carrier']}"]
        httpx.post(
            f"{carrier_url}/_emulator/advance/{shipment['waybill_no']}",
            params={"to": "delivered"},
            timeout=30,
        )
        if _until(lambda: self._state(client, order["id"]) == "delivered", timeout=60):
            _ok(client.post(f"/v1/orders/{order['id']}/confirm-receipt", json={}))
            seen["received"] += 1
        if rnd.random() < float(self.scenario["demo"].get("complaint_share", 0)):
            _ok(
                client.post(
                    f"/v1/orders/{order['id']}/after-sales",
                    json={
                        "kind": "refund_only",
                        "amount_fen": max(1, int(order["total_fen"]) // 10),
                        "reason": rnd.choice(("商品与描述不符", "少发了赠品", "外包装破损")),
                    },
                )
            )
            seen["complaints"] += 1  # left for the seller to resolve in the console
        elif rnd.random() < float(self.scenario["demo"]["refund_share"]):
            part = max(1, int(order["total_fen"]) // 5)
            _ok(client.post(f"/v1/orders/{order['id']}/refunds", json={"amount_fen": part}))
            seen["refunds"] += 1
        return seen

    def _tap(self, code: str, key: str, device: str, bot: bool, n: int) -> tuple[str | None, str]:
        """Tap the ad: a redirect carries the click token; where the link is cut, the shopper
        pastes the passcode instead."""
        with httpx.Client(base_url=self.url, follow_redirects=False, timeout=30) as client:
            answer = client.get(
                f"/j/{code}",
                params={"oaid": device},
                headers={
                    "User-Agent": BOT if bot else MOBILE,
                    "X-Forwarded-For": f"10.11.{n // 250}.{n % 250}",
                },
            )
            if answer.status_code in (301, 302, 303, 307):
                token = httpx.URL(answer.headers["location"]).params.get("ht_ct")
                return (str(token) if token else None), "redirected"
            text = f"复制这段 {self.passcodes[key]} 打开淘宝"
            resolved = client.post("/p/resolve", json={"text": text})
            if resolved.status_code != 200:
                return None, f"refused_{answer.status_code}"
            return str(resolved.json()["click_token"]), "passcode"

    @staticmethod
    def _state(client: httpx.Client, order_id: str) -> str:
        return str(_ok(client.get(f"/v1/orders/{order_id}"))["state"])

    # -- afterwards ------------------------------------------------------------------------
    def attribute_and_settle(self, outcome: Outcome) -> None:
        operator = self.clients["operator"]
        time.sleep(4)  # the click segment rotates (3 s) and the worker compacts it
        today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
        run = _ok(
            operator.post(
                "/v1/attribution/runs",
                json={
                    "start": (today - dt.timedelta(days=1)).isoformat(),
                    "end": (today + dt.timedelta(days=1)).isoformat(),
                    "models": ["last_click", "first_click", "linear", "position_based", "markov"],
                },
            )
        )
        outcome.attribution_run = run["id"]
        outcome.settlement = _ok(operator.post("/v1/settlement/runs", json={}))
        outcome.requests = _served(httpx.get(self.url + "/metrics", timeout=30).text)


def run_demo(
    data_dir: Path,
    *,
    port: int,
    shoppers: int | None,
    scenario_path: Path | None,
    serve: bool,
    console: Console,
) -> Outcome:
    if data_dir.exists():
        shutil.rmtree(data_dir)
    scenario = load_scenario(scenario_path)
    demo = Demo(data_dir, scenario, port, console, shoppers)
    with ExitStack() as stack:
        stack.callback(demo.stop)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            setup = progress.add_task("starting hutong and the emulators", total=3)
            key = demo.start()
            progress.advance(setup)
            demo.connect()
            progress.advance(setup)
            demo.publish()
            progress.advance(setup)
            outcome = Outcome(demo.url, data_dir, key, shoppers=demo.shoppers)
            shopping = progress.add_task("shoppers on Double 11", total=demo.shoppers)
            with ThreadPoolExecutor(max_workers=8) as pool:
                for seen in pool.map(demo.shop, range(demo.shoppers)):
                    outcome.gmv_fen += seen.pop("gmv_fen", 0)
                    outcome.counts.update(seen)
                    progress.advance(shopping)
            scene = progress.add_task("the live scene and trust", total=1)
            outcome.live = live.play(
                demo.clients["operator"],
                scenario["live"],
                scale=float(scenario["demo"]["live_scale"]),
            )
            progress.advance(scene)
            closing = progress.add_task("attribution and settlement", total=1)
            demo.attribute_and_settle(outcome)
            progress.advance(closing)
        _summary(console, outcome)
        outcome.write(data_dir / "demo-summary.json")
        console.print(f"operator key (sign in with it): [bold]{key}[/bold]", soft_wrap=True)
        if serve:
            console.print(
                f"\nhutong is serving: the console at [bold]{demo.url}/console[/bold], "
                f"the API's docs at {demo.url}/docs"
            )
            console.print("Ctrl-C stops it.")
            server = demo.procs[-1]
            with suppress(KeyboardInterrupt):
                server.wait()
    return outcome


def _served(metrics: str) -> dict[str, int]:
    """The server's own request counts, from its /metrics."""
    served = {}
    for line in metrics.splitlines():
        match = re.match(
            r'hutong_http_requests_total\{method="(\w+)",route="([^"]*)",'
            r'status="(\w+)"\} (\d+)',
            line,
        )
        if match:
            method, route, status, count = match.groups()
            served[f"{method} {route} {status}"] = int(count)
    return served


def _summary(console: Console, o: Outcome) -> None:
    c = o.counts
    console.print(
        f"\n{o.shoppers} shoppers: {c['impressions']} impressions, {c['taps']} taps, "
        f"{c['orders']} orders, GMV ¥{o.gmv_fen / 100:,.2f}"
    )
    paid = ", ".join(f"{k[5:]} {v}" for k, v in sorted(c.items()) if k.startswith("paid_"))
    shipped = ", ".join(f"{k[8:]} {v}" for k, v in sorted(c.items()) if k.startswith("shipped_"))
    console.print(
        f"paid: {paid or 'none'}; shipped: {shipped or 'none'}; refunds {c['refunds']}; "
        f"complaints waiting {c['complaints']}"
    )
    console.print(f"attribution run {o.attribution_run}; settlement: {o.settlement}")
    api_calls = sum(n for k, n in o.requests.items() if " /v1/" in k or " /notify/" in k)
    console.print(f"the server answered {api_calls:,} API requests and notifications")
    if o.live is not None:
        r = o.live.report
        console.print(
            f"live: 与辉同行 session {o.live.session_id}: {r.get('views', 0):,} views, "
            f"{r.get('orders', 0):,} orders, peak {r.get('peak_viewers', 0):,} viewers; trust "
            + ", ".join(f"@{h} {s['score']}" for h, s in o.live.after.items())
            + f"; {len(o.live.holds)} commission holds"
        )
