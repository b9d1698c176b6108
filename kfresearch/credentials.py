"""API credentials: where they come from, and a secret that never prints.

Two kinds of key pair (reference kraken-unified-ws.md §1.3): a **Derivatives**
key (Kraken Futures, for the v3 REST API, the WebSocket v1 and the History
API) and a **Kraken spot-style** key (kraken.com, "Access WebSocket API"
permission) for the Unified WebSocket's token. Each comes from its own
place, in this order (design.md): explicit arguments > environment
variables > a ``.env`` file in the working directory:

==============  ====================  ==============================================
kind            arguments             variables
==============  ====================  ==============================================
derivatives     ``key``, ``secret``   ``KFRESEARCH_API_KEY``, ``KFRESEARCH_API_SECRET``
spot            ``uws_key``,          ``KFRESEARCH_UWS_API_KEY``,
                ``uws_secret``        ``KFRESEARCH_UWS_API_SECRET``
==============  ====================  ==============================================

The ``sim`` and ``demo`` environments provision their own local key pairs of
both kinds, so they need none of these.

Secrets may be given as ``str`` or as ``bytes`` of ASCII text; anything else
is refused with a :class:`~kfresearch.errors.CredentialsError` that names the
type, never the value. The public key prints shortened (``'my-k…'``) even in
``pprint(vars(creds))``; ``str(creds.key)`` gives it whole.

Example
-------
>>> creds = Credentials("my-key", Secret(b"c2VjcmV0"))
>>> creds
Credentials(key='my-k…', secret=Secret('********'))
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values

from kfresearch.errors import CredentialsError

__all__ = [
    "KINDS",
    "ApiKey",
    "Credentials",
    "KeyKind",
    "Secret",
    "as_secret",
    "load_credentials",
    "mask",
]

KEY_VAR = "KFRESEARCH_API_KEY"
SECRET_VAR = "KFRESEARCH_API_SECRET"  # noqa: S105 - a variable name, not a secret
UWS_KEY_VAR = "KFRESEARCH_UWS_API_KEY"
UWS_SECRET_VAR = "KFRESEARCH_UWS_API_SECRET"  # noqa: S105 - a variable name, not a secret

KeyKind = Literal["derivatives", "spot"]


@dataclass(frozen=True)
class _Source:
    """Where one kind of key pair is looked for: its arguments and variables."""

    label: str
    key_arg: str
    secret_arg: str
    key_var: str
    secret_var: str


#: Each kind of key pair, and where it comes from.
KINDS: dict[str, _Source] = {
    "derivatives": _Source("Derivatives (Kraken Futures)", "key", "secret", KEY_VAR, SECRET_VAR),
    "spot": _Source("Kraken (spot-style, for the Unified WebSocket)", "uws_key", "uws_secret",
                    UWS_KEY_VAR, UWS_SECRET_VAR),
}


def mask(value: str | None) -> str:
    """A public key shortened for display: the first 4 characters and an ellipsis."""
    if not value:
        return "<none>"
    return value[:4] + "…"


class ApiKey(str):
    """A public API key: a ``str`` whose repr is shortened (``'my-k…'``), so that
    ``pprint``, reprs of containers and verbose tracebacks do not print it whole."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(mask(str(self)))


