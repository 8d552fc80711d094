"""A tiny built-in lab for ``probe demo``: two TLS servers on 127.0.0.1, one hardened and one
legacy, served by Python's ``ssl`` module from background threads.

Both leaves are signed by a throwaway demo CA (written next to them, see ``DemoLab.ca_file``), so
a scan given that CA judges the configurations rather than "self-signed". Everything is made at
start (keys in well under a second) in a temporary directory that is removed at exit.

    with DemoLab() as lab:
        for endpoint in lab.endpoints:
            scan(endpoint.host, endpoint.port, ca_file=lab.ca_file)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import socket
import ssl
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

LOOPBACK = "127.0.0.1"
SERVER_NAME = "localhost"
CONNECTION_TIMEOUT = 10.0  # seconds a client may take per connection
MAX_CONNECTIONS = 256  # concurrent connections per server; more wait in the backlog
ORGANIZATION = "probe demo lab"  # O= of the demo certificates
VALID_DAYS = 397  # the demo certificates expire this many days after start

HARDENED_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
LEGACY_CIPHERS = "ALL:!aNULL:@SECLEVEL=0"  # no anonymous suites: legacy, not absurd


@dataclass(frozen=True)
class DemoEndpoint:
    name: str
    host: str
    port: int
    description: str


class _TlsServer:
    """Accepts on a listening socket; one daemon thread per connection does the handshake."""

    def __init__(self, name: str, description: str, context: ssl.SSLContext) -> None:
        self.name = name
        self.description = description
        self._context = context
        self._listener = socket.create_server((LOOPBACK, 0), backlog=512)
        self.port: int = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name=f"demo-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            self._slots.acquire()
            try:
                conn, _ = self._listener.accept()
            except OSError:
                self._slots.release()
                if self._stopping.is_set():
                    return
                continue
            if self._stopping.is_set():
                conn.close()
                self._slots.release()
                return
            with self._lock:
                self._open.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(CONNECTION_TIMEOUT)
            with (
                self._context.wrap_socket(conn, server_side=True) as tls,
                contextlib.suppress(OSError),
            ):
                tls.recv(4096)
                tls.sendall(
                    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: 15\r\n\r\nprobe demo lab\n"
                )
        except (OSError, ssl.SSLError, ValueError):
            pass  # handshake failures are the point of a TLS scan; swallow them
        finally:
            with self._lock:
                self._open.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()
            self._slots.release()

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)


def _write_pki(directory: Path) -> dict[str, tuple[Path, Path]]:
    """Demo CA plus two leaves; returns name -> (cert, key) and writes ``ca.pem``."""
    from probe import certgen

    now = dt.datetime.now(dt.UTC)
    ca = certgen.make_ca(certgen.name("probe demo CA", ORGANIZATION), now=now, days=VALID_DAYS)
    certgen.write_pem_cert(directory / "ca.pem", ca[0])
    out: dict[str, tuple[Path, Path]] = {}
    for leaf, bits in (("hardened", 2048), ("legacy", 1024)):
        key = certgen.rsa_key(bits)
        cert = certgen.make_leaf(
            key=key,
            subject=certgen.name(SERVER_NAME, ORGANIZATION),
            names=(SERVER_NAME, LOOPBACK),
            issuer=ca,
            not_before=now - certgen.BACKDATE,
            not_after=now + dt.timedelta(days=VALID_DAYS),
        )
        out[leaf] = (
            certgen.write_pem_cert(directory / f"{leaf}.pem", cert),
            certgen.write_pem_key(directory / f"{leaf}.key", key),
        )
    return out


def _hardened_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_ciphers(HARDENED_CIPHERS)  # TLS 1.3 suites are all ECDHE/DHE + AEAD already
    ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_COMPRESSION
    ctx.load_cert_chain(cert, key)
    return ctx


def _legacy_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1 is deprecated: the point
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    # Security level 0 lets OpenSSL 3 do TLS 1.0/1.1 and serve a 1024-bit key; ALL includes
    # RSA key exchange (no forward secrecy) and CBC/SHA-1 suites.
    ctx.set_ciphers(LEGACY_CIPHERS)
    ctx.load_cert_chain(cert, key)
    return ctx


class DemoLab:
    """Starts the demo servers on enter and stops them (and removes their files) on exit."""

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._servers: list[_TlsServer] = []

    @property
    def ca_file(self) -> str:
        if self._dir is None:
            raise RuntimeError("DemoLab is not running")
        return str(self._dir / "ca.pem")

    @property
    def server_name(self) -> str:
        """The name both certificates carry (as well as the IP address 127.0.0.1)."""
        return SERVER_NAME

    @property
    def endpoints(self) -> list[DemoEndpoint]:
        return [DemoEndpoint(s.name, LOOPBACK, s.port, s.description) for s in self._servers]

    def start(self) -> DemoLab:
        self._dir = Path(tempfile.mkdtemp(prefix="probe-demo-"))
        try:
            pki = _write_pki(self._dir)
            self._servers = [
                _TlsServer(
                    "hardened",
                    "TLS 1.2-1.3, ECDHE with AEAD suites only, RSA-2048 signed by the demo CA",
                    _hardened_context(*pki["hardened"]),
                ),
                _TlsServer(
                    "legacy",
                    "TLS 1.0-1.2, every suite incl. RSA key exchange and CBC/SHA-1, RSA-1024",
                    _legacy_context(*pki["legacy"]),
                ),
            ]
            for server in self._servers:
                server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        self._servers = []
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> DemoLab:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
