"""The ``hutong`` command: serve, worker, database, seeding and operator tasks.

The CLI acts as the local operator: it talks to the store through the same service layer the
HTTP API calls, so what it does is what the API would do.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from hutong.config import load_settings
from hutong.errors import HutongError
from hutong.store import Store
from hutong.tenants.principal import Principal

app = typer.Typer(
    help="hutong (互通): the cross-platform commerce interconnection hub.", no_args_is_help=True
)
db_app = typer.Typer(help="The system of record.", no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants and their API keys.", no_args_is_help=True)
policy_app = typer.Typer(
    help="Link policies: who may link to whom, and when.", no_args_is_help=True
)
links_app = typer.Typer(help="Tracked links.", no_args_is_help=True)
lake_app = typer.Typer(help="The data lake.", no_args_is_help=True)
privacy_app = typer.Typer(help="Personal data: retention and deletion.", no_args_is_help=True)
payments_app = typer.Typer(help="Payments: status sync.", no_args_is_help=True)
orders_app = typer.Typer(help="Orders: timeouts.", no_args_is_help=True)
alliances_app = typer.Typer(
    help="Affiliate alliances polled for orders (Taobao Alliance, JD Union).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(tenants_app, name="tenants")
app.add_typer(policy_app, name="policy")
app.add_typer(links_app, name="links")
app.add_typer(lake_app, name="lake")
app.add_typer(privacy_app, name="privacy")
app.add_typer(payments_app, name="payments")
app.add_typer(orders_app, name="orders")
app.add_typer(alliances_app, name="alliances")
console = Console()
err = Console(stderr=True)


def _store() -> Store:
    return Store.from_url(load_settings().database_url)


def _operator(session: Session) -> Principal:
    from hutong.tenants.models import Role, Tenant, TenantKind

    tenant = session.scalar(
        select(Tenant).where(Tenant.kind == TenantKind.OPERATOR.value).order_by(Tenant.created_at)
    )
    if tenant is None:
        raise HutongError("no operator tenant yet: run 'hutong seed' first")
    return Principal(tenant.id, TenantKind.OPERATOR, Role.ADMIN)


def main() -> None:
    try:
        app()
    except HutongError as exc:
        err.print(f"[red]error[/red] ({exc.code}): {exc.detail}")
        sys.exit(2)


# -- serving -------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    worker: Annotated[bool, typer.Option(help="run a background worker in process")] = True,
) -> None:
    """Serve the HTTP API (and the /j/ fast path) with an in-process worker by default."""
    from hutong.server import run_server

    run_server(host, port, with_worker=worker and load_settings().embedded_worker)


@app.command("worker")
def worker_cmd() -> None:
    """Run the background jobs (outbox, compaction, passcode renewal, retention)."""
    from hutong.api.requestid import configure_logging
    from hutong.worker.runner import Worker

    settings = load_settings()
    configure_logging(settings.log_level)
    Worker(settings, Store.from_url(settings.database_url)).run()


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the Alembic migrations to HUTONG_DATABASE_URL."""
    from hutong.migrate import upgrade

    url = load_settings().database_url
    upgrade(url, revision)
    console.print(f"database at [bold]{_redact(url)}[/bold] is at {revision}")


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@app.command()
def seed() -> None:
    """Seed the article's platforms, link-policy history and interop matrix; create the
    operator (once)."""
    from hutong.commerce.interop import seed_interop
    from hutong.tenants.models import Role, Tenant, TenantKind
    from hutong.tenants.service import create_tenant, issue_key
    from hutong.traffic.service import seed_platforms, seed_policies

    with _store().transaction() as session:
        platforms = seed_platforms(session)
        operator = session.scalar(select(Tenant).where(Tenant.kind == TenantKind.OPERATOR.value))
        key = None
        if operator is None:
            operator = create_tenant(session, TenantKind.OPERATOR, "hutong operator")
            _, key = issue_key(session, operator.id, Role.ADMIN, "seed")
        policies = seed_policies(session, operator.id)
        interop = seed_interop(session)
    console.print(
        f"seeded {platforms} platforms, {policies} link policies and {interop} interop rules"
    )
    if key:
        console.print(f"operator tenant {operator.id}; its admin key (shown once):")
        console.print(key, highlight=False, soft_wrap=True)


