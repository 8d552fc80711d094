"""Real SSTP servers on 127.0.0.1 for the SSTP tests: sorz/sstp-server's ``sstpd`` 0.6.0.

Each configuration runs its own ``sstpd`` (``python -m sstpd`` with the test interpreter)
from a scratch directory, listening on one port the kernel picked, on 127.0.0.1 only, with
the lab's CA-signed RSA-2048 leaf for localhost / 127.0.0.1 (``LabCerts.rsa2048``; clients
verify it with ``LabCerts.ca_cert``). sstpd runs its PPP side through ``--pppd``: here
tests/lab/fake_pppd.py, a clearly named stand-in (no ``/dev/ppp`` in containers; see its
docstring), which answers every call with one LCP Configure-Request asking for the
authentication protocol that the configuration's pppd options file requires.

Installing sstp-server 0.6.0 on Python 3.11 (0.7.x needs Python >= 3.12) takes care: its C
extension (``sstpd.codec``, the HDLC escaping of PPP frames) uses ``Py_BuildValue("y#")``
without ``PY_SSIZE_T_CLEAN``, which Python >= 3.10 rejects with ``SystemError`` on every PPP
frame, so sstpd can answer the HTTP request and send the Call Connect Ack but never forwards
PPP. Building it with ``CFLAGS=-DPY_SSIZE_T_CLEAN`` (what upstream's 0.7 source does) fixes
that; ``require_sstpd`` checks the built codec and fails loudly otherwise (never a skip). It
needs a C compiler and the Python headers (Debian: gcc, python3-dev).

``SstpLabServer.expected`` holds what a client sees, each checked against the live server by
tests/lab_tests/test_sstp_lab.py with a blocking client built on probe's codec (and ``openssl
s_client`` for the TLS versions):

- ``over_tls``: the SSTP HTTP exchange runs inside TLS; ``plain_http``: it runs over plain
  TCP (``sstpd --no-ssl``, the "SSTP without TLS" case). A TLS listener closes a plain
  ``SSTP_DUPLEX_POST`` without answering a byte.
- ``silent_on_tls_hello``: a plain listener answers a TLS ClientHello with nothing and keeps
  the connection open (sstpd reads it as an HTTP request still missing its CRLFCRLF, up to
  10 KiB, until its 60 s hello timer closes it): a TLS attempt on a plain SSTP port times out
  rather than failing fast.
- ``http_status``, ``content_length``, ``server``: the answer to ``SSTP_DUPLEX_POST``
  (sstpd: ``HTTP/1.1 200 OK``, ``Content-Length: 18446744073709551615``,
  ``Server: SSTP-Server/0.6.0``, nothing else).
- ``any_uri``: a ``SSTP_DUPLEX_POST`` to another URI is accepted too (sstpd checks only the
  method and ``HTTP/1.1``; Windows listens on the SSTP URI only).
- ``hash_protocols`` / ``hash_bitmask``: the Call Connect Ack's Crypto Binding Request
  (sstpd offers SHA1 and SHA256, 0x03, whenever it is given a certificate; Windows offers
  SHA256 only, which captures/sstp records from the spec). Without ``-c`` sstpd 0.6.0
  crashes in the Call Connect Request handler (``cert_hash`` is None) and drops the call,
  so the plain configuration is given the certificate too, as behind a TLS-terminating
  proxy.
- ``auth_protocol``: from the first LCP Configure-Request, as ``probe.codecs.sstp`` names it.
- ``nak_for_unknown_protocol``: a Call Connect Request for another protocol than PPP gets a
  Call Connect NAK. sstpd 0.6.0 builds the NAK but never sends it (and stays silent), so a
  client must time out; captures/sstp records a NAK from the spec instead.
- ``disconnect_ack``: a Call Disconnect is answered with a Call Disconnect Ack, then the
  server closes the connection.
- ``versions``: TLS versions accepted (sstpd uses Python's default server context: TLS 1.2
  and 1.3), per label of ``probe.model.TLS_VERSION_LABELS``; None without TLS.
"""

