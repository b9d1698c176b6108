"""Liquidation: margin pools whose equity fell below maintenance are closed at the mark.

A margin pool is a wallet's cross-margined positions, or one isolated
position (a multi-collateral contract with a leverage preference, reference
§4.21). At each step of time every pool is checked; an underwater pool has
its orders cancelled and its positions closed whole at the mark price by
``liquidation`` orders (the liquidation fee is the taker rate, none for
inverse contracts). Full checks are skipped while the mark stays inside a
"safe band" computed for a one-position pool (see
:meth:`Liquidator._remember_safe_band`); an account whose every pool has a
band, and whose balances, positions and leverage have not changed within the
hour, costs one mark read per pool and no allocation a step
(:class:`_Quiet`).
"""

from __future__ import annotations

import math
from typing import Any

from kfresearch.sim import margin
from kfresearch.sim.accounts import Account
from kfresearch.sim.ledger import Ledger
from kfresearch.sim.margin import HOUR_MS, Exposure
from kfresearch.sim.matching import Matcher
from kfresearch.sim.orders import Order
from kfresearch.sim.prices import Prices
from kfresearch.sim.source import CASH
from kfresearch.sim.valuation import Valuation

__all__ = ["SAFE_BAND", "Liquidator", "Pool"]

Pool = tuple[str, str | None]
"""A margin pool: (wallet, the isolated contract, or None for the wallet's cross margin)."""

SAFE_BAND = 0.05  # liquidation is re-checked in full only when the mark leaves +-5 %


class _Quiet:
    """An account whose every margin pool was inside its safe band, as it then stood.

    While the hour, the wallets, the positions' sizes and entries and the
    leverage preferences are the same, every pool's band key is the same
    too (the key reads a subset of these), so the account is safe while each
    band's symbol marks inside ``(low, high)``: what the per-pool check
    would decide, without building its keys.
    """

    __slots__ = ("bands", "hour", "leverage", "positions", "wallets")

    def __init__(self, acc: Account, hour: int, bands: list[tuple[str, float, float]]) -> None:
        self.hour = hour
        self.wallets = {name: dict(balances) for name, balances in acc.wallets.items()}
        self.leverage = dict(acc.leverage)
        self.positions = [(p.symbol, p.size, p.entry) for p in acc.positions.values()]
        self.bands = bands

    def holds(self, acc: Account, hour: int) -> bool:
        """Whether ``acc`` is as it was when this was made (and the hour the same)."""
        if hour != self.hour or len(acc.positions) != len(self.positions):
            return False
        for symbol, size, entry in self.positions:
            position = acc.positions.get(symbol)
            if position is None or position.size != size or position.entry != entry:
                return False
        return acc.leverage == self.leverage and acc.wallets == self.wallets


