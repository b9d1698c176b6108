"""API credentials: where they come from, and a secret that never prints.

Resolution order (design.md): explicit arguments > ``KFRESEARCH_API_KEY`` /
``KFRESEARCH_API_SECRET`` > a ``.env`` file in the working directory. The
``sim`` and ``demo`` environments provision their own local key pairs, so they
need none of these.

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

from dotenv import dotenv_values

from kfresearch.errors import CredentialsError

__all__ = ["ApiKey", "Credentials", "Secret", "as_secret", "load_credentials", "mask"]

KEY_VAR = "KFRESEARCH_API_KEY"
SECRET_VAR = "KFRESEARCH_API_SECRET"  # noqa: S105 - a variable name, not a secret


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
    """A Futures key pair. ``key`` is the public key, ``secret`` a :class:`Secret`."""

    key: str
    secret: Secret

    def __post_init__(self) -> None:
        if not isinstance(self.key, str):
            raise CredentialsError(f"the API key must be text, got a {type(self.key).__name__}")
        if not self.key.strip():
            raise CredentialsError("the API key is empty")
        object.__setattr__(self, "key", ApiKey(self.key.strip()))
        self.secret.key_bytes()  # reject a malformed secret now, not at the first request

    def __repr__(self) -> str:
        return f"Credentials(key={mask(self.key)!r}, secret={self.secret!r})"

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
) -> Credentials | None:
    """Find a key pair: arguments, then environment variables, then ``./.env``.

    Returns None when no source has a key and a secret. A source that has only
    one of the two is an error (it is almost always a typo).

    Raises
    ------
    CredentialsError
        Half a pair, or a secret that is not base64.
    """
    secret = as_secret(secret)
    if key is not None or secret is not None:
        return _pair(key, secret, "the arguments key= and secret=")
    if not use_environment:
        return None
    env_key, env_secret = os.environ.get(KEY_VAR), as_secret(os.environ.get(SECRET_VAR))
    if env_key or env_secret:
        return _pair(env_key, env_secret, f"the environment variables {KEY_VAR}/{SECRET_VAR}")
    dotenv = (cwd or Path.cwd()) / ".env"
    if dotenv.is_file():
        values = dotenv_values(dotenv)
        file_key, file_secret = values.get(KEY_VAR), as_secret(values.get(SECRET_VAR))
        del values
        if file_key or file_secret:
            return _pair(file_key, file_secret, f"{dotenv}")
    return None


def _pair(key: str | None, secret: Secret | None, source: str) -> Credentials:
    if not key or secret is None or not secret.reveal():
        missing = "secret" if key else "key"
        raise CredentialsError(
            f"{source} give an API key and secret only in part: the {missing} is missing. "
            f"Set both {KEY_VAR} and {SECRET_VAR}, or pass key= and secret=."
        )
    return Credentials(key.strip(), secret)