from __future__ import annotations

import contextlib
import importlib
import shlex
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .certs import LabCerts
from .servers import LOOPBACK, LabError, run_server, versions

SSTPD_VERSION = "0.6.0"
SSTPD_INSTALL = (
    "CFLAGS=-DPY_SSIZE_T_CLEAN python3 -m pip install --no-binary sstp-server "
    "--no-cache-dir 'sstp-server<0.7' (needs gcc and python3-dev; scripts/install-test-deps.sh "
    "does it)"
)
SSTP_START_TIMEOUT = 15.0
FAKE_PPPD = Path(__file__).resolve().with_name("fake_pppd.py")
PPP_LOCAL = "10.99.0.1"  # sstpd --local: the server's PPP address (never configured anywhere)
SERVER_NAME = "localhost"  # the name the lab certificate is issued to

# What fake_pppd.py asks for, per pppd option, named as probe.codecs.sstp names it.
AUTH_BY_OPTION = {
    "require-pap": "PAP",
    "require-chap": "CHAP-MD5",
    "require-mschap": "MS-CHAP",
    "require-mschap-v2": "MS-CHAPv2",
    "require-eap": "EAP",
}


@dataclass(frozen=True)
class SstpConfig:
    name: str
    description: str
    tls: bool
    pppd_options: tuple[str, ...]  # lines of the options file sstpd passes to pppd
    expected: dict[str, Any]


def _facts(*, tls: bool, auth: str | None) -> dict[str, Any]:
    return {
        "over_tls": tls,
        "plain_http": not tls,
        "silent_on_tls_hello": not tls,
        "http_status": 200,
        "content_length": "18446744073709551615",
        "server": f"SSTP-Server/{SSTPD_VERSION}",
        "any_uri": True,
        "hash_protocols": ["SHA1", "SHA256"],
        "hash_bitmask": 0x03,
        "auth_protocol": auth,
        "nak_for_unknown_protocol": False,
        "disconnect_ack": True,
        "versions": versions("TLSv1.2", "TLSv1.3") if tls else None,
    }


# Measured on Debian 12 (Python 3.11, sstp-server 0.6.0 built with -DPY_SSIZE_T_CLEAN, OpenSSL
# 3.0) by tests/lab_tests/test_sstp_lab.py.
SSTP_CONFIGS: dict[str, SstpConfig] = {
    c.name: c
    for c in [
        SstpConfig(
            "tls-mschapv2",
            "sstpd over TLS (lab RSA-2048 certificate), PPP asks for MS-CHAPv2",
            True,
            ("require-mschap-v2",),
            _facts(tls=True, auth="MS-CHAPv2"),
        ),
        SstpConfig(
            "tls-pap",
            "sstpd over TLS (lab RSA-2048 certificate), PPP asks for PAP (cleartext password)",
            True,
            ("require-pap",),
            _facts(tls=True, auth="PAP"),
        ),
        SstpConfig(
            "plain",
            "sstpd --no-ssl: SSTP over plain TCP (no TLS at all), PPP asks for MS-CHAPv2",
            False,
            ("require-mschap-v2",),
            _facts(tls=False, auth="MS-CHAPv2"),
        ),
    ]
}


