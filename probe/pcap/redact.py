"""Redaction of secrets found in captures (issue 5, "Redaction and safety").

A fingerprint tells a reader *what* leaked and lets two findings be matched, without revealing
the value: the kind, the length, the first and last character (only for values of 8 or more
characters; card numbers show the first 6 and last 4 digits, as PCI DSS allows) and the first
8 hex digits of ``SHA-256(SALT + value)``.

The salt is FIXED and public (:data:`SALT`), so the same secret gives the same fingerprint in
every run and on every machine: findings can be compared across captures and reports. The
price: 32 bits of an unkeyed hash do not protect a low-entropy password against a dictionary
attack by someone who holds the report. That is accepted for a short match tag; the raw value
never appears. :class:`Secret` holds only redacted values, so its ``repr`` and ``str`` are safe.

The one exception is opt-in (``probe pcap --show-secrets``): inside :func:`revealing`, and only
there, :func:`redact` also records each raw value under its fingerprint in a mapping the caller
holds (one flow at a time, so it stays small). Outside it nothing is recorded: the default path
keeps no raw value anywhere.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["KINDS", "SALT", "Secret", "clean_user", "redact", "revealing", "shown_raw"]

SALT = b"probe-pcap-redact-v1\x00"  # fixed on purpose: fingerprints are comparable across runs

KINDS = frozenset({
    "http-basic", "ftp-password", "smtp-auth-plain", "smtp-auth-login", "pop3-password",
    "imap-login", "http-bearer", "http-form-password", "aws-access-key", "jwt", "private-key",
    "azure-storage-key", "azure-sas", "card-number", "telnet-login", "redis-auth",
    "postgresql-password", "postgresql-md5", "ldap-simple-bind", "snmp-community",
    "http-digest", "http-ntlmv1", "http-ntlmv2", "mysql-clear-password", "xmpp-sasl-plain",
})  # fmt: skip

Direction = Literal["client", "server"]
MAX_USER = 64
MAX_RAW = 8192  # characters of a raw value shown under --show-secrets (private keys are long)
MAX_REVEALED = 1024  # raw values recorded inside one revealing() block

# Set only inside revealing(): fingerprint -> raw value as shown.
_REVEALED: ContextVar[dict[str, str] | None] = ContextVar("probe_pcap_revealed", default=None)


@contextmanager
def revealing() -> Iterator[dict[str, str]]:
    """Record the raw value of every secret redacted inside the block, by fingerprint, for
    ``--show-secrets``. Never entered unless the user asked."""
    revealed: dict[str, str] = {}
    token = _REVEALED.set(revealed)
    try:
        yield revealed
    finally:
        _REVEALED.reset(token)


def shown_raw(value: str | bytes) -> str:
    """A raw value as printed under --show-secrets: non-printable characters (terminal escapes,
    bidi overrides, NUL separators) as Python escapes, so the output stays one safe line."""
    text = _text(value)
    out = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )
    return out if len(out) <= MAX_RAW else out[:MAX_RAW] + "..."


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _shown(char: str) -> str:
    """One character as shown: printable ASCII as is, anything else as ``?``."""
    return char if " " < char < "\x7f" else "?"


def redact(value: str | bytes, *, kind: str) -> str:
    """A fingerprint of ``value`` that never reveals it, e.g. ``ftp-password:len=12:s..9:1a2b3c4d``.

    Values shorter than 8 characters show only their length and hash; card numbers show the
    first 6 and last 4 digits (``card-number:411111..1111:len=16:...``)."""
    fingerprint = _fingerprint(value, kind)
    revealed = _REVEALED.get()
    if revealed is not None and len(revealed) < MAX_REVEALED:
        revealed[fingerprint] = shown_raw(value)
    return fingerprint


def _fingerprint(value: str | bytes, kind: str) -> str:
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(SALT + raw).hexdigest()[:8]
    text = _text(value)
    if kind == "card-number":
        digits = "".join(c for c in text if "0" <= c <= "9")
        if len(digits) >= 13:
            return f"{kind}:{digits[:6]}..{digits[-4:]}:len={len(digits)}:{digest}"
        return f"{kind}:len={len(digits)}:{digest}"
    if len(text) >= 8:
        return f"{kind}:len={len(text)}:{_shown(text[0])}..{_shown(text[-1])}:{digest}"
    return f"{kind}:len={len(text)}:{digest}"


def clean_user(value: str | bytes | None) -> str | None:
    """A user name as kept in findings: control and format characters removed (no terminal
    escapes, no bidi overrides), at most 64 characters."""
    if value is None:
        return None
    text = _text(value)
    kept = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    return kept[:MAX_USER]


@dataclass(frozen=True, slots=True)
class Secret:
    """One credential or secret seen in the clear. Every field is safe to print.

    ``offset`` is the position of the secret (or of the line carrying it) in the flow's
    reassembled prefix for ``direction``; ``detail`` holds non-secret facts such as
    ``allows_http`` for an Azure SAS or a redacted paired AWS secret key."""

    kind: str
    protocol: str
    direction: Direction
    offset: int
    user: str | None
    fingerprint: str
    detail: dict[str, str | bool] = field(default_factory=dict, hash=False)

    @property
    def allows_http(self) -> bool | None:
        value = self.detail.get("allows_http")
        return value if isinstance(value, bool) else None
