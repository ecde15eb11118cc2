"""The ledger as a property: whatever is posted, every entry and the whole ledger sum to zero,
a fact is posted once, and a closed period never changes again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hutong.migrate import upgrade
from hutong.settlement import ledger
from hutong.settlement.ledger import ACCOUNTS, Line
from hutong.settlement.models import JournalLine
from hutong.store import Store
from hutong.tenants.models import Tenant

TENANTS = ("t_buyer", "t_platform", "t_streamer")
FAR_FUTURE = dt.date(2100, 1, 1)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    path: Path = tmp_path_factory.mktemp("ledger") / "ledger.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url)
    built = Store.from_url(url)
    with built.transaction() as session:
        session.add_all(Tenant(id=t, kind="merchant", name=t) for t in TENANTS)
    return built


amounts = st.lists(st.integers(-(10**9), 10**9), min_size=1, max_size=5)
post_op = st.tuples(
    st.just("post"),
    st.integers(0, 80),  # day offset from 2024-10-01
    amounts,
    st.lists(st.sampled_from(TENANTS), min_size=6, max_size=6),
    st.lists(st.sampled_from(sorted(ACCOUNTS)), min_size=6, max_size=6),
    st.integers(0, 20),  # ref: a small space, so some facts repeat
)
close_op = st.tuples(st.just("close"), st.sampled_from(["2024-10", "2024-11", "2024-12"]))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.one_of(post_op, close_op), min_size=1, max_size=25), st.integers(0, 10**6))
def test_every_entry_and_the_ledger_balance_and_closed_periods_stay_closed(
    store: Store, ops: list[tuple[object, ...]], run: int
) -> None:
    frozen: dict[str, int] = {}  # closed period -> its line count when closed
    for op in ops:
        with store.transaction() as session:
            if op[0] == "close":
                pid = str(op[1])
                ledger.close(session, pid, today=FAR_FUTURE)
                frozen[pid] = (
                    session.scalar(select(func.count()).where(JournalLine.period_id == pid)) or 0
                )
                continue
            _, offset, values, tenants, accounts, ref = op
            assert isinstance(values, list) and isinstance(tenants, list)
            assert isinstance(accounts, list) and isinstance(offset, int)
            lines = [Line(tenants[i], accounts[i], v) for i, v in enumerate(values)] + [
                Line(tenants[-1], accounts[-1], -sum(values))
            ]
            day = dt.date(2024, 10, 1) + dt.timedelta(days=offset)
            first = ledger.post(session, "test", f"{run}:{ref}", day, lines)
            again = ledger.post(session, "test", f"{run}:{ref}", day, lines)
            assert again is None  # the same fact, posted once
            if first is not None:
                assert ledger.period(session, first.period_id).state == "open"
                assert first.period_id >= ledger.period_id(day)  # never an earlier period
        with store.reading() as session:
            assert ledger.total(session) == 0
            for pid, count in frozen.items():
                now = session.scalar(select(func.count()).where(JournalLine.period_id == pid))
                assert now == count, f"closed period {pid} changed"
    with store.reading() as session:
        per_entry = session.execute(
            select(JournalLine.entry_id, func.sum(JournalLine.amount_fen)).group_by(
                JournalLine.entry_id
            )
        ).all()
        assert all(total == 0 for _, total in per_entry)


def test_unbalanced_entries_and_early_closes_are_refused(store: Store) -> None:
    with store.transaction() as session:
        with pytest.raises(ValueError, match="unbalanced"):
            ledger.post(
                session, "x", "bad", dt.date(2024, 11, 1), [Line("t_buyer", "cps_accrued", 5)]
            )
        with pytest.raises(ValueError, match="unknown account"):
            ledger.post(
                session,
                "x",
                "bad2",
                dt.date(2024, 11, 1),
                [Line("t_buyer", "cash", 5), Line("t_platform", "cash", -5)],
            )
        with pytest.raises(ledger.PeriodNotOver):
            ledger.close(session, "2024-11", today=dt.date(2024, 11, 30))
        with pytest.raises(Exception, match="not a period"):
            ledger.parse_period("2024-13")