# -- tenants -------------------------------------------------------------------------------
@tenants_app.command("create")
def tenants_create(
    kind: str,
    name: str,
    parent: Annotated[str | None, typer.Option(help="shelf platform tenant of a merchant")] = None,
    platform: Annotated[str | None, typer.Option(help="platform id of a platform tenant")] = None,
    role: Annotated[str, typer.Option(help="role of the first key")] = "admin",
) -> None:
    """Create a tenant and its first API key (printed once)."""
    from hutong.tenants.models import Role, TenantKind
    from hutong.tenants.service import create_tenant, issue_key

    with _store().transaction() as session:
        tenant = create_tenant(
            session, TenantKind(kind), name, parent_id=parent, platform_id=platform
        )
        _, key = issue_key(session, tenant.id, Role(role), "cli")
    console.print_json(json.dumps({"tenant_id": tenant.id, "kind": kind, "key": key}))


@tenants_app.command("key")
def tenants_key(
    tenant: Annotated[str | None, typer.Argument(help="tenant id")] = None,
    platform: Annotated[str | None, typer.Option(help="or: the tenant of this platform")] = None,
    role: str = "admin",
) -> None:
    """Issue another API key for a tenant (printed once)."""
    from hutong.errors import NotFound
    from hutong.tenants.models import Role, Tenant
    from hutong.tenants.service import issue_key

    with _store().transaction() as session:
        if tenant is None and platform is not None:
            tenant = session.scalar(select(Tenant.id).where(Tenant.platform_id == platform))
        if tenant is None:
            raise NotFound("give a tenant id or --platform naming a platform with a tenant")
        api_key, secret = issue_key(session, tenant, Role(role), "cli")
    console.print_json(json.dumps({"tenant_id": tenant, "key_id": api_key.id, "key": secret}))


@tenants_app.command("list")
def tenants_list() -> None:
    from hutong.tenants.models import Tenant

    table = Table("id", "kind", "name", "platform", "parent")
    with _store().reading() as session:
        for t in session.scalars(select(Tenant).order_by(Tenant.kind, Tenant.name)):
            table.add_row(t.id, t.kind, t.name, t.platform_id or "", t.parent_id or "")
    console.print(table)


# -- policies ------------------------------------------------------------------------------
@policy_app.command("list")
def policy_list(source: str | None = None) -> None:
    """The link-policy history, each rule with the sentence it rests on."""
    from hutong.traffic.models import LinkPolicy

    table = Table("v", "source", "target", "surface", "modes", "from", "to", "assumed", "reason")
    with _store().reading() as session:
        query = select(LinkPolicy).order_by(LinkPolicy.version)
        if source:
            query = query.where(LinkPolicy.source_platform_id == source)
        for p in session.scalars(query):
            table.add_row(
                str(p.version),
                p.source_platform_id,
                p.target_platform_id or "any",
                p.surface,
                ",".join(p.modes),
                p.valid_from.date().isoformat(),
                p.valid_to.date().isoformat() if p.valid_to else "",
                "yes" if p.date_assumed else "",
                p.reason,
                style="dim" if p.retired_at else None,
            )
    console.print(table)


@policy_app.command("check")
def policy_check(
    source: str,
    target: str,
    surface: str,
    at: Annotated[str | None, typer.Option(help="ISO time with offset; default now")] = None,
) -> None:
    """May SOURCE link to TARGET from SURFACE at a time, and why."""
    from hutong.traffic.cache import load_rules
    from hutong.traffic.policy import decide

    when = dt.datetime.fromisoformat(at) if at else dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        raise typer.BadParameter("--at needs a timezone offset, e.g. 2024-11-11T00:00+08:00")
    with _store().reading() as session:
        decision = decide(load_rules(session), source, target, surface, when)
    console.print_json(
        json.dumps(
            {
                "allowed": decision.allowed,
                "modes": list(decision.modes),
                "policy_version": decision.version,
                "why": decision.why,
                "source_sentence": decision.rule.source_sentence if decision.rule else "",
            },
            ensure_ascii=False,
        )
    )


