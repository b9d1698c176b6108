"""Accounts valued at a time: positions at the mark, wallets' margin, fee tiers.

:class:`Valuation` turns an account's records and the market's prices into
the margin figures of :mod:`kfresearch.sim.margin`: each position's risk,
the multi-collateral wallet's summary, a single-collateral wallet's summary,
whether a wallet can carry one more order, and the account's fee tier.
Amounts are in the wallet's currency (USD for ``flex``, the coin for
``fi_*``), prices USD, times epoch milliseconds.

"One more order" (``extra``) is counted as if it were on the book, in place
of a booked order with the same id: a new order, a trigger being activated,
or an open order as an edit would leave it.
"""

from __future__ import annotations

from kfresearch.sim import margin
from kfresearch.sim.accounts import Account, Fill
from kfresearch.sim.feewindow import FeeWindow
from kfresearch.sim.instruments import FEE_TIERS, InstrumentSpec
from kfresearch.sim.margin import HOUR_MS, Exposure, FlexSummary, PositionRisk, WalletSummary
from kfresearch.sim.orders import Order
from kfresearch.sim.prices import Prices

__all__ = ["FEE_WINDOW_MS", "HAIRCUTS", "Valuation"]

FEE_WINDOW_MS = 30 * 24 * HOUR_MS  # fee tiers follow the 30-day traded volume (reference §4.22)
# Collateral haircuts of the flex wallet (reference §7.4 example: about 2 % on XBT).
HAIRCUTS = {"USD": 0.0, "USDC": 0.0, "USDT": 0.0, "XBT": 0.02, "ETH": 0.02}