class Secret:
    """An API secret whose repr, str and format are always masked.

    Held in this type so that reprs, logs and verbose tracebacks (which print
    every local variable) never show it. Only :meth:`reveal` and
    :meth:`key_bytes` give the value, for signing.

    ``value`` is ``str`` or ``bytes`` of ASCII text. Any other value is kept
    as a problem, not raised here: the error comes from :meth:`reveal` or
    :meth:`key_bytes`, from frames that hold only this masked object, so a
    traceback with locals never shows the raw value.
    """

    __slots__ = ("_problem", "_value")

    def __init__(self, value: str | bytes) -> None:
        self._problem = ""
        if isinstance(value, bytes | bytearray):
            try:
                value = bytes(value).decode("ascii")
            except UnicodeDecodeError:
                value, self._problem = "", "bytes that are not ASCII text"
        if not isinstance(value, str):
            value, self._problem = "", f"a value of type {type(value).__name__}"
        self._value = value.strip()

    def _check(self) -> None:
        if self._problem:
            raise CredentialsError(
                f"the API secret must be base64 text (a str, or bytes of ASCII text); got "
                f"{self._problem}. Copy it again from the API keys page."
            )

    def reveal(self) -> str:
        """The secret text. Use only to sign.

        Raises
        ------
        CredentialsError
            The secret was given as something other than text.
        """
        self._check()
        return self._value

    def key_bytes(self) -> bytes:
        """The base64-decoded secret: the HMAC key (reference §2.2).

        Raises
        ------
        CredentialsError
            When the secret is not valid base64.
        """
        self._check()
        try:
            return base64.b64decode(self._value, validate=True)
        except (binascii.Error, ValueError):
            raise CredentialsError(
                "the API secret is not valid base64. Kraken Futures secrets are base64 "
                "text (about 88 characters ending in '='); copy it again from the API "
                "keys page, without spaces or quotes."
            ) from None

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Secret)
            and other._value == self._value
            and other._problem == self._problem
        )

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the secret in clear; refuse rather than leak.
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True, repr=False)
class Credentials:
    """A key pair. ``key`` is the public key, ``secret`` a :class:`Secret`, ``kind``
    ``"derivatives"`` (Kraken Futures, v3) or ``"spot"`` (a Kraken key, for the
    Unified WebSocket's token)."""

    key: str
    secret: Secret
    kind: KeyKind = "derivatives"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise CredentialsError(f"unknown key kind {self.kind!r}: 'derivatives' or 'spot'")
        if not isinstance(self.key, str):
            raise CredentialsError(f"the API key must be text, got a {type(self.key).__name__}")
        if not self.key.strip():
            raise CredentialsError("the API key is empty")
        object.__setattr__(self, "key", ApiKey(self.key.strip()))
        self.secret.key_bytes()  # reject a malformed secret now, not at the first request

    def __repr__(self) -> str:
        kind = "" if self.kind == "derivatives" else f", kind={self.kind!r}"
        return f"Credentials(key={mask(self.key)!r}, secret={self.secret!r}{kind})"

    __str__ = __repr__


def as_secret(value: str | bytes | Secret | None) -> Secret | None:
    """Wrap a secret given as text or bytes at once, so no stack frame keeps it in clear.

    Verbose tracebacks print every frame's locals: entry points rebind their
    ``secret`` argument with this before doing anything else. Never raises
    (a value of the wrong type raises later, from a masked :class:`Secret`).
    """
    return value if value is None or isinstance(value, Secret) else Secret(value)


def load_credentials(
    key: str | None = None,
    secret: str | bytes | Secret | None = None,
    *,
    cwd: Path | None = None,
    use_environment: bool = True,
    kind: KeyKind = "derivatives",
) -> Credentials | None:
    """Find a key pair of ``kind``: arguments, then environment variables, then ``./.env``.

    Returns None when no source has a key and a secret. A source that has only
    one of the two is an error (it is almost always a typo).

    Raises
    ------
    CredentialsError
        Half a pair, or a secret that is not base64.

    Examples
    --------
    >>> load_credentials("my-key", "c2VjcmV0", kind="spot")
    Credentials(key='my-k…', secret=Secret('********'), kind='spot')
    """
    source = KINDS[kind]
    secret = as_secret(secret)
    if key is not None or secret is not None:
        return _pair(key, secret, f"the arguments {source.key_arg}= and {source.secret_arg}=",
                     kind)
    if not use_environment:
        return None
    env_key, env_secret = os.environ.get(source.key_var), as_secret(
        os.environ.get(source.secret_var)
    )
    if env_key or env_secret:
        return _pair(env_key, env_secret,
                     f"the environment variables {source.key_var}/{source.secret_var}", kind)
    dotenv = (cwd or Path.cwd()) / ".env"
    if dotenv.is_file():
        values = dotenv_values(dotenv)
        file_key, file_secret = values.get(source.key_var), as_secret(
            values.get(source.secret_var)
        )
        del values
        if file_key or file_secret:
            return _pair(file_key, file_secret, f"{dotenv}", kind)
    return None


def _pair(key: str | None, secret: Secret | None, source: str, kind: KeyKind) -> Credentials:
    if not key or secret is None or not secret.reveal():
        missing = "secret" if key else "key"
        where = KINDS[kind]
        raise CredentialsError(
            f"{source} give an API key and secret only in part: the {missing} is missing. "
            f"Set both {where.key_var} and {where.secret_var}, or pass {where.key_arg}= and "
            f"{where.secret_arg}=."
        )
    return Credentials(key.strip(), secret, kind)