# -- links ---------------------------------------------------------------------------------
@links_app.command("list")
def links_list(campaign: str | None = None) -> None:
    from hutong.traffic.models import Link

    table = Table("id", "code", "source", "target", "surface", "active", "web_url")
    with _store().reading() as session:
        query = select(Link).order_by(Link.created_at)
        if campaign:
            query = query.where(Link.campaign_id == campaign)
        for lk in session.scalars(query.limit(1000)):
            table.add_row(
                lk.id,
                lk.code,
                lk.source_platform_id,
                lk.target_platform_id,
                lk.surface,
                "yes" if lk.active else "CUT",
                lk.web_url,
            )
    console.print(table)


@links_app.command("cut")
def links_cut(link_id: str, restore: bool = False) -> None:
    """Cut a link (every worker stops redirecting within a second), or --restore it."""
    from hutong.traffic.service import set_link_active

    with _store().transaction() as session:
        link = set_link_active(session, _operator(session), link_id, restore)
    console.print(f"link {link.id} ({link.code}) is now {'active' if link.active else 'cut'}")


@links_app.command("qr")
def links_qr(code: str, out: Path, scale: int = 8) -> None:
    """Write the QR code of a link's short URL to OUT (.png or .svg)."""
    import segno

    from hutong.traffic.jump import SOURCE_PARAM

    url = f"{load_settings().public_url}/j/{code}?{SOURCE_PARAM}=qr"
    segno.make(url, error="m").save(str(out), scale=scale, border=2)
    console.print(f"wrote {out} for {url}")


# -- lake and privacy ----------------------------------------------------------------------
@lake_app.command("compact")
def lake_compact() -> None:
    """Move every sealed click/impression log segment into day-partitioned Parquet."""
    from hutong.worker.runner import compact_all

    console.print_json(json.dumps(compact_all(load_settings())))


@lake_app.command("export")
def lake_export(
    full: Annotated[bool, typer.Option(help="export every row again, not only changes")] = False,
) -> None:
    """Export orders, payments and refunds changed since the last export into the lake."""
    from hutong.lake.export import export

    console.print_json(json.dumps(export(_store(), load_settings().lake_dir, full=full)))


@privacy_app.command("forget")
def privacy_forget(
    device_id: Annotated[str | None, typer.Option(help="a device id (IDFA/OAID...)")] = None,
    buyer_ref: Annotated[str | None, typer.Option(help="a buyer reference or phone")] = None,
) -> None:
    """Delete one person's personal data now (lake rows by device; buyer hashes)."""
    from hutong.privacy.service import forget

    if not device_id and not buyer_ref:
        raise typer.BadParameter("give --device-id or --buyer-ref")
    settings = load_settings()
    kind, value = ("device", device_id) if device_id else ("buyer", buyer_ref)
    assert value is not None
    console.print_json(json.dumps(forget(settings, _store(), kind, value)))


@privacy_app.command("purge")
def privacy_purge() -> None:
    """Apply the retention period now (the worker also runs this hourly)."""
    from hutong.privacy.service import purge_expired

    settings = load_settings()
    console.print(f"changed {purge_expired(settings, _store())} files/rows")


# -- payments, orders and the sandboxes ---------------------------------------------------------
@payments_app.command("sync")
def payments_sync() -> None:
    """Ask providers about every payment and refund whose notification is overdue (the worker
    does this every few seconds)."""
    from hutong.runtime import build_payments

    settings = load_settings()
    payments = build_payments(settings, _store())
    try:
        from hutong.payments.service import sync_due

        console.print(f"synced {sync_due(payments)} payments and refunds")
    finally:
        payments.client.close()


@orders_app.command("expire")
def orders_expire() -> None:
    """Cancel unpaid orders past their deadline and presales whose final payment never came."""
    from hutong.commerce.orders import expire_unpaid

    with _store().transaction() as session:
        console.print(f"cancelled {expire_unpaid(session)} orders")


@app.command("demo")
def demo_cmd(
    shoppers: Annotated[
        int | None, typer.Option(help="how many shoppers (default: the scenario's)")
    ] = None,
    port: Annotated[int, typer.Option(help="port to serve on")] = 8000,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="a fresh directory (emptied first)")
    ] = Path("var/demo"),
    scenario: Annotated[
        Path | None, typer.Option(help="a copy of sim/double11.toml to play instead")
    ] = None,
    serve: Annotated[bool, typer.Option(help="keep serving when the scenario is played")] = True,
) -> None:
    """Play Double 11 2024 through the real HTTP API (emulated providers and carriers), then
    keep serving and print where and with which key to sign in."""
    from hutong.sim.demo import DemoError, run_demo

    try:
        run_demo(
            data_dir.resolve(),
            port=port,
            shoppers=shoppers,
            scenario_path=scenario,
            serve=serve,
            console=console,
        )
    except DemoError as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        raise typer.Exit(1) from exc