@dataclass(frozen=True)
class SstpLabServer:
    host: str
    port: int
    name: str
    description: str
    expected: dict[str, Any]
    ca_file: Path  # verifies the TLS certificate (for SERVER_NAME or 127.0.0.1)
    server_name: str = SERVER_NAME
    log: Path | None = field(default=None, compare=False)
    pppd_options: Path | None = field(default=None, compare=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def require_sstpd() -> None:
    """Raise ``LabError`` unless this interpreter has sstp-server 0.6.0 with a working codec."""
    try:
        sstpd = importlib.import_module("sstpd")
        codec = importlib.import_module("sstpd.codec")
    except ImportError as exc:
        raise LabError(
            f"sstp-server is not installed ({exc}); install it: {SSTPD_INSTALL}"
        ) from None
    version = getattr(sstpd, "__version__", None)
    if version != SSTPD_VERSION:
        raise LabError(
            f"sstp-server {version} is installed; the lab's facts are for {SSTPD_VERSION}: "
            f"{SSTPD_INSTALL}"
        )
    try:
        codec.escape(b"\xff\x03\xc0\x21")
    except SystemError as exc:
        raise LabError(
            f"sstp-server's C codec was built without PY_SSIZE_T_CLEAN ({exc}), so sstpd "
            f"cannot forward PPP; reinstall it: {SSTPD_INSTALL}"
        ) from None


def write_fake_pppd_wrapper(path: Path) -> Path:
    """An executable that runs fake_pppd.py with this interpreter (sstpd executes --pppd)."""
    path.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(FAKE_PPPD))} "$@"\n'
    )
    path.chmod(0o755)
    return path


class SstpServer:
    """``with SstpServer("tls-pap", certs, workdir) as server:`` -> a running
    ``SstpLabServer``."""

    def __init__(self, name: str, certs: LabCerts, workdir: Path) -> None:
        if name not in SSTP_CONFIGS:
            raise KeyError(f"no SSTP configuration {name!r}; known: {', '.join(SSTP_CONFIGS)}")
        self.config = SSTP_CONFIGS[name]
        self.certs = certs
        self.root = workdir / f"sstp-{name}"
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> SstpLabServer:
        require_sstpd()
        self.root.mkdir(parents=True, exist_ok=True)
        pppd = write_fake_pppd_wrapper(self.root / "pppd")
        options = self.root / "options.sstpd"
        options.write_text("".join(f"{line}\n" for line in self.config.pppd_options))
        leaf = self.certs.rsa2048

        def build(ports: list[int]) -> list[str]:
            argv = [
                sys.executable, "-m", "sstpd",
                "--listen", LOOPBACK, "--listen-port", str(ports[0]),
                # the certificate also feeds the Crypto Binding hashes, even with --no-ssl
                "--pem-cert", str(leaf.cert), "--pem-key", str(leaf.key),
                "--local", PPP_LOCAL,
                "--pppd", str(pppd), "--pppd-config", str(options),
                "--log-level", "5",  # VERBOSE: hex dumps of every PPP frame
            ]  # fmt: skip
            if not self.config.tls:
                argv.append("--no-ssl")
            return argv

        try:
            proc, ports = self._stack.enter_context(
                run_server(
                    build,
                    ports=1,
                    log=self.root / "sstpd.log",
                    timeout=SSTP_START_TIMEOUT,
                    cwd=self.root,
                )
            )
        except BaseException:
            self._stack.close()
            raise
        return SstpLabServer(
            LOOPBACK,
            ports[0],
            self.config.name,
            self.config.description,
            self.config.expected,
            self.certs.ca_cert,
            log=proc.log,
            pppd_options=options,
        )

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


class SstpServers:
    """The SSTP configurations, each started on first use and kept until ``close()``."""

    def __init__(self, certs: LabCerts, workdir: Path) -> None:
        self.certs = certs
        self.workdir = workdir
        self._stack = contextlib.ExitStack()
        self._started: dict[str, SstpLabServer] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> SstpLabServer:
        if name not in SSTP_CONFIGS:
            raise KeyError(f"no SSTP configuration {name!r}; known: {', '.join(SSTP_CONFIGS)}")
        with self._lock:
            if name not in self._started:
                server = SstpServer(name, self.certs, self.workdir)
                self._started[name] = self._stack.enter_context(server)
            return self._started[name]

    def __contains__(self, name: object) -> bool:
        return name in SSTP_CONFIGS

    def __iter__(self) -> Iterator[str]:
        return iter(SSTP_CONFIGS)

    def __len__(self) -> int:
        return len(SSTP_CONFIGS)

    def names(self) -> list[str]:
        return list(SSTP_CONFIGS)

    def close(self) -> None:
        with self._lock:
            self._stack.close()
            self._started.clear()
