"""Write the notebooks' sources from this file and execute them with the fixed seed and clock.

    .venv/bin/python tools/build_notebooks.py [NAME ...]

The notebooks are tests (nbval compares their stored outputs), so they are
executed with the same environment ``make test`` uses: seed 42, clock fixed at
2026-11-01T00:00:00Z, tqdm off.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from api_notebooks import SOURCES as API_SOURCES
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ENV = {
    "KFRESEARCH_SIM_SEED": "42",
    "KFRESEARCH_SIM_NOW": "2026-11-01T00:00:00Z",
    "TQDM_DISABLE": "1",
}

md = nbformat.v4.new_markdown_cell
code = nbformat.v4.new_code_cell

SOURCES: dict[str, list[nbformat.NotebookNode]] = {
    "00-start-here": [
        md(
            "# 00 · Start here\n\n"
            "kfresearch puts the Kraken Futures API into JupyterLab: typed pandas frames, plotly "
            "charts and order tickets, on three **environments**:\n\n"
            "| env | what answers | what it risks |\n|---|---|---|\n"
            "| `sim` | a simulated exchange inside this Python process: synthetic, seeded market, offline | nothing |\n"
            "| `demo` (the default) | kfresearch's local paper exchange (Kraken retired its own demo host on 2026-07-14) | nothing: orders never leave this machine |\n"
            "| `live` | `https://futures.kraken.com` | **real money**: orders also need `allow_trading=True` |\n\n"
            "These notebooks run on `sim` with a fixed seed and clock, so every number you see is "
            "reproducible (and checked by the test suite)."
        ),
        code("import kfresearch\n\nkf = kfresearch.connect(\"sim\")\nkf"),
        md(
            "## Keys and where they live\n\n"
            "`sim` and `demo` make their own local key pairs: nothing to set. For `live`, make a "
            "**Futures** API key on futures.kraken.com (a Spot key from kraken.com does not work) and "
            "put it in the environment variables `KFRESEARCH_API_KEY` / `KFRESEARCH_API_SECRET`, or in "
            "a `.env` file next to your notebook. Never paste a secret into a cell: saved notebooks "
            "keep it. kfresearch holds secrets in a type that prints as `********`."
        ),
        code("kfresearch.Secret(\"c2VjcmV0\")"),
        md("## Is everything working?\n\n`doctor()` checks the host, the clock, the keys and the known traps."),
        code("print(kf.doctor())"),
        md(
            "## The first frame\n\nEvery data method returns a pandas DataFrame with snake_case "
            "columns, float64 prices and UTC times. Tickers are indexed by symbol:"
        ),
        code(
            "tickers = kf.tickers()\n"
            "tickers.loc[[\"PF_XBTUSD\", \"PF_ETHUSD\", \"PI_XBTUSD\"], "
            "[\"mark_price\", \"bid\", \"ask\", \"spread_bps\", \"funding_rate_annualised\"]]"
        ),
        code("tickers.dtypes[[\"mark_price\", \"spread_bps\", \"last_time\", \"suspended\"]]"),
        md(
            "Next: `01-market-data`. To run these notebooks against the network simulator instead, "
            "start `kfresearch sim serve` in a terminal and use "
            "`kfresearch.connect(\"sim\", base_url=\"http://127.0.0.1:8765\")`."
        ),
    ],
    "01-market-data": [
        md(
            "# 01 · Market data: instruments and tickers\n\n"
            "Kraken Futures lists two families of contracts:\n\n"
            "* **Perpetuals** never expire. A *funding* payment every hour between longs and shorts keeps "
            "their price near the spot index.\n"
            "* **Dated futures** expire on a fixed day (`FI_XBTUSD_261225` = 25 Dec 2026) and settle at the index.\n\n"
            "And two ways of margining them:\n\n"
            "* **Linear, multi-collateral** (`PF_…`): one contract = one unit of the base coin, PnL and margin in USD.\n"
            "* **Inverse** (`PI_…`, `FI_…`): one contract = 1 USD, margin and PnL in the coin (XBT for Bitcoin).\n\n"
            "Note Bitcoin is `XBT` on this API."
        ),
        code("import kfresearch\nfrom kfresearch import charts\n\nkf = kfresearch.connect(\"sim\")\ninstruments = kf.instruments()\ninstruments[[\"type\", \"tick_size\", \"contract_size\", \"contract_value_trade_precision\", \"last_trading_time\"]]"),
        md(
            "`contract_value_trade_precision` is the number of decimals a size may have: 4 for PF_XBTUSD "
            "means steps of 0.0001 XBT. Each contract's margin tiers are kept as lists:"
        ),
        code("instruments.loc[\"PF_XBTUSD\", \"margin_levels\"][:3]"),
        md(
            "## Tickers\n\n`tickers()` adds what a researcher always computes: mid, spread in bps, the "
            "premium of the mark over the index, and funding both as the exchange gives it (absolute, per "
            "contract per hour) and as a relative, annualised rate. Every rate is a fraction (0.01 = 1 %; "
            "`change24h` too, which the exchange sends in percent): only columns ending in `_pct` or "
            "`_bps` hold percent or basis points."
        ),
        code("tickers = kf.tickers()\nperps = tickers[tickers[\"tag\"] == \"perpetual\"]\nperps[[\"mark_price\", \"spread_bps\", \"premium\", \"funding_rate\", \"relative_funding_rate\", \"funding_rate_annualised\", \"change24h\"]].round(6)"),
        md(
            "For a linear contract the relative rate is the absolute rate divided by the index; for an "
            "inverse one it is the absolute rate *times* the index (reference §7.5). Both become comparable "
            "once annualised. The market at a glance:"
        ),
        code("charts.tickers_overview(tickers)"),
    ],
    "02-order-books": [
        md(
            "# 02 · Order books\n\nThe exchange sends the book as two lists of `[price, size]`. "
            "`orderbook()` returns one tidy frame, best level first on each side, with cumulative size and "
            "notional, and the mid and spread in `attrs`."
        ),
        code("import kfresearch\nfrom kfresearch import charts\n\nkf = kfresearch.connect(\"sim\")\nbook = kf.orderbook(\"PF_XBTUSD\", depth=25)\nbook.head(6)"),
        code("{key: round(value, 4) if isinstance(value, float) else value for key, value in book.attrs.items() if key in {\"symbol\", \"mid\", \"spread\", \"spread_bps\"}}"),
        code("charts.depth_chart(book)"),
        md(
            "## The cost of size\n\nA market order walks the book. The average price of a buy of `size` "
            "is the notional of the asks it consumes divided by the size; its distance from the mid is the "
            "impact, in basis points."
        ),
        code(
            "import numpy as np\n\n"
            "asks = book[book.side == \"ask\"]\n"
            "def impact_bps(size: float) -> float:\n"
            "    take = np.minimum(asks[\"size\"], np.maximum(size - (asks[\"cum_size\"] - asks[\"size\"]), 0))\n"
            "    average = (take * asks[\"price\"]).sum() / take.sum()\n"
            "    return (average / book.attrs[\"mid\"] - 1) * 1e4\n\n"
            "{size: round(float(impact_bps(size)), 2) for size in (0.1, 1, 5, 10)}"
        ),
        md(
            "## Liquidity over time\n\nPolling the book (here: moving the simulated clock a minute at a "
            "time) gives a sequence of snapshots; the heatmap shows where liquidity sits."
        ),
        code(
            "snapshots = []\nfor _ in range(30):\n    kf.sim.advance(\"1m\")\n    snapshots.append(kf.orderbook(\"PF_XBTUSD\", depth=20))\n"
            "charts.book_heatmap(snapshots)"
        ),
    ],
    "03-trades-and-candles": [
        md(
            "# 03 · Trades and candles\n\n**Trades** come from Kraken's market history service, page by "
            "page (1,000 per page, following a continuation token). **Candles** come from the charts "
            "service, at most 2,000 per answer. kfresearch fetches every page, shows a progress bar when "
            "a download takes more than a few pages (off here), and returns one sorted frame without "
            "duplicates."
        ),
        code("import kfresearch\nfrom kfresearch import charts\n\nkf = kfresearch.connect(\"sim\")\ntrades = kf.trades(\"PF_ETHUSD\", since=\"2h\")\nlen(trades), trades.index.is_monotonic_increasing, trades.index.min(), trades.index.max()"),
        code("trades[[\"price\", \"size\", \"side\", \"usd_value\"]].head()"),
        code("charts.trades_chart(trades)"),
        md(
            "## Candles\n\nTimes accept datetimes, ISO strings, epoch milliseconds or relative strings "
            "like `\"30d\"`. Thirty days of one-minute candles is 43,200 rows, fetched in 22 pages:"
        ),
        code("minutes = kf.candles(\"PF_XBTUSD\", \"1m\", since=\"30d\")\nlen(minutes), minutes.index.is_unique, minutes.index.to_series().diff().value_counts()"),
        md("Resampling with pandas gives any other bar size; it matches the exchange's own 1h candles:"),
        code(
            "hourly = minutes.resample(\"1h\").agg({\"open\": \"first\", \"high\": \"max\", \"low\": \"min\", \"close\": \"last\", \"volume\": \"sum\"})\n"
            "exchange_hourly = kf.candles(\"PF_XBTUSD\", \"1h\", since=\"30d\")\n"
            "common = hourly.index.intersection(exchange_hourly.index)\n"
            "(hourly.loc[common, [\"open\", \"close\"]] - exchange_hourly.loc[common, [\"open\", \"close\"]]).abs().max()"
        ),
        code("charts.candles_chart(kf.candles(\"PF_XBTUSD\", \"4h\", since=\"30d\"), overlays=(20, 50))"),
    ],
    "04-funding-and-basis": [
        md(
            "# 04 · Funding and basis\n\nA perpetual has no expiry, so something must tie its price to "
            "the index: every hour, **funding** flows between longs and shorts. When the perpetual trades "
            "above the index (positive premium), longs pay shorts, which pushes the price back down.\n\n"
            "A dated future converges to the index at expiry instead; its **basis** (future minus index) "
            "annualised over the time to expiry is the market's price of carrying the position."
        ),
        code("import kfresearch\nfrom kfresearch import charts\n\nkf = kfresearch.connect(\"sim\")\nfunding = kf.funding_rates(\"PF_XBTUSD\", since=\"30d\")\nfunding.tail()"),
        md(
            "Each rate is stamped at the **start** of the hour it applies to; `period_end` is when it is "
            "paid, which is when `kf.account_log()` books the payment. `funding_rate` is the exchange's "
            "absolute rate (USD per contract per period for a linear contract); `relative_funding_rate` is "
            "per unit of notional, a fraction. A long of 1 XBT paid over the month:"
        ),
        code("paid_usd = float(funding[\"funding_rate\"].sum())\nannualised = funding[\"relative_funding_rate\"].mean() * 24 * 365\nf\"{paid_usd:,.2f} USD, or {annualised:.2%} a year\""),
        code("charts.funding_chart(funding)"),
        md("## Term structure"),
        code("term = kf.term_structure(\"XBT\")\nterm[[\"symbol\", \"tag\", \"days_to_expiry\", \"mark_price\", \"index_price\", \"basis\", \"relative_basis\", \"basis_annualised\", \"funding_rate_annualised\"]].round(4)"),
        md(
            "`basis_annualised` (dated contracts) and `funding_rate_annualised` (perpetuals) are both "
            "fractions per year, so the two ways of holding XBT exposure compare directly: 0.05 is 5 % "
            "a year paid by longs. `relative_basis` is the basis as a fraction of the index."
        ),
        code("charts.term_structure_chart(term)"),
    ],
    "05-account-and-positions": [
        md(
            "# 05 · Account and positions\n\n"
            "A Kraken Futures account holds several **wallets**: `flex` (multi-collateral, margins every "
            "`PF_` contract in USD), one single-collateral wallet per inverse market (`fi_xbtusd` holds XBT "
            "for `PI_XBTUSD` and the dated `FI_XBTUSD_…`), and `cash`.\n\n"
            "**Margin**: opening a position locks *initial margin*; if equity falls below the "
            "*maintenance margin* the position is liquidated. Both are tiered: the larger the position, "
            "the higher the percentage for the part above each tier."
        ),
        code("import kfresearch\nfrom kfresearch import charts\n\nkf = kfresearch.connect(\"sim\")\nkf.accounts()[[\"account\", \"type\", \"currency\", \"quantity\", \"value\", \"available_margin\", \"initial_margin\"]]"),
        md("Open a linear long and an inverse short with market orders (the simulator's paper account):"),
        code("long_eth = kf.place_order(\"PF_ETHUSD\", \"buy\", 2, order_type=\"mkt\", client_order_id=\"nb05-eth\")\nshort_btc = kf.place_order(\"PI_XBTUSD\", \"sell\", 5000, order_type=\"mkt\", client_order_id=\"nb05-btc\")\nlong_eth, short_btc"),
        md(
            "Now let six hours pass on the simulated clock: prices move and funding is paid every hour. "
            "On a linear contract PnL is `(mark − entry) × size` in USD; on an inverse one it is "
            "`(1/entry − 1/mark) × contracts` in XBT. So `unrealized_pnl` is in each row's `currency`; "
            "`unrealized_pnl_usd` converts it at the mark, and that is the column to sum."
        ),
        code("kf.sim.advance(\"6h\")\npositions = kf.positions()\npositions[[\"side\", \"size\", \"entry_price\", \"mark_price\", \"notional\", \"currency\", \"unrealized_pnl\", \"unrealized_pnl_usd\", \"unrealized_funding\"]]"),
        code("round(float(positions[\"unrealized_pnl_usd\"].sum()), 2)"),
        code("charts.positions_chart(positions)"),
        md("## Fills and the account log\n\nFills say what traded, in the order it executed; the account log says what every trade, fee and funding payment did to each balance, in that balance's `currency` (USD for the linear contract, XBT for the inverse one). The `…_usd` columns convert at the mark of the time."),
        code("kf.fills()[[\"symbol\", \"side\", \"size\", \"price\", \"fill_type\"]]"),
        code("log = kf.account_log(since=\"1d\")\nlog[~log[\"is_position_leg\"]][[\"info\", \"currency\", \"margin_account\", \"fee\", \"fee_usd\", \"realized_funding\", \"realized_funding_usd\", \"new_balance\"]].head(8)"),
        code("charts.equity_chart(log)"),
    ],
    "06-placing-orders": [
        md(
            "# 06 · Placing orders without fear\n\n"
            "Order types on Kraken Futures:\n\n"
            "| type | what it does |\n|---|---|\n"
            "| `lmt` | rests at `limit_price` until filled or cancelled |\n"
            "| `post` | a limit order that must rest; rejected if it would trade at once |\n"
            "| `ioc` | takes what it can at `limit_price` or better now, cancels the rest |\n"
            "| `fok` | fills completely at once or not at all |\n"
            "| `mkt` | an IOC with 1 % price protection |\n"
            "| `stp` / `take_profit` | waits for `stop_price` on the trigger signal (mark, index, last) |\n"
            "| `trailing_stop` | a stop that follows the best price at a distance |\n\n"
            "Every order kfresearch sends carries a **client order id**: if the connection drops, the "
            "client looks the order up by that id instead of sending it again, so one intent never "
            "becomes two orders."
        ),
        code("import kfresearch\n\nkf = kfresearch.connect(\"sim\")\nbook = kf.orderbook(\"PF_XBTUSD\", depth=1)\nbid = float(book.loc[book.side == \"bid\", \"price\"].iloc[0])\nresting = kf.place_order(\"PF_XBTUSD\", \"buy\", 0.01, limit_price=bid - 500, client_order_id=\"nb06-rest\")\nresting"),
        code("resting.to_frame()[[\"status\", \"symbol\", \"side\", \"size\", \"filled\", \"limit_price\"]]"),
        code("kf.open_orders()[[\"symbol\", \"side\", \"order_type\", \"limit_price\", \"unfilled_size\"]]"),
        md(
            "## Mistakes are caught before anything is sent\n\nThe contract's rules (tick size, size "
            "step, maximum position, price collar around the mark) are checked first, and the error says "
            "which field is wrong and what would be valid:"
        ),
        code("for bad in (dict(limit_price=bid - 500.5), dict(size=0.00001, limit_price=bid - 500), dict(order_type=\"stp\")):\n    try:\n        kf.place_order(\"PF_XBTUSD\", \"buy\", **{\"size\": 0.01, \"limit_price\": bid - 500, **bad})\n    except kfresearch.ValidationError as error:\n        print(f\"{error.field}: {error}\")"),
        md("What only the exchange can judge comes back as an `OrderRejected` with the exchange's status and plain words, e.g. a post-only order that would trade at once:"),
        code("try:\n    kf.place_order(\"PF_XBTUSD\", \"buy\", 0.01, order_type=\"post\", limit_price=bid + 100)\nexcept kfresearch.OrderRejected as rejected:\n    print(rejected.status, \"-\", rejected.explanation)"),
        code("cancelled = kf.cancel_order(resting.order_id)\ncancelled.status, len(kf.open_orders())"),
        md(
            "## The order ticket\n\nThe ticket shows the environment as a coloured badge, snaps prices "
            "to the tick, previews notional, margin and fee, and shows field errors inline. On `live` it "
            "asks you to type the symbol before it submits. The panels list open orders (with Cancel) and "
            "positions (with Close)."
        ),
        code("from kfresearch.widgets import OrderTicket, OrdersPanel, PositionsPanel\n\nticket = OrderTicket(kf, \"PF_ETHUSD\")\nticket"),
        code("OrdersPanel(kf)"),
        code("PositionsPanel(kf)"),
        md(
            "## The live gates\n\nNothing reaches the real exchange by accident: on `live`, placing, "
            "editing or cancelling needs a second opt-in, `allow_trading=True` (or "
            "`KFRESEARCH_ALLOW_LIVE_TRADING=1`). Without it the call fails before any request is made:"
        ),
        code("live = kfresearch.connect(\"live\")\ntry:\n    live.place_order(\"PF_XBTUSD\", \"buy\", 0.001, limit_price=80000)\nexcept kfresearch.LiveTradingDisabledError as gate:\n    print(gate)"),
        md(
            "## The dead man's switch\n\n`cancel_all_after(60)` asks the exchange to cancel every order "
            "if it hears nothing for 60 s; `keep_alive()` re-arms it from a background thread while the "
            "notebook runs, and disarms it when stopped."
        ),
        code("with kf.keep_alive(timeout=60, interval=15) as switch:\n    armed = switch.running\narmed, switch.running"),
    ],
    "07-strategy-prototype": [
        md(
            "# 07 · One strategy: backtest, sweep, paper\n\n"
            "A moving-average rule on 1-minute bars of `PF_XBTUSD`, written **once** as a "
            "`kfresearch.strategy.Strategy`. The same object is backtested on stored history, swept "
            "over a small grid, then run on the paper exchange; the backtest of the hours it ran "
            "is compared order by order with what the paper exchange did.\n\n"
            "A backtest here is not a pandas loop with costs bolted on: it replays the history store "
            "through the simulator's own **exchange engine**, so orders are validated by the same "
            "order API, fill against the book and the tape by the same rules, pay the same fees and "
            "hourly funding, and can be liquidated, exactly as on `sim` and the `demo` paper exchange."
        ),
        code(
            "import tempfile\nfrom dataclasses import dataclass\nfrom pathlib import Path\n\n"
            "import pandas as pd\n\nimport kfresearch\nfrom kfresearch.store import Store\n"
            "from kfresearch.strategy import Strategy, arun, backtest, sweep, sweep_heatmap\n\n\n"
            "@dataclass\n"
            "class SmaCross(Strategy):\n"
            "    \"\"\"Long `size` XBT while the fast average of closes is above the slow one, short below.\"\"\"\n\n"
            "    fast: int = 10\n"
            "    slow: int = 30\n"
            "    size: float = 0.1\n\n"
            "    def on_bar(self, ctx, bar):\n"
            "        closes = ctx.closes(bar.symbol, self.slow)  # the bars seen so far, oldest first\n"
            "        if len(closes) < self.slow:\n"
            "            return\n"
            "        long = closes[-self.fast:].mean() > closes.mean()\n"
            "        ctx.order_target(bar.symbol, self.size if long else -self.size)  # a market order for the difference\n\n\n"
            "SmaCross()"
        ),
        md(
            "`on_bar` sees a bar when it has closed, never before, so the rule cannot trade on a "
            "price it could not have seen. `ctx.order_target` sends `kf.place_order(..., \"mkt\")` for "
            "the difference: the client's own validated call. Other hooks (`on_fill`, `on_funding`, "
            "`on_trade`, `on_book`, `on_start`, `on_stop`) are there when a rule needs them.\n\n"
            "## History in the store\n\n"
            "The replay needs the bars (trade candles), the mark and spot candles (margin, "
            "liquidation, stops), the public trades (a resting limit order fills when trades print "
            "through it) and the hourly funding rates. Six hours of the simulator's history, up to "
            "now. The store keeps an hour's funding rate once the hour is over, so the running "
            "hour has none yet: the replay pays no funding for it (it never reaches its end)."
        ),
        code(
            "kf = kfresearch.connect(\"sim\")\n"
            "now = kf.orderbook(\"PF_XBTUSD\", depth=1).attrs[\"server_time\"]  # the exchange's clock\n"
            "since, until = now - pd.Timedelta(\"6h\"), now\n"
            "store = Store(Path(tempfile.mkdtemp()) / \"data\", kf, progress=False)\n\n\n"
            "def keep(start, end):\n"
            "    \"\"\"Download what a backtest of [start, end) reads (plus a few minutes before it).\"\"\"\n"
            "    lead = start - pd.Timedelta(\"5min\")\n"
            "    for tick_type in (\"trade\", \"mark\", \"spot\"):\n"
            "        store.download(\"candles\", \"PF_XBTUSD\", lead, end, resolution=\"1m\", tick_type=tick_type)\n"
            "    store.download(\"trades\", \"PF_XBTUSD\", lead, end)\n"
            "    store.download(\"funding_rates\", \"PF_XBTUSD\", start.floor(\"D\"), end.floor(\"h\") + pd.Timedelta(\"1h\"))\n\n\n"
            "keep(since, until)\n"
            "store.info()[[\"kind\", \"symbol\", \"tick_type\", \"rows\"]]"
        ),
        md("## Backtest\n\nOne call; `seed` fixes the exchange's identifiers, so one seed gives one answer."),
        code(
            "result = backtest(SmaCross(), store, \"PF_XBTUSD\", since, until, seed=7)\n"
            "result"
        ),
        code(
            "result.stats.round(4)"
        ),
        md(
            "`gross_pnl_usd` is what the rule made before costs; `fees_usd` and `funding_usd` are "
            "what it paid (the engine's taker fee on every market order, the hourly funding on "
            "the position it held); `net_pnl_usd` is what is left. The frames behind them:"
        ),
        code(
            "result.fills[[\"side\", \"size\", \"price\", \"fee\", \"fill_type\"]].head()"
        ),
        code(
            "result.funding.head()"
        ),
        code("result.equity_chart()"),
        code("result.fills_chart()"),
        code("result.costs_chart()"),
        md(
            "## A small sweep\n\n"
            "`sweep` makes one strategy per grid point and backtests each with the same arguments. "
            "Here in this process (`workers=1`, quick in a notebook); by default it uses a process "
            "per core, and given `client=` a `dask.distributed.Client` it runs on that cluster "
            "instead. The answer is one frame, the same wherever it ran."
        ),
        code(
            "table = sweep(SmaCross, {\"fast\": [5, 10], \"slow\": [20, 30, 60]}, store=store,\n"
            "              symbols=\"PF_XBTUSD\", since=since, until=until, seed=7, workers=1)\n"
            "table[[\"fast\", \"slow\", \"net_pnl_usd\", \"gross_pnl_usd\", \"fees_usd\", \"fills\"]].round(2)"
        ),
        code("sweep_heatmap(table, \"fast\", \"slow\", \"net_pnl_usd\")"),
        md(
            "Fees eat a fast rule on 1-minute bars: the more it trades, the more it pays.\n\n"
            "## The same object on the paper exchange\n\n"
            "`arun` trades the strategy on a client's exchange, bar by bar, on the exchange's clock: "
            "it subscribes the exchange's WebSocket (`kf.stream()`) and a bar closes when the "
            "exchange's heartbeat passes its end, built from the streamed trades. In a notebook it "
            "runs in the background, so the kernel stays free: `await arun(...)` returns once the "
            "feeds are live, `await r.wait()` gives the result, `await r.stop()` ends it early (a "
            "script calls `run(...)`, which blocks). Here the simulator's clock is fixed, so the "
            "run moves it: two hours pass in seconds. With `kfresearch.connect()` the same call "
            "trades the `demo` paper exchange in real time; on `live` it needs both opt-ins. The "
            "exchange's dead man's switch stays armed while it runs: if the kernel dies, the "
            "exchange cancels the strategy's open orders."
        ),
        code(
            "r = await arun(SmaCross(), kf, \"PF_XBTUSD\", bars=120)\n"
            "paper = await r.wait()\n"
            "paper"
        ),
        md(
            "## Backtest of the same hours, order by order\n\n"
            "Store those two hours and backtest them: the same bars reach the same rule, so the "
            "orders are the same (compared order by order: a market order on the paper exchange "
            "may fill at two levels of its book, so the fills can be more). The prices may differ "
            "by the spread: the paper exchange filled "
            "against its order book, while the store holds no book snapshot for these hours, so the "
            "replay fills against a model book one tick wide around the last trade. Record the book "
            "(`store.recorder(kf.stream(), ...)`) while a strategy runs and the backtest fills "
            "exactly as the exchange did (`tests/strategy/test_strategy_parity.py` checks it)."
        ),
        code(
            "start, end = paper.equity.index[0] - pd.Timedelta(\"1min\"), paper.equity.index[-1]\n"
            "keep(start, end)\n"
            "again = backtest(SmaCross(), store, \"PF_XBTUSD\", start, end, seed=7)\n"
            "\n\n"
            "def by_order(fills):\n"
            "    \"\"\"One row per order, at its first fill: side, size, size-weighted price of its fills.\"\"\"\n"
            "    f = fills.assign(notional=fills[\"price\"] * fills[\"size\"]).reset_index()\n"
            "    rows = f.groupby(\"order_id\", sort=False).agg(\n"
            "        time=(\"time\", \"first\"), side=(\"side\", \"first\"), size=(\"size\", \"sum\"),\n"
            "        notional=(\"notional\", \"sum\"))\n"
            "    return rows.assign(price=rows.pop(\"notional\") / rows[\"size\"]).set_index(\"time\")\n"
            "\n\n"
            "ours, theirs = by_order(paper.fills), by_order(again.fills)\n"
            "compare = pd.DataFrame({\n"
            "    \"side\": ours[\"side\"],\n"
            "    \"size\": ours[\"size\"],\n"
            "    \"same_order\": (theirs[[\"side\", \"size\"]] == ours[[\"side\", \"size\"]]).all(axis=1),\n"
            "    \"backtest_price\": theirs[\"price\"],\n"
            "    \"paper_price\": ours[\"price\"],\n"
            "})\n"
            "compare[\"diff_bps\"] = (compare[\"backtest_price\"] / compare[\"paper_price\"] - 1) * 1e4\n"
            "compare.round(2)"
        ),
        code(
            "pd.DataFrame({\"backtest\": again.stats, \"paper\": paper.stats}).loc[\n"
            "    [\"net_pnl_usd\", \"gross_pnl_usd\", \"fees_usd\", \"funding_usd\", \"fills\"]].round(2)"
        ),
    ],
    "08-streaming": [
        md(
            "# 08 · Live data: the WebSocket stream\n\n"
            "REST answers a question once; the exchange's **WebSocket** keeps answering. A book "
            "subscription sends the whole book once (a *snapshot*), then one message per price level "
            "that changes (a *delta*), each numbered (`seq`). kfresearch applies every delta to a local "
            "book and checks it: a missing number, a crossed book or a negative size means the local "
            "book can no longer be trusted, so it is fetched again, and counted.\n\n"
            "In JupyterLab the stream runs on the kernel's own event loop, between and during cells: "
            "calls that wait for the exchange are `await`ed. On `sim` the market only moves when the "
            "clock is moved (`kf.sim.advance(ms)`), and `await s.sync()` waits until the stream has "
            "everything the exchange published up to then, so every output below is reproducible."
        ),
        code(
            "import kfresearch\n"
            "from kfresearch.stream import candles_from_trades, live_candles, live_depth\n\n"
            "kf = kfresearch.connect(\"sim\")\n"
            "s = kf.stream()\n"
            "await s.subscribe(\"book\", [\"PF_XBTUSD\"])"
        ),
        code("book = s.book(\"PF_XBTUSD\")\nbook.frame().head(6)"),
        md(
            "`book.frame()` is the very frame `kf.orderbook()` returns (same columns, dtypes, "
            "cumulative size and notional, mid and spread in `attrs`), only it stays current without "
            "a request:"
        ),
        code("book.frame().equals(kf.orderbook(\"PF_XBTUSD\", depth=25))"),
        code(
            "kf.sim.advance(60_000)   # a minute passes on the exchange\n"
            "await s.sync()\n"
            "book, book.frame().equals(kf.orderbook(\"PF_XBTUSD\", depth=25))"
        ),
        md(
            "A live depth chart: a plotly `FigureWidget` redrawn from the book at most four times a "
            "second, however fast deltas arrive (it moves when the clock moves)."
        ),
        code("live_depth(s, \"PF_XBTUSD\")"),
        md(
            "## Trades, and candles built from them\n\n"
            "The trade feed sends the recent trades, then each new one. The stream keeps a rolling "
            "window per symbol (each trade once, even when a reconnect repeats the recent ones), with "
            "the columns of `kf.trades()`."
        ),
        code(
            "await s.subscribe(\"trade\", [\"PF_XBTUSD\"])\n"
            "for _ in range(10):\n"
            "    kf.sim.advance(60_000)\n"
            "    await s.sync()\n"
            "s.trades(\"PF_XBTUSD\")[[\"price\", \"size\", \"side\"]].tail()"
        ),
        md("Candles built from the stream's trades are the exchange's own candles (to the last "
           "bits of the volume sums):"),
        code(
            "import numpy as np\n\n"
            "candles = candles_from_trades(s.trades(\"PF_XBTUSD\"), \"1m\")\n"
            "exchange = kf.candles(\"PF_XBTUSD\", \"1m\", since=\"10m\")\n"
            "whole = candles.index[1:-1].intersection(exchange.index)   # minutes seen from start to end\n"
            "len(whole), np.allclose(candles.loc[whole], exchange.loc[whole], rtol=1e-12)"
        ),
        code("live_candles(s, \"PF_XBTUSD\", \"1m\")"),
        md(
            "## Your own orders, as they happen\n\n"
            "The account feeds (`open_orders`, `fills`, `open_positions`, `balances`, `account_log`, "
            "`notifications`) are signed with the exchange's challenge: the stream asks for one per "
            "connection with the client's keys. `s.on(feed, fn)` calls `fn` with each message, the "
            "hook a strategy reacts on."
        ),
        code(
            "await s.subscribe(\"open_orders\")\n"
            "await s.subscribe(\"fills\")\n"
            "events = []\n"
            "s.on(\"open_orders\", lambda m: events.append((\"open_orders\", m.reason)))\n"
            "s.on(\"fill\", lambda m: events.append((\"fills\", m.record[\"price\"], m.record[\"size\"])))\n\n"
            "order = kf.place_order(\"PF_XBTUSD\", \"buy\", 0.01, limit_price=book.best_bid, client_order_id=\"nb08-bid\")\n"
            "await s.sync()\n"
            "s.open_orders()[[\"symbol\", \"side\", \"order_type\", \"limit_price\", \"unfilled_size\"]]"
        ),
        md("The order rests at the best bid; let the market trade into it:"),
        code(
            "while not any(event[0] == \"fills\" for event in events):\n"
            "    kf.sim.advance(10_000)\n"
            "    await s.sync()\n"
            "events"
        ),
        code("len(s.open_orders()), s.fills()[[\"symbol\", \"side\", \"size\", \"price\", \"fill_type\", \"fee_paid\"]]"),
        md(
            "## Async iteration\n\n"
            "`s.messages(feed)` is an async iterator; leaving the `async with` stops it."
        ),
        code(
            "seen = []\n"
            "async with s.messages(\"trade\", \"PF_XBTUSD\") as trades:\n"
            "    kf.sim.advance(60_000)\n"
            "    await s.sync()\n"
            "    async for message in trades:\n"
            "        seen.append((message.record[\"side\"], message.record[\"price\"], message.record[\"size\"]))\n"
            "        if len(seen) == 3:\n"
            "            break\n"
            "seen"
        ),
        md(
            "## What the stream did\n\n"
            "Reconnections (with backoff and jitter, every subscription asked again, every book "
            "rebuilt from a fresh snapshot) and book resyncs are counted; here, none were needed."
        ),
        code(
            "stats = s.stats()\n"
            "{key: stats[key] for key in (\"connects\", \"reconnects\", \"resyncs\", \"gaps\", \"crossed\", \"book_snapshots\", \"book_deltas\")}"
        ),
        code("await s.close()\ns"),
        md(
            "## Elsewhere\n\n"
            "* In a script the same calls block instead of being awaited: `s = kf.stream(); "
            "s.subscribe(\"book\", \"PF_XBTUSD\"); ...; s.close()` (the stream runs in a background "
            "thread), or `async with kf.stream() as s:` in async code.\n"
            "* On the real exchange (`kfresearch.connect(\"live\")`) the stream connects to "
            "`wss://futures.kraken.com/ws/v1`; account feeds need your Futures key pair.\n"
            "* In a terminal: `kfresearch watch book PF_XBTUSD` (or `trades`, `ticker`) until Ctrl-C."
        ),
    ],
    "09-paper-trading": [
        md(
            "# 09 · Paper trading on the real market\n\n"
            "`demo` is kfresearch's paper exchange: **live prices, paper money, nothing lost**.\n\n"
            "* Prices are the live exchange's own: tickers, order books, trades and funding rates come "
            "from its public WebSocket feeds (REST for the first snapshot, and while the socket is "
            "down; no key needed). A market order walks the real book's levels; a resting "
            "limit order fills only when real trades go through its price (or trade at its price beyond "
            "its place in the queue); stops trigger on the real mark, index or last price; funding is "
            "charged each hour at the real rate.\n"
            "* The money is yours to invent: a **named paper account** with the starting balance you "
            "choose, kept in a small SQLite file under your data directory "
            "(`~/.local/share/kfresearch/paper/` on Linux; `KFRESEARCH_DATA_DIR` moves it). It survives "
            "kernel restarts, and two notebooks can trade it at once without losing an update.\n"
            "* Orders never leave this machine.\n\n"
            "If the live exchange cannot be reached, `demo` says so and accepts no order; it never "
            "falls back to made-up prices (use `env=\"sim\"` to work offline).\n\n"
            "*While the test suite runs this notebook, the \"live exchange\" is a simulator served on "
            "this machine (`KFRESEARCH_DEMO_UPSTREAM=http://127.0.0.1:PORT`) with a fixed clock, and the "
            "account lives in a temporary directory, so the numbers below are reproducible.*"
        ),
        code(
            "import kfresearch\n\n"
            "kf = kfresearch.connect(\"demo\", account=\"nb09-carry\", balance=25_000)\n"
            "kf.paper.reset(balance=25_000)  # start this lesson from an empty account\n"
            "kf.paper"
        ),
        md("The account's flex wallet holds the balance you chose:"),
        code(
            "accounts = kf.accounts()\n"
            "wallets = accounts[accounts.quantity.notna()]  # one row per wallet and currency\n"
            "wallets[wallets.account == \"flex\"][[\"account\", \"currency\", \"quantity\"]]"
        ),
        md(
            "## Orders fill against the real book\n\nA market buy takes the best asks, level by level, "
            "at the prices the live book shows at that moment:"
        ),
        code(
            "book = kf.orderbook(\"PF_XBTUSD\", depth=3)\n"
            "book[book.side == \"ask\"][[\"price\", \"size\"]]"
        ),
        code(
            "bought = kf.place_order(\"PF_XBTUSD\", \"buy\", 0.05, order_type=\"mkt\")\n"
            "kf.fills()[[\"symbol\", \"side\", \"size\", \"price\", \"fill_type\"]]"
        ),
        md(
            "Where the prices come from right now: `websocket` (the live exchange's public feeds, "
            "through the same streaming client as `kf.stream()`) or `rest` (polling, when the socket "
            "cannot be opened; a warning says why). Never made-up prices."
        ),
        code("kf.sim.source.transport"),
        md(
            "A limit order below the market rests until real trades print through its price. It waits "
            "behind the size the book already showed at that price:"
        ),
        code(
            "bid = float(book.loc[book.side == \"bid\", \"price\"].iloc[0])\n"
            "resting = kf.place_order(\"PF_XBTUSD\", \"buy\", 0.05, limit_price=bid - 1_000)\n"
            "kf.open_orders().reset_index(drop=True)[[\"symbol\", \"side\", \"limit_price\", \"unfilled_size\"]]"
        ),
        md(
            "## Every fill, fee and funding payment is in the ledger\n\n`account_log()` reads the "
            "paper account's full ledger. Each balance change has its row, so the balance always equals "
            "the starting balance plus the sum of the changes:"
        ),
        code(
            "log = kf.account_log()\n"
            "log[[\"info\", \"contract\", \"asset\", \"change\", \"fee\"]]"
        ),
        code(
            "accounts = kf.accounts()\n"
            "flex = accounts.loc[(accounts.account == \"flex\") & accounts.quantity.notna(), \"quantity\"].iloc[0]\n"
            "usd = log[log.asset == \"usd\"]\n"
            "print(f\"25,000 {usd.change.sum():+.4f} = {25_000 + usd.change.sum():,.4f} USD; \"\n"
            "      f\"the wallet holds {flex:,.4f} USD\")"
        ),
        md(
            "## Funding, each hour, at the real rate\n\nA perpetual position pays or receives funding at "
            "the top of every hour, at the rate the live exchange publishes (an amount per contract per "
            "hour). The position accrues it in the meantime; when the hour turns, a `funding rate "
            "change` row appears in the ledger. The rate now, and what the position would pay for a "
            "whole hour at it:"
        ),
        code(
            "rate = kf.tickers().loc[\"PF_XBTUSD\", \"funding_rate\"]\n"
            "size = kf.positions().loc[\"PF_XBTUSD\", \"size\"]\n"
            "print(f\"funding rate {rate:.6f} USD per contract per hour: \"\n"
            "      f\"{-size * rate:+.6f} USD an hour for {size} contracts\")"
        ),
        code("kf.account_log(info=\"funding rate change\")[[\"contract\", \"funding_rate\", \"realized_funding\"]]"),
        md(
            "Come back after the top of the hour and run the cell above again: the payment is there, "
            "even if this kernel was shut down in between (the account catches up when it is next used).\n\n"
            "## Restart the kernel: the account is as you left it\n\nAnother Python process (a "
            "new kernel, another notebook, a script) opening the same named account finds the same "
            "position, order and ledger:"
        ),
        code(
            "import subprocess\nimport sys\n\n"
            "script = \"\"\"\n"
            "import kfresearch\n"
            "kf = kfresearch.connect('demo', account='nb09-carry')\n"
            "print(kf.positions()[['side', 'size']])\n"
            "print(len(kf.open_orders()), 'open order,', len(kf.account_log()), 'ledger rows')\n"
            "\"\"\"\n"
            "print(subprocess.run([sys.executable, \"-c\", script], capture_output=True, text=True, check=True).stdout)"
        ),
        md(
            "## Streaming: the live market, the paper account\n\n`kf.stream()` works on `demo` as on "
            "the real exchange: public feeds relay the live market (its book, trades and tickers), "
            "account feeds (`fills`, `open_orders`, `open_positions`, `balances`) are the paper "
            "account's."
        ),
        code(
            "s = kf.stream()\n"
            "await s.subscribe(\"book\", [\"PF_XBTUSD\"])\n"
            "await s.subscribe(\"fills\")\n"
            "s.book(\"PF_XBTUSD\").frame(depth=2)[[\"side\", \"level\", \"price\", \"size\"]]"
        ),
        code(
            "fills = s.fills()[[\"symbol\", \"side\", \"size\", \"price\"]]\n"
            "await s.close()\n"
            "fills"
        ),
        md(
            "## Other clients\n\n`kfresearch demo serve --account nb09-carry` serves the same paper "
            "account over HTTP and WebSocket on loopback, for clients written for the real exchange "
            "(ccxt, python-kraken-sdk …): point their base URL at it and use the keys "
            "`kfresearch sim keys` prints.\n\nTidy up: cancel the resting order and close the position."
        ),
        code(
            "kf.cancel_order(resting.order_id).status, "
            "kf.place_order(\"PF_XBTUSD\", \"sell\", 0.05, order_type=\"mkt\", reduce_only=True).status"
        ),
    ],
    "10-history-store": [
        md(
            "# 10 · A local history store\n\n"
            "One request returns at most 2,000 candles, and the exchange keeps a limited depth of "
            "history (after 2027-03-01 the REST API may be gone altogether). `kfresearch.store.Store` "
            "keeps what you download as Parquet files on disk: a call asks the exchange only for "
            "what the store lacks, an interrupted download resumes where it stopped, DuckDB answers "
            "SQL over it, and Polars, Dask or Spark read the same directory unchanged."
        ),
        code(
            "import tempfile\nimport warnings\nfrom pathlib import Path\n\n"
            "import kfresearch\nfrom kfresearch.store import Store\n\n"
            "kf = kfresearch.connect(\"sim\")\n"
            "data = Path(tempfile.mkdtemp()) / \"data\"  # any directory: Store(\"data/\", kf)\n"
            "store = Store(data, kf)\nstore.root.name"
        ),
        md(
            "## The same frame as `kf.candles`, kept for next time\n\n"
            "`store.candles` takes the arguments of `kf.candles` and returns the same frame "
            "(columns, dtypes, index, attrs). `store.last_summaries` says what was fetched, what "
            "was already there, and the gaps where the exchange has no data."
        ),
        code(
            "candles = store.candles(\"PF_XBTUSD\", \"1m\", since=\"30d\")\n"
            "print(store.last_summaries[0])\ncandles.tail(3)"
        ),
        code(
            "again = store.candles(\"PF_XBTUSD\", \"1m\", since=\"45d\")  # 15 more days: only those are fetched\n"
            "print(store.last_summaries[0])\n"
            "again.equals(kf.candles(\"PF_XBTUSD\", \"1m\", since=\"45d\", progress=False))"
        ),
        md(
            "## Downloads that resume\n\n"
            "`store.download` fetches without reading back (the CLI's `kfresearch download candles "
            "PF_XBTUSD --resolution 1m --since 90d --to data/` does the same). Every day is "
            "committed as it arrives, so a download stopped by Ctrl-C, a network error, a rate "
            "limit or a killed process resumes where it stopped. Here the simulator fails the "
            "fourth request on purpose:"
        ),
        code(
            "from kfresearch.sim.faults import Fault\n\n"
            "flaky = kfresearch.Client(\"sim\", exchange=kf.sim, retry=kfresearch.client.RetryPolicy(max_attempts=1))\n"
            "kf.sim.add_fault(Fault(\"status\", path=\"/trade/PF_ETHUSD/1m\", status=503, after=3))\n"
            "try:\n"
            "    Store(data, flaky).download(\"candles\", \"PF_ETHUSD\", since=\"10d\", resolution=\"1m\")\n"
            "except kfresearch.ServerError as exc:\n"
            "    print(type(exc).__name__, \"-\", exc.__notes__[0].replace(str(data), \"data\"))\n"
            "kf.sim.faults.clear()"
        ),
        code(
            "summary = store.download(\"candles\", \"PF_ETHUSD\", since=\"10d\", resolution=\"1m\")\n"
            "print(summary)  # 3 days were kept: only the other 7 are fetched"
        ),
        code(
            "for symbol in [\"PF_XBTUSD\", \"PF_ETHUSD\", \"PF_SOLUSD\"]:\n"
            "    print(store.download(\"candles\", symbol, since=\"45d\", resolution=\"1m\"))"
        ),
        md(
            "## Gaps are reported, not hidden\n\n"
            "The simulator keeps two years of history, like a real exchange keeps a limited depth. "
            "Asking for more gives the data there is, with `attrs[\"data_start\"]` and a "
            "`DataGapWarning` (`kf.candles` does the same)."
        ),
        code(
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter(\"always\")\n"
            "    daily = store.candles(\"PF_XBTUSD\", \"1d\", since=\"3y\", tick_type=\"spot\")\n"
            "print(caught[0].message)\n"
            "print(store.last_summaries[0])\n"
            "daily.attrs[\"data_start\"]"
        ),
        md(
            "## SQL with DuckDB\n\n"
            "Each kind is a view (`candles`, `trades`, `funding_rates`, `account_log`, `fills`, "
            "`order_history`, `book`); the partition keys `symbol`, `tick_type`, `resolution` and "
            "`date` are columns. A filter on `date` reads only those days' files."
        ),
        code(
            "store.sql(\"\"\"\n"
            "    select symbol, count(*) as minutes, round(sum(volume), 2) as volume,\n"
            "           round(max(high) / min(low) - 1, 4) as range\n"
            "    from candles\n"
            "    where resolution = '1m' and date >= DATE '2026-10-25'\n"
            "    group by symbol order by symbol\n"
            "\"\"\")"
        ),
        code(
            "info = store.info()\n"
            "info[[\"kind\", \"symbol\", \"tick_type\", \"resolution\", \"start\", \"end\", \"rows\", \"files\", \"gaps\"]]"
        ),
        md(
            "## Read it with Polars (or Dask, or Spark)\n\n"
            "The directory is a plain hive-partitioned Parquet dataset. Polars reads it lazily and "
            "prunes the partitions it does not need; `dask.dataframe.read_parquet(\"data/candles\")` "
            "and `spark.read.parquet(\"data/candles\")` read it the same way."
        ),
        code(
            "import polars as pl\n\n"
            "(\n"
            "    pl.scan_parquet(data / \"candles\" / \"**\" / \"*.parquet\", hive_partitioning=True)\n"
            "    .filter((pl.col(\"resolution\") == \"1m\") & (pl.col(\"date\") >= pl.date(2026, 10, 29)))\n"
            "    .group_by(\"symbol\", \"date\")\n"
            "    .agg(pl.len().alias(\"minutes\"), pl.col(\"close\").last().alias(\"close\"))\n"
            "    .sort(\"symbol\", \"date\")\n"
            "    .collect()\n"
            ")"
        ),
        md(
            "## A damaged file is named, and repaired\n\n"
            "Every file's size and row count are in its series' manifest: a truncated file fails "
            "loudly on read, naming itself and the repair."
        ),
        code(
            "victim = sorted((data / \"candles\" / \"symbol=PF_SOLUSD\").rglob(\"*.parquet\"))[0]\n"
            "victim.write_bytes(victim.read_bytes()[:-500])\n"
            "try:\n"
            "    store.candles(\"PF_SOLUSD\", \"1m\", since=\"45d\")\n"
            "except kfresearch.CorruptFileError as exc:\n"
            "    name, why = str(exc).replace(str(data), \"data\").split(\": \", 1)\n"
            "    print(name, why.split(\"; \")[-1], sep=\"\\n\")"
        ),
        code(
            "repaired = store.repair()\n"
            "print(repaired[\"action\"].tolist())\n"
            "store.candles(\"PF_SOLUSD\", \"1m\", since=\"45d\").shape"
        ),
    ],
    "11-after-march-2027": [
        md(
            "# 11 · After March 2027: the Unified WebSocket\n\n"
            "Kraken switches off the Derivatives REST v3 API and WebSocket v1 on **2027-03-01**. What "
            "replaces them is the **Unified WebSocket** (UWS): one WebSocket for market data, the "
            "account and trading, in the Spot WebSocket v2 format. There is no UWS sandbox, so "
            "kfresearch's simulator serves it too, from the same engine as v3.\n\n"
            "`connect(..., protocol=\"uws\")` speaks UWS; `protocol=\"v3\"` the old APIs. Without the "
            "argument (or `KFRESEARCH_PROTOCOL`), the date decides: v3 before 2027-03-01, with a "
            "warning from 2027-01-01 that names the date; UWS from that day on. Everything else (the "
            "frames, charts, order tickets and the stream) is the same on both."
        ),
        code(
            "from datetime import date\n\n"
            "import kfresearch\n"
            "from kfresearch.protocols import choose\n\n"
            "for day in (date(2026, 11, 1), date(2027, 1, 15), date(2027, 3, 2)):\n"
            "    protocol, warning = choose(None, \"live\", day)\n"
            "    print(day, protocol, \"(warns)\" if warning else \"\")"
        ),
        code("kf = kfresearch.connect(\"sim\", protocol=\"uws\")\nkf.protocol"),
        md(
            "## Two kinds of key\n\n"
            "UWS signs the Spot way: a **Kraken API key** made on kraken.com (Settings > API) with the "
            "*Access WebSocket API* permission buys a short-lived token (`GetWebSocketsToken`), and the "
            "token goes with every private request. That key is not the **Derivatives** key of "
            "futures.kraken.com that v3 uses. kfresearch keeps both, each from its own variables:\n\n"
            "| protocol | key | variables |\n|---|---|---|\n"
            "| `v3` (and the History API's account calls) | Derivatives (Kraken Futures) | `KFRESEARCH_API_KEY`, `KFRESEARCH_API_SECRET` |\n"
            "| `uws` | Kraken spot-style, *Access WebSocket API* | `KFRESEARCH_UWS_API_KEY`, `KFRESEARCH_UWS_API_SECRET` |\n\n"
            "`sim` and `demo` provision both. `doctor()` says which key each protocol needs, checks "
            "each key with its own scheme, and names a key put in the other kind's variables."
        ),
        code("print(kf.doctor())"),
        md(
            "## The same frames\n\n"
            "Market data and the account come over the WebSocket, and arrive as the frames you know: "
            "same columns, dtypes and units. The v3 client on the same simulated exchange gives equal "
            "frames:"
        ),
        code(
            "v3 = kfresearch.connect(\"sim\", protocol=\"v3\")\n"
            "book = kf.orderbook(\"PF_XBTUSD\", depth=25)\n"
            "book.equals(v3.orderbook(\"PF_XBTUSD\", depth=25)), kf.instruments().equals(v3.instruments())"
        ),
        code("kf.tickers()[[\"mark_price\", \"bid\", \"ask\", \"open_interest\", \"funding_rate\"]].head(4)"),
        md(
            "## The same orders\n\n"
            "`place_order`, `edit_order`, `cancel_order`, `cancel_all`, `cancel_all_after` and "
            "`batch` map onto UWS's `add_order`, `amend_order`, `cancel_order`, `cancel_all`, "
            "`cancel_all_orders_after`, `batch_add` and `batch_cancel`, after the same validation. "
            "Every order carries a client order id, so an answer lost on the way is resolved by "
            "looking the order up, never by sending it twice."
        ),
        code(
            "order = kf.place_order(\"PF_XBTUSD\", \"buy\", 0.01, limit_price=round(book.attrs[\"mid\"] * 0.9),\n"
            "                       client_order_id=\"nb11-bid\")\n"
            "order"
        ),
        code(
            "kf.edit_order(order.order_id, limit_price=round(book.attrs[\"mid\"] * 0.91))\n"
            "kf.open_orders()[[\"symbol\", \"side\", \"limit_price\", \"unfilled_size\", \"cli_ord_id\"]]"
        ),
        code("kf.cancel_all_after(60)   # the dead man's switch"),
        code("kf.cancel_all(), kf.open_orders().empty"),
        md(
            "## What changes: history\n\n"
            "UWS has no paged history: no candle history, no trade history beyond the last 50, no "
            "account log. kfresearch keeps reading those from the **Charts** and **History** APIs, which "
            "Kraken's notice does not name, but whose future it does not state either; the first use "
            "says so (a `SunsetWarning`). Keep what you need in the history store "
            "(notebook 10): `kfresearch download` now, `kfresearch record SYMBOL` for the live tape."
        ),
        code(
            "import warnings\n\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter(\"always\")\n"
            "    candles = kf.candles(\"PF_XBTUSD\", \"1h\", since=\"1d\")\n"
            "print(caught[0].category.__name__, caught[0].message, sep=\": \")\n"
            "candles.tail(3)"
        ),
        md(
            "Calls UWS cannot serve at all (leverage and PnL preferences, notifications, fee "
            "schedules) say so and what to use instead:"
        ),
        code(
            "try:\n"
            "    kf.leverage()\n"
            "except kfresearch.UnsupportedCallError as exc:\n"
            "    print(exc)"
        ),
        md(
            "## The same stream, with checksummed books\n\n"
            "`kf.stream()` on UWS gives the books, tables and callbacks of notebook 08. Each book "
            "message carries a CRC32 of the top ten levels, computed from the exact digits on the "
            "wire; the stream checks every one. A mismatch fetches a fresh snapshot and is counted; "
            "after five in a row for one symbol the stream stops that book and says so, rather than "
            "show a wrong one."
        ),
        code(
            "s = kf.stream()\n"
            "await s.subscribe(\"book\", [\"PF_XBTUSD\"])\n"
            "for _ in range(5):\n"
            "    kf.sim.advance(1_000)\n"
            "    await s.sync()\n"
            "live = s.book(\"PF_XBTUSD\")\n"
            "live.frame().equals(kf.orderbook(\"PF_XBTUSD\", depth=25))"
        ),
        code(
            "stats = s.stats()\n"
            "{k: stats[k] for k in (\"book_snapshots\", \"book_deltas\", \"checksum_mismatches\", \"resyncs\")}"
        ),
        code("await s.close()\nv3.close()\nkf.close()"),
    ],
}

SOURCES.update(API_SOURCES)  # 12-16 teach the API itself (tools/api_notebooks.py)


def build(name: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = SOURCES[name]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    os.environ.update(ENV)
    if name == "09-paper-trading":  # demo's "live exchange": a served simulator (conftest.py)
        sys.path.insert(0, str(ROOT / "tools"))
        from demo_upstream import served_upstream

        with served_upstream() as upstream:
            os.environ.update(upstream)
            _execute(name, notebook)
        return
    _execute(name, notebook)


def _execute(name: str, notebook: nbformat.NotebookNode) -> None:
    # widget state would store random model ids and every trait; widgets need a live kernel anyway
    NotebookClient(notebook, timeout=120, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{name[:2]}-{index:02d}"  # stable ids keep diffs small
        cell.get("metadata", {}).pop("execution", None)
    nbformat.write(notebook, NOTEBOOKS / f"{name}.ipynb")
    print(f"wrote notebooks/{name}.ipynb")


if __name__ == "__main__":
    for name in sys.argv[1:] or list(SOURCES):
        build(name)