@app.command("simulate")
def simulate_cmd(
    clicks: Annotated[int, typer.Option(min=1, help="clicks over the twelve days")] = 1_000_000,
    orders: Annotated[int, typer.Option(min=1, help="paid orders")] = 100_000,
    out: Annotated[
        Path, typer.Option(help="a data directory: lake/, bare/ and campaigns.parquet go there")
    ] = Path("var/simulated"),
    seed: Annotated[int, typer.Option(help="the generator's seed")] = 11,
    shuffled: Annotated[bool, typer.Option(help="rows out of time order in each file")] = False,
) -> None:
    """Write a synthetic Double 11 history (1-12 November 2024) straight to a lake, for
    benchmarks and reports: point HUTONG_DATA_DIR at ``--out`` to report on it."""
    from hutong.sim.synthetic import generate

    lake = out / "lake"
    if lake.exists() and any(lake.iterdir()):
        raise typer.BadParameter(f"{lake} is not empty: choose another --out")
    with console.status(f"writing {clicks:,} clicks and {orders:,} orders ..."):
        made = generate(out, clicks, orders, seed=seed, shuffled=shuffled)
    console.print(f"wrote {made.clicks:,} clicks and {made.orders:,} orders to {made.lake}")


def _run_ad_emulator(name: str, base: str, where: Path, host: str, port: int) -> None:
    """An ad system's emulator; account.json holds the gateway to PUT at
    /v1/ad-platforms/{name}/gateway."""
    import uvicorn

    from hutong.traffic.adplatforms.emulator import launch

    emu = launch(name, base)
    where.mkdir(parents=True, exist_ok=True)
    account = {"platform": name, "gateway_url": emu.gateway_url}
    (where / "account.json").write_text(json.dumps(account, indent=1))
    console.print(f"{name} emulator on {base}; account: {where / 'account.json'}")
    try:
        uvicorn.run(emu.app, host=host, port=port, log_level="warning")
    finally:
        emu.close()


@app.command("sandbox")
def sandbox_cmd(
    provider: Annotated[
        str,
        typer.Argument(
            help="a payment provider (sandbox, alipay, wechatpay, unionpay), a carrier (sf, zto, "
            "jd, cainiao), 'platforms' (the shelf platforms' shipping calls), 'alliances' "
            "(Taobao Alliance's and JD Union's order queries) or a content platform's ad system "
            "(oceanengine, kuaishou, bilibili, xiaohongshu)"
        ),
    ],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 9001,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="where its keys live (default: data dir)")
    ] = None,
    time_scale: Annotated[
        float, typer.Option(help="retry schedule speed (0.01: a hundred times faster)")
    ] = 1.0,
) -> None:
    """Run a provider's or carrier's emulator: its side of the real protocol, offline. Writes
    account.json, the body to POST to /v1/provider-accounts (or /v1/carrier-accounts) to
    connect a seller to it."""
    import uvicorn

    from hutong.logistics.emulators.launch import LAUNCHERS as CARRIER_LAUNCHERS
    from hutong.payments.emulators.launch import LAUNCHERS
    from hutong.traffic.adplatforms.registry import PLATFORMS as AD_PLATFORMS

    settings = load_settings()
    where = directory or settings.data_dir / "sandbox" / provider
    base = f"http://{host}:{port}"
    if provider in AD_PLATFORMS:
        _run_ad_emulator(provider, base, where, host, port)
        return
    if provider in LAUNCHERS:
        launched = LAUNCHERS[provider](where, time_scale)
    elif provider in CARRIER_LAUNCHERS:
        launched = CARRIER_LAUNCHERS[provider](where, time_scale, settings.public_url)
    else:
        names = ", ".join([*LAUNCHERS, *CARRIER_LAUNCHERS, *AD_PLATFORMS])
        raise typer.BadParameter(f"unknown emulator {provider!r}; one of {names}")
    account: dict[str, Any]
    if provider in ("platforms", "alliances"):  # one account each, with its own gateway path
        account = {
            name: {
                **{k: v for k, v in entry.items() if k != "gateway_path"},
                "gateway_url": base + entry["gateway_path"],
            }
            for name, entry in launched.account.items()
        }
    else:
        account = {**launched.account, "gateway_url": base + launched.gateway_path}
    (where / "account.json").write_text(json.dumps(account, indent=1, ensure_ascii=False))
    console.print(f"{provider} emulator on http://{host}:{port}; account: {where / 'account.json'}")
    try:
        uvicorn.run(launched.app, host=host, port=port, log_level="warning")
    finally:
        launched.close()