class Valuation:
    """Margin and fees of accounts at the market's prices (see the module docstring)."""

    def __init__(self, prices: Prices) -> None:
        self.prices = prices
        self._windows: dict[str, FeeWindow] = {}  # account id -> its fills' fee window

    def symbol_risk(
        self, acc: Account, spec: InstrumentSpec, now: int, extra: Order | None
    ) -> PositionRisk:
        """The position in ``spec`` and its open orders (plus ``extra``) valued at the mark."""
        position = acc.positions.get(spec.symbol)
        open_buys, open_sells = acc.book.open_sizes(spec.symbol, extra)
        leverage = acc.leverage.get(spec.symbol)
        return margin.position_risk(
            spec,
            position.size if position else 0.0,
            position.entry if position else 0.0,
            self.prices.mark(spec.symbol, now),
            position.unrealized_funding if position else 0.0,
            open_buys=open_buys,
            open_sells=open_sells,
            max_leverage=leverage if not spec.is_inverse else None,
        )

    def _wallet_risks(
        self, acc: Account, wallet: str, now: int, extra: Order | None
    ) -> list[PositionRisk]:
        symbols = acc.active_symbols() | ({extra.symbol} if extra is not None else set())
        specs = [self.prices.known_spec(s) for s in sorted(symbols)]
        return [
            self.symbol_risk(acc, spec, now, extra)
            for spec in specs
            if spec.margin_account == wallet
        ]

    def flex_summary(self, acc: Account, now_ms: int, *, extra: Order | None = None) -> FlexSummary:
        """The multi-collateral wallet valued at ``now_ms`` (``extra``: count one more order)."""
        balances = acc.wallets.get("flex", {})
        values = self._usd_values(balances, now_ms)
        return margin.flex_summary(
            balances, values, HAIRCUTS, self._wallet_risks(acc, "flex", now_ms, extra)
        )

    def exposures(self, acc: Account, wallet: str, now_ms: int) -> list[Exposure]:
        """The wallet's positions and open orders' symbols (sorted) at the mark, without
        initial margins: :meth:`flex_summary`'s or :meth:`wallet_summary`'s ``risks``
        cut to what liquidation reads (:class:`~kfresearch.sim.margin.Exposure`, the
        same numbers; a symbol with orders only has a zero size)."""
        symbols = acc.active_symbols()
        specs = [self.prices.known_spec(s) for s in sorted(symbols)]
        found: list[Exposure] = []
        for spec in specs:
            if spec.margin_account != wallet:
                continue
            position = acc.positions.get(spec.symbol)
            mark = self.prices.mark(spec.symbol, now_ms)
            if position is None:
                found.append(margin.position_exposure(spec, 0.0, 0.0, mark, 0.0))
            else:
                found.append(
                    margin.position_exposure(
                        spec, position.size, position.entry, mark, position.unrealized_funding
                    )
                )
        return found

    def pool_margin(
        self, acc: Account, wallet: str, now_ms: int
    ) -> tuple[float, float, list[Exposure]]:
        """A margin wallet's (equity, maintenance margin, :meth:`exposures`) at ``now_ms``:
        the flex wallet's margin equity (USD), a single-collateral wallet's portfolio value
        (its coin). The same floats as :meth:`flex_summary` / :meth:`wallet_summary`.

        >>> valuation.pool_margin(acc, "flex", now_ms)[:2]          # doctest: +SKIP
        (100012.5, 181.7)
        """
        balances = acc.wallets.get(wallet, {})
        if wallet == "flex":
            values = self._usd_values(balances, now_ms)
            exposures = self.exposures(acc, wallet, now_ms)
            equity, maintenance = margin.flex_margin(balances, values, HAIRCUTS, exposures)
        else:
            currency = next(iter(balances), wallet[3:6].upper())
            exposures = self.exposures(acc, wallet, now_ms)
            equity, maintenance = margin.wallet_margin(balances.get(currency, 0.0), exposures)
        return equity, maintenance, exposures

    def _usd_values(self, balances: dict[str, float], now_ms: int) -> dict[str, float]:
        return {
            code: 1.0 if code == "USD" else self.prices.usd_value(code, now_ms)
            for code in balances
        }

    def wallet_summary(
        self, acc: Account, wallet: str, now_ms: int, *, extra: Order | None = None
    ) -> WalletSummary:
        """A single-collateral wallet (``fi_xbtusd`` …) valued at ``now_ms`` in its coin."""
        balances = acc.wallets.get(wallet, {})
        currency = next(iter(balances), wallet[3:6].upper())
        return margin.wallet_summary(
            currency, balances.get(currency, 0.0), self._wallet_risks(acc, wallet, now_ms, extra)
        )

    def position_risks(self, acc: Account, now_ms: int) -> list[PositionRisk]:
        """Every open position valued at ``now_ms``, newest fill first."""
        ordered = sorted(acc.positions.values(), key=lambda p: (-p.fill_time_ms, p.symbol))
        return [
            self.symbol_risk(acc, self.prices.known_spec(p.symbol), now_ms, None) for p in ordered
        ]

    def wallet_need(
        self, acc: Account, wallet: str, now: int, extra: Order | None
    ) -> tuple[float, float]:
        """(margin equity, initial margin with orders) of a wallet, maybe with one more order."""
        if wallet == "flex":
            flex = self.flex_summary(acc, now, extra=extra)
            return flex.margin_equity, flex.initial_margin_with_orders
        single = self.wallet_summary(acc, wallet, now, extra=extra)
        return single.portfolio_value, single.initial_margin_with_orders

    def margin_allows(
        self, acc: Account, spec: InstrumentSpec, now: int, extra: Order | None
    ) -> bool:
        """Whether the wallet can carry ``extra`` (or the order reduces the requirement)."""
        after_equity, after_im = self.wallet_need(acc, spec.margin_account, now, extra)
        if after_im <= after_equity:
            return True  # the usual answer: the wallet without the order is not needed
        _, before_im = self.wallet_need(acc, spec.margin_account, now, None)
        return after_im <= before_im

    def margin_kept(self, acc: Account, wallet: str, now_ms: int) -> bool:
        """Whether a margin wallet still covers its initial margin (cash has none)."""
        if wallet == "cash":
            return True
        equity, need = self.wallet_need(acc, wallet, now_ms, None)
        return need <= equity

    def volumes(self, acc: Account, end_ms: int) -> dict[str, float]:
        """USD notional traded per fee schedule in the 30 days before ``end_ms`` (excluded),
        schedules in the order of their latest fill (newest first)."""
        window = self._windows.get(acc.account_id)
        if window is None or window.fills is not acc.fills:  # new, or read back from disk
            window = self._windows[acc.account_id] = FeeWindow(
                acc.fills, FEE_WINDOW_MS, self._fill_notional
            )
        return window.volumes(end_ms)

    def _fill_notional(self, fill: Fill) -> tuple[str, float]:
        spec = self.prices.known_spec(fill.symbol)
        return spec.fee_schedule_uid, margin.notional_usd(spec, fill.quantity, fill.price)

    def fee_tier(self, acc: Account, schedule_uid: str, now_ms: int) -> margin.FeeTier:
        """The account's fee tier at ``now_ms``: its 30-day volume on the schedule before
        ``now_ms``, so every fill of one instant (a market order walking the book) pays
        the same rates."""
        volume = self.volumes(acc, now_ms).get(schedule_uid, 0.0)
        return margin.fee_tier(volume, FEE_TIERS)