class Liquidator:
    """Finds underwater margin pools and closes them (see the module docstring)."""

    def __init__(self, prices: Prices, ledger: Ledger, valuation: Valuation, matcher: Matcher):
        self.prices = prices
        self.ledger = ledger
        self.valuation = valuation
        self.matcher = matcher
        # (account, wallet, isolated symbol) -> (band key, low mark, high mark):
        # see _remember_safe_band.
        self._safe_bands: dict[
            tuple[str, str, str | None], tuple[tuple[Any, ...], float, float]
        ] = {}
        self._quiet: dict[str, _Quiet] = {}  # account id -> its bands, see _Quiet

    def liquidate_underwater(self, t: int) -> None:
        """Close the positions of every margin pool whose equity fell below its maintenance."""
        hour = t // HOUR_MS
        for acc in self.ledger.accounts.values():
            if not acc.positions:
                continue  # no pool
            quiet = self._quiet.get(acc.account_id)
            if quiet is not None and quiet.holds(acc, hour):
                for symbol, low, high in quiet.bands:
                    if not low <= self.prices.mark(symbol, t) <= high:
                        break
                else:
                    continue
            self._check_pools(acc, t)

    def quiet_bands(self, acc: Account, hour: int) -> list[tuple[str, float, float]] | None:
        """The account's bands ``(symbol, low mark, high mark)`` if it is quiet in ``hour``.

        While each band's symbol marks inside it, a step of the hour (numbered
        ``t // HOUR_MS``) that changes nothing else leaves the account alone
        (:meth:`liquidate_underwater` skips it); None when its pools were not
        all banded at the last check, or it changed since.
        """
        quiet = self._quiet.get(acc.account_id)
        return quiet.bands if quiet is not None and quiet.holds(acc, hour) else None

    def _check_pools(self, acc: Account, t: int) -> None:
        """Check every pool of ``acc`` (its band, else in full); note it if all are banded."""
        self._quiet.pop(acc.account_id, None)
        bands: list[tuple[str, float, float]] | None = []
        for pool, symbols in self._pools(acc):
            # a pool liquidated before this one closed only its own positions; kept as a guard
            held = [s for s in symbols if s in acc.positions]
            if not held:
                continue
            key = self._band_key(acc, pool, held, t)
            if not self._inside_safe_band(acc, pool, key, t):
                equity, maintenance = self._equity_and_maintenance(acc, pool, t)
                if equity < maintenance:
                    self._liquidate(acc, held, t)
                    bands = None
                    continue
                self._remember_safe_band(acc, pool, key, equity, t)
            band = self._safe_bands.get((acc.account_id, *pool))
            if band is None:
                bands = None  # this pool is checked in full at every step
            elif bands is not None:
                bands.append((band[0][1], band[1], band[2]))
        if bands is not None:
            self._quiet[acc.account_id] = _Quiet(acc, t // HOUR_MS, bands)

    def _is_isolated(self, acc: Account, symbol: str) -> bool:
        """Margined alone: a multi-collateral contract with a leverage preference (§4.21)."""
        return symbol in acc.leverage and not self.prices.known_spec(symbol).is_inverse

    def _pools(self, acc: Account) -> list[tuple[Pool, list[str]]]:
        """Every margin pool of ``acc`` with the symbols it holds (sorted), in pool order.

        >>> liquidator._pools(acc)                             # doctest: +SKIP
        [(('flex', None), ['PF_ETHUSD', 'PF_XBTUSD'])]
        """
        held: dict[Pool, list[str]] = {}
        for symbol in sorted(acc.positions):
            wallet = self.prices.known_spec(symbol).margin_account
            isolated = symbol if self._is_isolated(acc, symbol) else None
            held.setdefault((wallet, isolated), []).append(symbol)
        return sorted(held.items(), key=lambda item: (item[0][0], item[0][1] or ""))

    def _band_key(
        self, acc: Account, pool: Pool, held: list[str], t: int
    ) -> tuple[Any, ...] | None:
        """What a safe band depends on; None when the pool holds more than one position, or
        is the flex wallet's cross pool with coins among its collateral.

        ``held`` is the pool's symbols (see :meth:`_pools`).
        """
        if len(held) != 1:
            return None
        wallet = pool[0]
        if wallet == "flex" and pool[1] is None and any(
            amount and currency not in CASH
            for currency, amount in acc.wallets.get(wallet, {}).items()
        ):
            # the cross pool's equity is its collateral at USD prices: with a coin among
            # it, equity moves with the coin's price too, which no band of the mark covers
            return None
        # the cross pool's equity also depends on the isolated positions' allocated margin
        positions = tuple(
            (p.symbol, p.size, p.entry, acc.leverage.get(p.symbol))
            for p in sorted(acc.positions.values(), key=lambda p: p.symbol)
            if self.prices.known_spec(p.symbol).margin_account == wallet
        )
        balances = tuple(sorted(acc.wallets.get(wallet, {}).items()))
        return (t // HOUR_MS, held[0], positions, balances)

    def _inside_safe_band(
        self, acc: Account, pool: Pool, key: tuple[Any, ...] | None, t: int
    ) -> bool:
        """Whether the pool's band (kept for ``key``, its :meth:`_band_key` now) holds the mark."""
        band = self._safe_bands.get((acc.account_id, *pool))
        if band is None or key is None or band[0] != key:
            return False
        symbol = band[0][1]
        return band[1] <= self.prices.mark(symbol, t) <= band[2]

    def _remember_safe_band(
        self, acc: Account, pool: Pool, key: tuple[Any, ...] | None, equity: float, t: int
    ) -> None:
        """Mark prices around the current one where this one-position pool cannot be liquidated.

        For a single position, equity minus maintenance margin is monotonic in
        the mark (linear: slope ``s(1 - rate)``; inverse: ``-(s + c)/P``), so
        checking both ends of the band checks all of it. A whole hour's
        funding is held back because the band lives until the hour ends (or
        until the wallet changes, which changes the key). ``key`` and ``equity``
        are the pool's band key and equity at ``t``, as just computed.
        """
        if key is None:
            self._safe_bands.pop((acc.account_id, *pool), None)
            return
        position = acc.positions[key[1]]
        spec = self.prices.known_spec(position.symbol)
        mark = self.prices.mark(spec.symbol, t)
        funding = (
            abs(position.size * self.prices.funding_rate(spec.symbol, (t // HOUR_MS) * HOUR_MS))
            if spec.is_perpetual
            else 0.0
        )
        base = equity - margin.unrealized_pnl(spec, position.size, position.entry, mark)
        low, high = mark * (1 - SAFE_BAND), mark * (1 + SAFE_BAND)
        size = position.size
        for edge in (low, high):
            # margin.position_risk's pnl and maintenance margin, without its initial margins
            pnl = margin.unrealized_pnl(spec, size, position.entry, edge) if size else 0.0
            if base + pnl - funding <= margin.margin_requirement(spec, size, edge, initial=False):
                self._safe_bands.pop((acc.account_id, *pool), None)
                return
        self._safe_bands[(acc.account_id, *pool)] = (key, low, high)

    def _equity_and_maintenance(self, acc: Account, pool: Pool, t: int) -> tuple[float, float]:
        """Equity and maintenance margin of a margin pool, in the wallet's currency.

        Isolated position (multi-collateral, with a leverage preference): its
        allocated margin, ``|size| x entry / max_leverage`` USD (the initial
        margin it was opened with), plus its unrealised PnL and funding. Its
        loss is capped by what was allocated: it is liquidated alone.
        The flex wallet's cross pool: the wallet's margin equity less what the
        isolated positions hold (their allocated margin and PnL). A
        single-collateral wallet: its portfolio value. Reference §4.21 says
        only that a leverage preference makes a contract isolated; how the
        exchange sizes the allocated margin is not documented.
        """
        wallet, isolated = pool
        equity, maintenance, exposures = self.valuation.pool_margin(acc, wallet, t)
        if wallet != "flex":
            return equity, maintenance
        alone = [r for r in exposures if r.size and self._is_isolated(acc, r.spec.symbol)]
        if isolated is not None:
            risk = next(r for r in alone if r.spec.symbol == isolated)
            return self._isolated_equity(acc, risk), risk.maintenance_margin
        held = math.fsum(self._isolated_equity(acc, r) for r in alone)
        maintenance -= math.fsum(r.maintenance_margin for r in alone)
        return equity - held, maintenance

    @staticmethod
    def _isolated_equity(acc: Account, risk: Exposure) -> float:
        position = acc.positions[risk.spec.symbol]
        allocated = abs(position.size) * risk.spec.contract_size * position.entry
        allocated /= acc.leverage[risk.spec.symbol]
        return allocated + risk.pnl + risk.unrealized_funding

    def _liquidate(self, acc: Account, symbols: list[str], t: int) -> None:
        """Cancel the orders of a pool's ``symbols`` and close their positions at the mark."""
        for order in [o for o in acc.open_orders.values() if o.symbol in symbols]:
            # Not from the reference: the update reason of orders cancelled by a liquidation.
            self.matcher.close(acc, order, t, "cancelled", "NOT_ENOUGH_MARGIN")
        for symbol in symbols:
            spec, position = self.prices.known_spec(symbol), acc.positions[symbol]
            seq = self.ledger.next_order_seq()
            order = Order(
                order_id=self.ledger.new_uid(),
                account_id=acc.account_id,
                symbol=symbol,
                side="sell" if position.size > 0 else "buy",
                order_type="liquidation",
                quantity=abs(position.size),
                limit_price=self.prices.mark(symbol, t),
                stop_price=None,
                trigger_signal=None,
                reduce_only=True,
                cli_ord_id=None,
                received_ms=t,
                seq=seq,
                updated_ms=t,
                update_reason="LIQUIDATION_ORDER",
            )
            self.ledger.put_order(acc, order)
            self.ledger.book_order(acc, order)
            price = order.limit_price or 0.0
            self.matcher.fill(acc, order, spec, order.quantity, price, t, "liquidation")