# -- attribution ---------------------------------------------------------------------------
def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


@contextmanager
def _steps(title: str) -> Iterator[Callable[[str], None]]:
    """A progress display for long work: each step named as it starts, time elapsed."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err
    ) as bar:
        task = bar.add_task(title, total=None)

        def step(name: str) -> None:
            bar.update(task, description=f"{title}: {name}")

        yield step
        bar.update(task, description=f"{title}: done", total=1, completed=1)


@app.command("attribute")
def attribute_cmd(
    start: Annotated[str, typer.Option("--from", help="first day of orders placed (YYYY-MM-DD)")],
    end: Annotated[str, typer.Option("--to", help="the day after the last (YYYY-MM-DD)")],
    model: Annotated[
        list[str] | None,
        typer.Option(
            help="last_click, first_click, linear, time_decay, position_based, markov "
            "(repeat for a comparison; default: last_click)"
        ),
    ] = None,
    engine: Annotated[str, typer.Option(help="duckdb (embedded) or spark")] = "duckdb",
    by: Annotated[str, typer.Option(help="compare per this dimension")] = "placement_id",
    half_life_days: Annotated[float, typer.Option(help="time decay's half-life")] = 7.0,
    first_share: Annotated[float, typer.Option(help="position based: the first's share")] = 0.4,
    last_share: Annotated[float, typer.Option(help="position based: the last's share")] = 0.4,
    markov_order: Annotated[int, typer.Option(help="Markov chain order, 1 to 3")] = 1,
    channel: Annotated[str, typer.Option(help="Markov's channel dimension")] = "placement_id",
) -> None:
    """Attribute the orders placed in [--from, --to) under one or more models, side by side."""
    from hutong.attribution import reports
    from hutong.attribution.credit import Params
    from hutong.attribution.runs import Request, attribute
    from hutong.money import yuan

    try:
        request = Request(
            _day(start),
            _day(end),
            tuple(dict.fromkeys(model or ["last_click"])),
            engine,
            Params(half_life_days, first_share, last_share, markov_order, channel=channel),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    settings = load_settings()
    with _steps("attribution") as step:
        run = attribute(settings, _store(), request, step)
    table = Table(title=f"run {run.id}: {run.attributed_orders} of {run.orders} orders attributed")
    table.add_column(by)
    table.add_column("orders", justify="right")
    for name in run.models:
        table.add_column(f"{name} (¥)", justify="right")
    rows = reports.compare(reports.credits_of(settings.lake_dir, run), run.models, by)
    for row in rows:
        table.add_row(
            row["key"] or "-",
            str(row["orders"]),
            *(yuan(row["credits_fen"][m]) for m in run.models),
        )
    console.print(table)
    console.print(f"identity tiers: {run.by_tier}; GMV ¥{yuan(run.gmv_fen)}")


@app.command("report")
def report_cmd(
    start: Annotated[str, typer.Option("--from", help="first day (YYYY-MM-DD, Asia/Shanghai)")],
    end: Annotated[str, typer.Option("--to", help="the day after the last")],
    engine: Annotated[str, typer.Option(help="duckdb (embedded) or spark")] = "duckdb",
    out: Annotated[Path | None, typer.Option(help="also write the rows here as CSV")] = None,
) -> None:
    """The overview from the lake: per day and shelf platform, valid clicks, orders, paid
    orders, GMV, refunds, conversion and growth on the day before."""
    import csv

    from hutong.attribution.runs import campaign_terms, engine_for
    from hutong.insights.overview import overview, with_rates
    from hutong.lake.export import export
    from hutong.money import yuan

    first, last = _day(start), _day(end)
    if last <= first:
        raise typer.BadParameter("--to must be after --from")
    settings, store = load_settings(), _store()
    with _steps("report") as step:
        step("exporting the store's changes to the lake")
        export(store, settings.lake_dir)
        campaigns = campaign_terms(store)
        step(f"reading the lake on {engine}")
        try:
            with engine_for(engine) as eng:
                rows = with_rates(overview(eng, settings.lake_dir, campaigns, first, last))
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    table = Table(title=f"overview {first} to {last - dt.timedelta(days=1)}")
    for name in ("day", "platform", "clicks", "orders", "paid", "GMV ¥", "refunded ¥"):
        table.add_column(name, justify="left" if name in ("day", "platform") else "right")
    table.add_column("conversion", justify="right")
    table.add_column("growth", justify="right")
    for r in rows:
        table.add_row(
            str(r["day"]),
            str(r["platform_id"] or "-"),
            str(r["clicks"]),
            str(r["orders"]),
            str(r["paid_orders"]),
            yuan(int(r["gmv_fen"])),  # type: ignore[call-overload]
            yuan(int(r["refunded_fen"])),  # type: ignore[call-overload]
            "-" if r["conversion"] is None else f"{r['conversion']:.2%}",
            "-" if r["growth"] is None else f"{r['growth']:+.1%}",
        )
    console.print(table)
    if out is not None:
        with out.open("w", newline="", encoding="utf-8-sig") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["day"])
            writer.writeheader()
            writer.writerows(rows)


# -- settlement ----------------------------------------------------------------------------
@app.command("settle")
def settle_cmd(
    period: Annotated[
        str | None, typer.Option(help="a month (YYYY-MM): print its statements")
    ] = None,
    close: Annotated[bool, typer.Option(help="close the period after the pass")] = False,
    tenant: Annotated[str | None, typer.Option(help="only this party's statement")] = None,
    out: Annotated[
        Path | None, typer.Option(help="write each statement here as CSV and XLSX")
    ] = None,
    engine: Annotated[str, typer.Option(help="duckdb (embedded) or spark")] = "duckdb",
) -> None:
    """Book charges and commissions up to now; with --period, the parties' statements."""
    from sqlalchemy import distinct

    from hutong.money import yuan
    from hutong.settlement import ledger, statements
    from hutong.settlement.models import JournalLine
    from hutong.settlement.service import settle

    settings, store = load_settings(), _store()
    with _steps("settlement") as step:
        result = settle(settings, store, engine=engine, progress=step)
    console.print_json(json.dumps(result))
    if period is None:
        return
    ledger.parse_period(period)
    with store.transaction() as session:
        if close:
            ledger.close(session, period)
        parties = (
            [tenant]
            if tenant
            else sorted(
                session.scalars(
                    select(distinct(JournalLine.tenant_id)).where(JournalLine.period_id == period)
                )
            )
        )
        for party in parties:
            found = statements.statement(session, party, period)
            table = Table(title=f"{party}: statement {period} ({found.state})")
            table.add_column("account")
            table.add_column("¥", justify="right")
            for account, fen in found.totals.items():
                table.add_row(account, yuan(fen))
            table.add_row("net (+ owes, - is owed)", yuan(found.net_fen))
            console.print(table)
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                stem = out / f"statement-{period}-{party}"
                stem.with_suffix(".csv").write_bytes(statements.to_csv(found))
                stem.with_suffix(".xlsx").write_bytes(statements.to_xlsx(found))


@alliances_app.command("poll")
def alliances_poll(
    account: Annotated[str | None, typer.Option(help="only this account (default: all)")] = None,
) -> None:
    """Import every connected account's order lines up to now (the worker does this every few
    minutes); lines already imported are updated, never doubled."""
    import dataclasses

    import httpx
    from sqlalchemy import select as sa_select

    from hutong.sealing import Sealer
    from hutong.settlement.alliances.poller import poll_account
    from hutong.settlement.models import AllianceAccount

    settings, store = load_settings(), _store()
    with store.reading() as session:
        ids = [account] if account else list(session.scalars(sa_select(AllianceAccount.id)))
    with httpx.Client(timeout=10.0) as client:
        for account_id in ids:
            try:
                result = poll_account(store, Sealer(settings.pii_key), account_id, client)
            except ValueError as exc:
                raise typer.BadParameter(str(exc)) from exc
            console.print_json(json.dumps(dataclasses.asdict(result), default=str))


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig()
    main()
