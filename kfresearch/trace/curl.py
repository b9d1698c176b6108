"""A traced request as a curl command that a learner can run, with the secret left in a
shell variable.

A signed request cannot be replayed as it was: its nonce was used. So the
command signs again in the shell, with a fresh nonce, following the
exchange's five steps (reference §2.2) with ``openssl``: SHA-256 of
``postData + nonce + endpointPath``, HMAC-SHA-512 keyed with the
base64-decoded secret, base64. The key and the secret are read from
``$KFRESEARCH_API_KEY`` and ``$KFRESEARCH_API_SECRET``; neither is ever
written into the command.

Example (public requests need no signature)::

    >>> print(trace[0].curl())                                       # doctest: +SKIP
    curl -X GET 'https://futures.kraken.com/derivatives/api/v3/tickers'
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from kfresearch.auth import signed_path

if TYPE_CHECKING:
    from kfresearch.trace.records import HttpRecord

__all__ = ["curl"]

_CONTENT_TYPE = "application/x-www-form-urlencoded"


def curl(
    record: HttpRecord,
    *,
    key_var: str = "KFRESEARCH_API_KEY",
    secret_var: str = "KFRESEARCH_API_SECRET",  # noqa: S107 - a variable name
) -> str:
    """The shell commands that send ``record``'s request again (signed afresh if it was signed).

    Parameters
    ----------
    record : HttpRecord
        A traced request.
    key_var, secret_var : str
        The shell variables that hold the key pair.

    Returns
    -------
    str
        One ``curl`` command for a public request; for a signed one, the
        lines that compute ``NONCE`` and ``AUTHENT`` first (bash, GNU
        ``date`` and ``openssl``; on macOS replace the ``date`` call by
        ``python3 -c 'import time; print(time.time_ns() // 1000)'``).
    """
    lines: list[str] = []
    command = ["curl", "-X", record.method, shlex.quote(record.url)]
    if record.signed:
        lines.append(
            f"# {record.method} {record.path}, signed here with ${secret_var} "
            f"(set {key_var} and {secret_var} first)"
        )
        if record.header("Nonce") is not None:
            lines.append(
                "NONCE=$(date +%s%6N)  # epoch microseconds: above every nonce this key has sent"
            )
        else:
            lines.append("NONCE=''  # the traced request sent no Nonce header")
        lines += [
            f"POST_DATA={shlex.quote(record.post_data)}",
            f"ENDPOINT_PATH={shlex.quote(signed_path(record.path))}",
            f'KEY_HEX=$(printf %s "${secret_var}" | openssl base64 -d -A '
            "| od -An -v -tx1 | tr -d ' \\n')",
            'AUTHENT=$(printf %s "$POST_DATA$NONCE$ENDPOINT_PATH" '
            "| openssl dgst -sha256 -binary \\\n"
            '  | openssl dgst -sha512 -mac HMAC -macopt "hexkey:$KEY_HEX" -binary '
            "| openssl base64 -A)",
        ]
        command += ["-H", f'"APIKey: ${key_var}"']
        if record.header("Nonce") is not None:
            command += ["-H", '"Nonce: $NONCE"']
        command += ["-H", '"Authent: $AUTHENT"']
    if record.request_body:
        content_type = record.header("Content-Type") or _CONTENT_TYPE
        command += ["-H", shlex.quote(f"Content-Type: {content_type}")]
        command += ["--data-raw", shlex.quote(record.request_body)]
    lines.append(" \\\n  ".join(_wrap(command)))
    return "\n".join(lines)


def _wrap(words: list[str]) -> list[str]:
    """The command's words grouped so each option sits on its own line with its value."""
    groups: list[str] = [" ".join(words[:4])]
    rest = words[4:]
    for option, value in zip(rest[::2], rest[1::2], strict=True):
        groups.append(f"{option} {value}")
    return groups
