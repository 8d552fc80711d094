"""One complete TLS handshake with OpenSSL, to read the certificate chain a server serves.

In TLS 1.3 the Certificate message is encrypted, so the raw-hello probes cannot see it; one full
handshake per certificate type is needed (TLS 1.3, then TLS 1.2 RSA-only and ECDSA-only to find
servers with several certificates). Nothing is verified here: the chain is returned as served
and judged later (probe.trust, probe.codecs.x509).

The blocking pyOpenSSL work runs in a worker thread on a non-blocking socket, driven by a
selector against one deadline, so a call never takes much longer than `timeout` in total.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import selectors
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

from OpenSSL import SSL, crypto

from probe.model import ErrorReason

__all__ = [
    "DEFAULT_CIPHERS",
    "ECDSA_ONLY_CIPHERS",
    "MAX_CHAIN_CERTS",
    "RSA_ONLY_CIPHERS",
    "FullHandshakeError",
    "FullHandshakeResult",
    "fetch_chain",
]

# OpenSSL cipher strings for TLS 1.0-1.2 fetches. "@SECLEVEL=0" is appended to each so that weak
# servers (1024-bit RSA, SHA-1 signatures, TLS 1.0) can still be handshaken and then graded.
DEFAULT_CIPHERS = "ALL:COMPLEMENTOFALL:!aNULL:!eNULL"
RSA_ONLY_CIPHERS = "aRSA:!aNULL:!eNULL"
ECDSA_ONLY_CIPHERS = "aECDSA:!aNULL:!eNULL"

MAX_CHAIN_CERTS = 10  # as probe.codecs.x509 caps it; OpenSSL caps the message at 100 KiB

# Extra time given to the worker thread before asyncio.wait_for gives up on it.
_GRACE_SECONDS = 0.5

# OpenSSL reasons meaning "the peer did not answer with TLS records at all".
_NOT_TLS_MARKERS = (
    "wrong version number",
    "packet length too long",
    "record layer failure",
    "unknown protocol",
    "http request",
    "record length mismatch",
)

_OPENSSL_VERSION_LABELS = {
    "TLSv1": "TLSv1.0",
    "TLSv1.1": "TLSv1.1",
    "TLSv1.2": "TLSv1.2",
    "TLSv1.3": "TLSv1.3",
    "SSLv3": "SSLv3",
}


@dataclass(frozen=True)
class FullHandshakeResult:
    """What one completed handshake showed."""

    chain_der: tuple[bytes, ...]  # as served, leaf first (at most MAX_CHAIN_CERTS)
    version: str  # "TLSv1.3", "TLSv1.2", ... (probe.model.TLS_VERSION_LABELS)
    cipher: str  # OpenSSL's name: "TLS_AES_256_GCM_SHA384", "ECDHE-RSA-AES128-GCM-SHA256"


class FullHandshakeError(Exception):
    """The handshake did not complete; `reason` is a probe.model.ErrorReason value."""

    def __init__(self, reason: ErrorReason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message


async def fetch_chain(
    host: str,
    port: int,
    *,
    server_name: str | None,
    timeout: float,
    tls13_only: bool = True,
    cipher_list: str | None = None,
    starttls: str | None = None,
) -> FullHandshakeResult:
    """Complete one handshake with host:port and return the served chain.

    tls13_only=True offers TLS 1.3 only. tls13_only=False offers TLS 1.0-1.2 with `cipher_list`
    (an OpenSSL cipher string such as RSA_ONLY_CIPHERS; DEFAULT_CIPHERS when None), which is how
    an RSA or an ECDSA certificate is asked for. SNI is sent when server_name is a DNS name.
    Raises FullHandshakeError (reason refused, timeout, reset, not_tls, protocol_error, dns,
    unreachable) within about `timeout` seconds. ``starttls`` names a probe.codecs.starttls
    dialog ("smtp", "imap", ...) run before the handshake, within the same deadline.
    """
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    deadline = time.monotonic() + timeout
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
        )
    except TimeoutError:
        raise FullHandshakeError(ErrorReason.TIMEOUT, f"resolving {host} timed out") from None
    except socket.gaierror as exc:
        raise FullHandshakeError(ErrorReason.DNS, f"cannot resolve {host}: {exc}") from None
    addresses = [(info[0], info[4]) for info in infos]
    if not addresses:
        raise FullHandshakeError(ErrorReason.DNS, f"no address for {host}")
    context = _context(tls13_only, cipher_list)
    sni = _sni(server_name)
    remaining = max(deadline - time.monotonic(), 0.0)
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(
                _handshake, addresses, context, sni, deadline, starttls, server_name or host
            ),
            remaining + _GRACE_SECONDS,
        )
    except TimeoutError:
        raise FullHandshakeError(
            ErrorReason.TIMEOUT, f"handshake with {host}:{port} took over {timeout:g}s"
        ) from None


def _context(tls13_only: bool, cipher_list: str | None) -> SSL.Context:
    context = SSL.Context(SSL.TLS_METHOD)
    context.set_verify(SSL.VERIFY_NONE)
    # Old servers without secure renegotiation are refused by OpenSSL 3 unless told otherwise.
    context.set_options(SSL.OP_LEGACY_SERVER_CONNECT | SSL.OP_NO_TICKET | SSL.OP_NO_COMPRESSION)
    ciphers = cipher_list if cipher_list is not None else DEFAULT_CIPHERS
    if "@SECLEVEL" not in ciphers:
        ciphers += ":@SECLEVEL=0"
    if tls13_only:
        context.set_min_proto_version(SSL.TLS1_3_VERSION)
        context.set_max_proto_version(SSL.TLS1_3_VERSION)
        # The TLS 1.2 list is unused, but the security level in it still applies.
        context.set_cipher_list(b"ALL:@SECLEVEL=0")
    else:
        context.set_min_proto_version(SSL.TLS1_VERSION)
        context.set_max_proto_version(SSL.TLS1_2_VERSION)
        try:
            context.set_cipher_list(ciphers.encode("ascii"))
        except (SSL.Error, UnicodeError) as exc:
            raise ValueError(f"bad cipher list {cipher_list!r}: {exc}") from exc
    return context


def _sni(server_name: str | None) -> bytes | None:
    if not server_name:
        return None
    try:
        ipaddress.ip_address(server_name.strip("[]"))
        return None  # RFC 6066: no IP literals in SNI
    except ValueError:
        pass
    try:
        return server_name.rstrip(".").encode("idna")
    except UnicodeError:
        return None


def _handshake(
    addresses: Sequence[tuple[socket.AddressFamily, tuple[object, ...]]],
    context: SSL.Context,
    sni: bytes | None,
    deadline: float,
    starttls: str | None = None,
    domain: str = "",
) -> FullHandshakeResult:
    sock = _connect(addresses, deadline)
    try:
        if starttls is not None:
            _upgrade(sock, starttls, domain, deadline)
        sock.setblocking(False)
        connection = SSL.Connection(context, sock)
        if sni is not None:
            connection.set_tlsext_host_name(sni)
        connection.set_connect_state()
        _drive(connection, sock, deadline)
        chain = connection.get_peer_cert_chain() or []
        ders = tuple(
            crypto.dump_certificate(crypto.FILETYPE_ASN1, cert) for cert in chain[:MAX_CHAIN_CERTS]
        )
        if not ders:
            raise FullHandshakeError(ErrorReason.PROTOCOL_ERROR, "server sent no certificate")
        version = connection.get_protocol_version_name()
        cipher = connection.get_cipher_name() or ""
        _close_quietly(connection)
        return FullHandshakeResult(
            chain_der=ders,
            version=_OPENSSL_VERSION_LABELS.get(version, version),
            cipher=cipher,
        )
    finally:
        sock.close()


def _upgrade(sock: socket.socket, protocol: str, domain: str, deadline: float) -> None:
    from probe.codecs.starttls import StartTlsDialog, StartTlsError
    from probe.net.starttls import negotiate_blocking

    try:
        outcome = negotiate_blocking(sock, StartTlsDialog(protocol, domain), deadline)
    except StartTlsError as exc:
        raise FullHandshakeError(ErrorReason.PROTOCOL_ERROR, f"STARTTLS: {exc}") from None
    except OSError as exc:
        raise _os_error(exc, "STARTTLS") from None
    if not outcome.upgraded:
        raise FullHandshakeError(ErrorReason.PROTOCOL_ERROR, f"STARTTLS refused: {outcome.reply}")


def _connect(
    addresses: Sequence[tuple[socket.AddressFamily, tuple[object, ...]]], deadline: float
) -> socket.socket:
    last: FullHandshakeError | None = None
    for family, address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FullHandshakeError(ErrorReason.TIMEOUT, "connect timed out")
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(remaining)
        try:
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            last = _os_error(exc, "connect")
            if last.reason is ErrorReason.TIMEOUT:
                raise last from None
    assert last is not None
    raise last


def _drive(connection: SSL.Connection, sock: socket.socket, deadline: float) -> None:
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        while True:
            try:
                connection.do_handshake()
                return
            except SSL.WantReadError:
                events = selectors.EVENT_READ
            except SSL.WantWriteError:
                events = selectors.EVENT_WRITE
            except SSL.ZeroReturnError:
                raise FullHandshakeError(
                    ErrorReason.PROTOCOL_ERROR, "server closed the connection during handshake"
                ) from None
            except SSL.SysCallError as exc:
                raise _syscall_error(exc) from None
            except SSL.Error as exc:
                raise _ssl_error(exc) from None
            except OSError as exc:
                raise _os_error(exc, "handshake") from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FullHandshakeError(ErrorReason.TIMEOUT, "handshake timed out")
            selector.modify(sock, events)
            if not selector.select(remaining):
                raise FullHandshakeError(ErrorReason.TIMEOUT, "handshake timed out")


def _close_quietly(connection: SSL.Connection) -> None:
    with contextlib.suppress(SSL.Error, OSError):
        connection.shutdown()  # one close_notify; we do not wait for the peer's


def _os_error(exc: OSError, during: str) -> FullHandshakeError:
    detail = exc.strerror or str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError | socket.timeout):
        return FullHandshakeError(ErrorReason.TIMEOUT, f"{during} timed out")
    if isinstance(exc, ConnectionRefusedError):
        return FullHandshakeError(ErrorReason.REFUSED, "connection refused")
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return FullHandshakeError(ErrorReason.RESET, f"connection reset during {during}")
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN):
        return FullHandshakeError(ErrorReason.UNREACHABLE, detail)
    if exc.errno == errno.ETIMEDOUT:
        return FullHandshakeError(ErrorReason.TIMEOUT, f"{during} timed out")
    return FullHandshakeError(ErrorReason.UNREACHABLE, f"{during} failed: {detail}")


def _syscall_error(exc: SSL.SysCallError) -> FullHandshakeError:
    code = exc.args[0] if exc.args else None
    if code == -1 or code == 0:  # "Unexpected EOF": the peer closed without an alert
        return FullHandshakeError(
            ErrorReason.PROTOCOL_ERROR, "server closed the connection during handshake"
        )
    if code in (errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE):
        return FullHandshakeError(ErrorReason.RESET, "connection reset during handshake")
    if code == errno.ETIMEDOUT:
        return FullHandshakeError(ErrorReason.TIMEOUT, "handshake timed out")
    return FullHandshakeError(ErrorReason.RESET, f"socket error during handshake: {exc}")


def _ssl_error(exc: SSL.Error) -> FullHandshakeError:
    text = _ssl_error_text(exc)
    lowered = text.lower()
    if any(marker in lowered for marker in _NOT_TLS_MARKERS):
        return FullHandshakeError(ErrorReason.NOT_TLS, text)
    return FullHandshakeError(ErrorReason.PROTOCOL_ERROR, text)


def _ssl_error_text(exc: SSL.Error) -> str:
    """OpenSSL's reason strings ("sslv3 alert handshake failure") from a pyOpenSSL error."""
    reasons: list[str] = []
    details = exc.args[0] if exc.args else None
    if isinstance(details, list):
        for entry in details:
            if isinstance(entry, tuple) and entry:
                reasons.append(str(entry[-1]))
    return "; ".join(reasons) or str(exc) or "TLS error"
