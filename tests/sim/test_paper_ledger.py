"""The paper account in SQLite: it persists, it stays consistent, and several writers lose nothing.

The single-process tests run the engine on the synthetic market (the ledger
does not care where prices come from); the several-process ones (kill -9 in a
burst, two writers) run ``demo`` proper: the live source on a served
simulator standing in for the live exchange. Consistency means: for every wallet, the starting balance plus the sum
of its account-log changes is its balance; for every contract, the sum of its
position legs is the position; every fill has its two log legs.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import pytest
from served import Served

import kfresearch
from kfresearch.errors import PaperAccountBusyError
from kfresearch.sim.accounts import Account
from kfresearch.sim.engine import Engine
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.market import SyntheticMarket
from kfresearch.sim.sqlite_ledger import SqliteLedger

BALANCE = 50_000.0


def _exchange(path: Path, *, wait_s: float = 10.0) -> SimExchange:
    market = SyntheticMarket(42)
    ledger = SqliteLedger(path, balance=BALANCE, wait_s=wait_s)
    return SimExchange(market=market, engine=Engine(market, seed=42, ledger=ledger))


def assert_consistent(acc: Account, starting: dict[tuple[str, str], float]) -> None:
    """Balances, positions and fills agree with the account log (see the module docstring)."""
    changes: dict[tuple[str, str], float] = defaultdict(float)
    sizes: dict[str, float] = defaultdict(float)
    for entry in acc.log:
        if entry.contract is not None and entry.asset == entry.contract.lower():
            sizes[entry.contract] += entry.new_balance - entry.old_balance
        else:
            changes[entry.margin_account, entry.asset.upper()] += (
                entry.new_balance - entry.old_balance
            )
    for (wallet, currency), change in changes.items():
        start = starting.get((wallet, currency), 0.0)
        assert acc.balance(wallet, currency) == pytest.approx(start + change, abs=1e-6)
    for symbol, size in sizes.items():
        assert acc.position_size(symbol) == pytest.approx(size, abs=1e-9)
    assert set(acc.positions) == {s for s, size in sizes.items() if abs(size) > 1e-12}
    trade_legs = [e for e in acc.log if e.info == "futures trade"]
    assert len(trade_legs) == 2 * len(acc.fills)
    assert {e.execution for e in trade_legs} == {f.fill_id for f in acc.fills}
    for fill in acc.fills:
        assert fill.order_id in acc.orders


def _only_account(path: Path) -> Account:
    ledger = SqliteLedger(path)
    try:
        (acc,) = ledger.accounts.values()
        return acc
    finally:
        ledger.close()


def test_the_account_survives_a_restart_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "study.sqlite"
    ex = _exchange(path)
    kf = kfresearch.connect("demo", exchange=ex)
    for side in ("buy", "buy", "sell"):
        kf.place_order("PF_XBTUSD", side, 0.01, order_type="mkt")
    resting = kf.place_order(
        "PF_XBTUSD", "buy", 0.01, order_type="lmt", limit_price=50_000, client_order_id="rest-1"
    )
    account_id = next(iter(ex.engine.accounts))
    assert ex.engine.set_max_leverage(account_id, "PF_ETHUSD", 5, ex.clock.now_ms()) is None
    ex.advance("2h")  # two hours of funding on the position
    before = ex.engine.accounts[account_id]

    again = _only_account(path)
    assert again.wallets == before.wallets
    assert again.positions == before.positions
    assert again.orders == before.orders
    assert list(again.open_orders) == [resting.order_id]
    assert again.cli_ids == before.cli_ids
    assert again.fills == before.fills
    assert again.log == before.log
    assert again.history == before.history
    assert again.leverage == {"PF_ETHUSD": 5.0}
    assert [e.info for e in again.log].count("funding rate change") == 2
    assert_consistent(again, {("flex", "USD"): BALANCE})


def test_a_restarted_session_trades_on_with_new_ids(tmp_path: Path) -> None:
    path = tmp_path / "study.sqlite"
    first = kfresearch.connect("demo", exchange=_exchange(path))
    one = first.place_order("PF_XBTUSD", "buy", 0.01, order_type="mkt", client_order_id="a-1")
    second = kfresearch.connect("demo", exchange=_exchange(path))
    two = second.place_order("PF_XBTUSD", "buy", 0.01, order_type="mkt")
    assert one.order_id != two.order_id
    with pytest.raises(kfresearch.OrderRejected):  # the client id was claimed last session
        second.place_order("PF_XBTUSD", "buy", 0.01, order_type="mkt", client_order_id="a-1")
    acc = _only_account(path)
    assert len(acc.orders) == 2
    assert acc.position_size("PF_XBTUSD") == pytest.approx(0.02)
    assert [o.seq for o in sorted(acc.orders.values(), key=lambda o: o.seq)] == [1, 2]


def test_a_unit_that_raises_keeps_nothing(tmp_path: Path) -> None:
    path = tmp_path / "study.sqlite"
    ledger = SqliteLedger(path, balance=BALANCE)
    with ledger.unit_of_work():
        ledger.account("acc", now_ms=0)

    def half_a_unit() -> None:
        with ledger.unit_of_work():
            ledger.credit(ledger.account("acc", now_ms=0), "flex", "USD", -1_000.0)
            raise RuntimeError("half way")

    with pytest.raises(RuntimeError):
        half_a_unit()
    assert ledger.accounts["acc"].balance("flex", "USD") == BALANCE
    assert _only_account(path).balance("flex", "USD") == BALANCE


def test_a_second_writer_waits_then_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "study.sqlite"
    ledger = SqliteLedger(path, balance=BALANCE, wait_s=0.2)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a unit
    started = time.monotonic()
    with pytest.raises(PaperAccountBusyError, match=r"busy.*try again"), ledger.unit_of_work():
        pass
    assert time.monotonic() - started >= 0.2
    other.execute("ROLLBACK")
    with ledger.unit_of_work():  # free again
        ledger.account("acc", now_ms=0)
    assert "acc" in _only_account(path).account_id


def test_another_process_s_commit_is_read_before_the_next_unit(tmp_path: Path) -> None:
    path = tmp_path / "study.sqlite"
    one, two = SqliteLedger(path, balance=BALANCE), SqliteLedger(path)
    with one.unit_of_work():
        one.credit(one.account("acc", 0), "flex", "USD", -10.0)
    with two.unit_of_work():
        two.credit(two.account("acc", 0), "flex", "USD", -5.0)
    with one.unit_of_work():
        assert one.accounts["acc"].balance("flex", "USD") == BALANCE - 15.0


def test_reset_starts_the_account_again_with_the_chosen_balance(tmp_path: Path) -> None:
    path = tmp_path / "study.sqlite"
    ex = _exchange(path)
    kf = kfresearch.connect("demo", exchange=ex)
    kf.place_order("PF_XBTUSD", "buy", 0.01, order_type="mkt")
    ledger = ex.engine.ledger
    assert isinstance(ledger, SqliteLedger)
    ledger.reset(balance=7_500.0)
    assert kf.positions().empty
    assert kf.account_log().empty
    assert _only_account(path).balance("flex", "USD") == 7_500.0
    assert SqliteLedger(path).balance == 7_500.0


# --------------------------------------------------------------- several processes
# demo proper: each process is `connect("demo")` on the paper account NAME under
# KFRESEARCH_DATA_DIR, its prices from a served simulator standing in for the live exchange
# (KFRESEARCH_DEMO_UPSTREAM; its WebSocket feeds, REST for snapshots). Only the exchange's
# rate-limit buckets refill 1000x faster: the burst is about the ledger, not the limits.

_BURST = textwrap.dedent(
    """
    import sys
    import time
    import kfresearch
    from kfresearch.ratelimit import RateLimiter
    from kfresearch.sim.demo import DemoExchange, live_source
    from kfresearch.sim.paper import PaperAccount

    name, count, tag, start = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    source = live_source()
    account = PaperAccount.open(name, balance={balance})
    exchange = DemoExchange(source, account, rate_clock=lambda: time.monotonic() * 1e3)
    kf = kfresearch.connect("demo", exchange=exchange, limiter=RateLimiter.unlimited())
    limit = round(float(kf.tickers().loc["PF_XBTUSD", "mark_price"]) * 0.9)
    assert source.transport == "websocket", source.transport_note
    for i in range(start, start + count):  # numbered on from a killed run: the same mix
        kind = i % 4
        if kind == 3:
            kf.place_order("PF_XBTUSD", "buy", 0.001, order_type="lmt", limit_price=limit,
                           client_order_id=f"{{tag}}-{{i}}")
        else:
            kf.place_order("PF_XBTUSD", "buy" if kind != 1 else "sell", 0.001, order_type="mkt",
                           client_order_id=f"{{tag}}-{{i}}")
        print(i, flush=True)
    """
).format(balance=BALANCE)


def _burst(
    data: Path, upstream: Served, name: str, count: int, tag: str, start: int = 0
) -> subprocess.Popen[str]:
    env = os.environ | {
        "PYTHONWARNINGS": "ignore",
        "KFRESEARCH_DATA_DIR": str(data),
        "KFRESEARCH_DEMO_UPSTREAM": upstream.url,
    }
    return subprocess.Popen(
        [sys.executable, "-c", _BURST, name, str(count), tag, str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _orders_in_file(path: Path) -> int:
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return int(db.execute("SELECT count(*) FROM orders").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


@pytest.mark.slow
def test_kill_9_in_a_burst_of_200_orders_leaves_the_account_consistent(
    tmp_path: Path, upstream: Served
) -> None:
    path = tmp_path / "paper" / "burst.sqlite"
    process = _burst(tmp_path, upstream, "burst", 200, "k")
    deadline = time.monotonic() + 60
    while _orders_in_file(path) < 60 and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL

    acc = _only_account(path)
    placed = len(acc.orders)
    assert 60 <= placed < 200
    assert_consistent(acc, {("flex", "USD"): BALANCE})

    # start again: the rest of the burst goes on from where the file stood
    rest = _burst(tmp_path, upstream, "burst", 200 - placed, "r", start=placed)
    assert rest.wait(120) == 0, rest.stderr.read() if rest.stderr else ""
    acc = _only_account(path)
    assert len(acc.orders) == 200
    assert_consistent(acc, {("flex", "USD"): BALANCE})
    assert len({f.order_id for f in acc.fills}) == 150  # three market orders in four filled


@pytest.mark.slow
def test_two_processes_of_100_orders_each_lose_no_update(tmp_path: Path, upstream: Served) -> None:
    path = tmp_path / "paper" / "shared.sqlite"
    path.parent.mkdir()
    SqliteLedger(path, balance=BALANCE).close()
    processes = [_burst(tmp_path, upstream, "shared", 100, tag) for tag in ("a", "b")]
    for process in processes:
        assert process.wait(120) == 0, process.stderr.read() if process.stderr else ""
    acc = _only_account(path)
    assert len(acc.orders) == 200
    assert {o.cli_ord_id[0] for o in acc.orders.values() if o.cli_ord_id} == {"a", "b"}
    assert len(acc.cli_ids) == 200
    assert sorted(o.seq for o in acc.orders.values()) == list(range(1, 201))
    assert_consistent(acc, {("flex", "USD"): BALANCE})


def test_paper_accounts_live_under_the_data_dir_the_variable_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kfresearch.sim.paper import PaperAccount, account_path, data_dir

    monkeypatch.setenv("KFRESEARCH_DATA_DIR", str(tmp_path / "data"))
    assert data_dir() == tmp_path / "data"
    account = PaperAccount.open("carry-study", balance=25_000)
    assert account.path == tmp_path / "data" / "paper" / "carry-study.sqlite"
    assert account.path.exists()
    assert repr(account) == "PaperAccount('carry-study', starting balance 25,000 USD)"
    assert PaperAccount.open("carry-study", balance=1.0).starting_balance == 25_000.0
    account.reset(balance=3_000)
    assert account.starting_balance == 3_000.0
    for bad in ("", "../escape", ".hidden", "a/b", "x" * 65):
        with pytest.raises(kfresearch.ValidationError, match="paper account name"):
            account_path(bad)
    with pytest.raises(kfresearch.ValidationError, match="positive USD"):
        PaperAccount.open("other", balance=0)
    monkeypatch.delenv("KFRESEARCH_DATA_DIR")
    assert data_dir().name == "kfresearch"
