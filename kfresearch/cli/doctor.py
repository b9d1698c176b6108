"""``kfresearch doctor``: check the environment, clock and credentials."""

from __future__ import annotations

import argparse

from kfresearch.cli._common import Subcommands, add_connection_options

__all__ = ["register"]


def register(commands: Subcommands) -> None:
    """Add ``doctor`` to ``commands``."""
    doctor = commands.add_parser("doctor", help="check the environment, clock and credentials")
    add_connection_options(doctor)
    doctor.set_defaults(run=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    from kfresearch.client import Client

    report = Client(args.env, base_url=args.base_url, protocol=args.protocol).doctor()
    print(report)
    return 0 if report.ok else 1
