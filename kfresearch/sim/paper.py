"""Named paper accounts of the ``demo`` environment, and where they are kept on disk.

Each named account is one SQLite file (:class:`~kfresearch.sim.sqlite_ledger.SqliteLedger`)
under the user's data directory, ``<data dir>/paper/<name>.sqlite``:

* the data directory is ``KFRESEARCH_DATA_DIR`` when set (tests, CI and the
  notebooks under nbval point it at a temporary directory), else
  ``platformdirs.user_data_dir("kfresearch")`` (``~/.local/share/kfresearch``
  on Linux, ``~/Library/Application Support/kfresearch`` on macOS,
  ``%LOCALAPPDATA%\\kfresearch`` on Windows);
* a name is 1-64 letters, digits, ``-``, ``_`` or ``.`` (``"carry-study"``);
  the account used when none is named is ``"default"``.

Example
-------
>>> import os, tempfile
>>> os.environ["KFRESEARCH_DATA_DIR"] = tempfile.mkdtemp()
>>> account = PaperAccount.open("carry-study", balance=25_000)
>>> account
PaperAccount('carry-study', starting balance 25,000 USD)
>>> account.path.name
'carry-study.sqlite'
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from kfresearch.errors import ValidationError
from kfresearch.sim.sqlite_ledger import SqliteLedger

__all__ = ["DATA_DIR_VAR", "DEFAULT_ACCOUNT", "PaperAccount", "account_path", "data_dir"]

#: Environment variable naming the directory paper accounts are kept in.
DATA_DIR_VAR = "KFRESEARCH_DATA_DIR"
#: The paper account ``connect("demo")`` uses when no ``account=`` is given.
DEFAULT_ACCOUNT = "default"
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def data_dir() -> Path:
    """Where kfresearch keeps its data: ``KFRESEARCH_DATA_DIR``, else the user's data directory."""
    chosen = os.environ.get(DATA_DIR_VAR)
    if chosen:
        return Path(chosen).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("kfresearch", appauthor=False))


def account_path(name: str) -> Path:
    """The SQLite file of the paper account ``name``.

    Raises
    ------
    ValidationError
        For a name that is not 1-64 letters, digits, ``-``, ``_`` or ``.``.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.startswith("."):
        raise ValidationError(
            "account",
            name,
            f"paper account name {name!r} must be 1-64 letters, digits, '-', '_' or '.' "
            "(not starting with '.'), e.g. account='carry-study'",
        )
    return data_dir() / "paper" / f"{name}.sqlite"


class PaperAccount:
    """One named paper account: its file, its ledger, and :meth:`reset`.

    ``kf.paper`` on a ``demo`` client is the account that client trades.
    """

    def __init__(self, name: str, ledger: SqliteLedger) -> None:
        self.name = name
        self.ledger = ledger

    @classmethod
    def open(cls, name: str = DEFAULT_ACCOUNT, *, balance: float | None = None) -> PaperAccount:
        """Open (or create) the account ``name``; ``balance``: USD a new account starts with.

        An existing account keeps its own starting balance; use
        :meth:`reset` to start it again with another.
        """
        if balance is not None and not balance > 0:
            raise ValidationError(
                "balance", balance, f"balance must be a positive USD amount, not {balance!r}"
            )
        return cls(name, SqliteLedger(account_path(name), balance=balance))

    @property
    def path(self) -> Path:
        """The account's SQLite file."""
        return self.ledger.path

    @property
    def starting_balance(self) -> float:
        """USD in the flex wallet when the account was opened (or last reset)."""
        return self.ledger.balance

    def reset(self, balance: float | None = None) -> None:
        """Start the account again, empty, with ``balance`` USD (default: as before).

        No orders, positions, fills or account log are kept.

        Every process using the account sees the reset at its next request.
        Order ids stay unique: new orders never reuse an id of the old ones.
        """
        if balance is not None and not balance > 0:
            raise ValidationError(
                "balance", balance, f"balance must be a positive USD amount, not {balance!r}"
            )
        self.ledger.reset(balance)

    def __repr__(self) -> str:
        return f"PaperAccount({self.name!r}, starting balance {self.starting_balance:,.0f} USD)"
