"""Errors raised by the sans-I/O codecs.

A codec raises only :class:`DecodeError` (or a subclass) on bytes it cannot parse, so a caller
can map exactly one exception type to ``ErrorReason.PROTOCOL_ERROR`` at the I/O edge.
"""

from __future__ import annotations


class DecodeError(ValueError):
    """The peer's bytes are malformed, truncated or exceed a size limit."""


class NotTlsError(DecodeError):
    """The first bytes from the peer are not a TLS record (e.g. an HTTP or SSH banner)."""


class Ssl2ReplyError(DecodeError):
    """The peer answered an SSLv3/TLS hello with an SSLv2 record: it does not speak that version."""
