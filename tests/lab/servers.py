"""Real TLS servers on 127.0.0.1 for the tests: openssl s_server, gnutls-serv and nginx.

Each server is a context manager that starts the process in its own process group, waits until
it accepts TCP connections (raising with its log when it does not), and kills the whole group on
exit. Ports are picked by the kernel. A missing binary raises ``LabError``: the tests need it,
and ``scripts/install-test-deps.sh`` installs it.

``LabServer.expected`` records what a configuration is known to accept, so tests can compare a
scan with the truth. Keys (absent means "not pinned by this configuration"):

- ``versions``: ``dict[label, bool]`` for every label in ``probe.model.TLS_VERSION_LABELS``.
- ``suites``: ``dict[label, tuple[str, ...]]`` exact accepted suites (IANA names) per version,
  in the server's preference order when ``server_preference`` is True for that version.
- ``server_preference``: ``dict[label, bool]``.
- ``forward_secret_only``: every accepted suite (all versions) has forward secrecy.
- ``anonymous_suites``: some accepted suite has no authentication (ADH/AECDH: OpenSSL's
  ``ALL`` includes them).
- ``dh_bits``: size of the DHE group the server uses.
- ``groups``: ``dict[label, tuple[str, ...]]`` the key-exchange groups (IANA names) accepted at
  that version ("TLSv1.3" and the newest older version), in the server's order when
  ``groups_server_preference`` is True for that label; ``()`` when none is negotiated.
- ``groups_server_preference``: ``dict[label, bool | None]``.
- ``dh_common_prime``: the published name of the DHE prime (``"modp_2048"``...) or None.
- ``cert``, ``key_type``, ``key_bits``, ``curve``, ``san``, ``name_matches`` (for "localhost"
  and "127.0.0.1"), ``expired``, ``self_signed``, ``trusted_with_lab_ca`` (the path verifies with
  ``LabCerts.ca_cert`` as the only trust anchor), ``chain_length``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from probe.model import TLS_VERSION_LABELS

from .certs import KeyCert, LabCerts
from .netns import TcpToUnixRelay

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 15.0
INSTALL_HINT = "run scripts/install-test-deps.sh (as root) to install the lab's test dependencies"


class LabError(RuntimeError):
    """A lab server could not be started (missing binary, bad config, never accepted...)."""


def require_binary(name: str) -> str:
    """The absolute path of ``name``; raises (never skips) when it is not installed."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if path is None:
        raise LabError(f"{name!r} is not installed; {INSTALL_HINT}")
    return path


def free_port(host: str = LOOPBACK) -> int:
    """A port the kernel considers free right now (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """``count`` distinct free ports (all bound at once, then released)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind((host, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def wait_until_accepting(
    host: str,
    port: int,
    *,
    timeout: float = START_TIMEOUT,
    alive: Callable[[], bool] = lambda: True,
    describe: Callable[[], str] = lambda: "",
) -> None:
    """Poll TCP connect until it succeeds; raise ``LabError`` at the deadline or if not alive."""
    deadline = time.monotonic() + timeout
    while True:
        if not alive():
            raise LabError(f"server for {host}:{port} exited before accepting\n{describe()}")
        try:
            socket.create_connection((host, port), timeout=1.0).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise LabError(
                    f"nothing accepted on {host}:{port} within {timeout} s\n{describe()}"
                ) from None
            time.sleep(0.05)


class ServerProcess:
    """A server subprocess in its own process group, its output going to a log file."""

    def __init__(self, argv: list[str], log: Path, *, cwd: Path | None = None) -> None:
        self.argv = argv
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self, limit: int = 4000) -> str:
        self._log_file.flush()
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            text = ""
        status = "running" if self.alive() else f"exited with {self.proc.returncode}"
        return f"$ {' '.join(self.argv)}\n[{status}]\n{text[-limit:]}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        # Children (nginx workers, the netns helper's server) share the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._log_file.close()


def _port_clash(text: str) -> bool:
    return "in use" in text or "EADDRINUSE" in text


@contextlib.contextmanager
def run_server(
    build: Callable[[list[int]], list[str]],
    *,
    ports: int,
    log: Path,
    host: str = LOOPBACK,
    timeout: float = START_TIMEOUT,
    attempts: int = 3,
    cwd: Path | None = None,
    fixed_ports: list[int] | None = None,
) -> Iterator[tuple[ServerProcess, list[int]]]:
    """Start ``build(ports)`` and wait until every port accepts; retry on a port clash.

    ``fixed_ports`` (below 32768, outside the ephemeral range) replaces the kernel's choice
    for servers whose protocol is tied to a port, such as NetBIOS sessions on 139."""
    for attempt in range(attempts):
        chosen = list(fixed_ports) if fixed_ports else free_ports(ports, host)
        server = ServerProcess(build(chosen), log, cwd=cwd)
        try:
            for port in chosen:
                wait_until_accepting(
                    host, port, timeout=timeout, alive=server.alive, describe=server.output
                )
        except LabError:
            text = server.output()
            server.stop()
            if attempt + 1 < attempts and _port_clash(text):
                continue
            raise
        break
    try:
        yield server, chosen
    finally:
        server.stop()


@dataclass(frozen=True)
class LabServer:
    host: str
    port: int
    name: str
    description: str
    expected: dict[str, Any]
    log: Path | None = field(default=None, compare=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def versions(*accepted: str) -> dict[str, bool]:
    unknown = set(accepted) - set(TLS_VERSION_LABELS)
    assert not unknown, unknown
    return {label: label in accepted for label in TLS_VERSION_LABELS}


def cert_facts(cert: KeyCert, certs: LabCerts) -> dict[str, Any]:
    """The ``expected`` entries that describe a served lab certificate."""
    return {
        "cert": cert.name,
        "key_type": cert.key_type,
        "key_bits": cert.key_bits,
        "curve": "secp256r1" if cert.key_type == "EC" else None,
        "san": cert.names,
        "name_matches": "localhost" in cert.names,
        "expired": cert.name == "expired",
        "self_signed": cert.name == "self_signed",
        # the path alone: wrong_name chains to the lab CA too (its name is a separate fact)
        "trusted_with_lab_ca": cert.name in {"rsa2048", "rsa1024", "ecdsa_p256", "wrong_name"},
        "chain_length": 1,
    }


TLS13_DEFAULT_SUITES = (
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
)
PREF_ORDER_OPENSSL = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA"
PREF_ORDER_IANA = (
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
)
STRICT_OPENSSL = (
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256"
)
STRICT_IANA = (
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
)


# OpenSSL 3.0's default groups, in its order (ssl/t1_lib.c supported_groups_default); the
# first five are its TLS 1.2 curves. A HelloRetryRequest follows this order even without
# -serverpref; TLS 1.2 curve choice follows the client's order unless -serverpref is given.
OPENSSL_DEFAULT_GROUPS = (
    "x25519",
    "secp256r1",
    "x448",
    "secp521r1",
    "secp384r1",
    "ffdhe2048",
    "ffdhe3072",
    "ffdhe4096",
    "ffdhe6144",
    "ffdhe8192",
)
OPENSSL_DEFAULT_CURVES = OPENSSL_DEFAULT_GROUPS[:5]
DHE_ONLY_OPENSSL = "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"


def named_dhparam(certs: LabCerts, group: str) -> Path:
    """A PKCS#3 DH parameter file holding a named group's published prime (``ffdhe3072``,
    ``modp_2048``...), written by ``openssl genpkey`` next to the lab certificates once."""
    path = certs.directory / f"{group}.pem"
    if not path.exists():
        subprocess.run(
            [require_binary("openssl"), "genpkey", "-genparam", "-algorithm", "DH",
             "-pkeyopt", f"group:{group}", "-out", str(path)],
            check=True, capture_output=True,
        )  # fmt: skip
    return path


def ocsp_response(certs: LabCerts, cert: str = "rsa2048") -> Path:
    """A DER OCSPResponse for a lab certificate, signed by the lab CA (status "unknown": the
    responder's index is empty), for ``-status_file``; written by ``openssl ocsp`` once."""
    path = certs.directory / f"{cert}.ocsp.der"
    if not path.exists():
        openssl = require_binary("openssl")
        leaf: KeyCert = getattr(certs, cert)
        index, request = certs.directory / "ocsp-index.txt", certs.directory / f"{cert}.ocsp.req"
        index.touch()
        subprocess.run(
            [openssl, "ocsp", "-issuer", str(certs.ca_cert), "-cert", str(leaf.cert),
             "-no_nonce", "-reqout", str(request)],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [openssl, "ocsp", "-index", str(index), "-rsigner", str(certs.ca_cert),
             "-rkey", str(certs.ca_key), "-CA", str(certs.ca_cert), "-reqin", str(request),
             "-respout", str(path), "-ndays", "2"],
            check=True, capture_output=True,
        )  # fmt: skip
    return path


# tls.extensions of OpenSSL 3.0's s_server with its defaults: RFC 5746, 7627, 7366 and 5077
# on; tickets, and a session ID when no ticket is asked for; no stapling, compression (this
# build has no zlib) or ALPN.
OPENSSL_DEFAULT_EXTENSIONS = {
    "secure_renegotiation": True,
    "secure_renegotiation_scsv": True,
    "extended_master_secret": True,
    "encrypt_then_mac": True,
    "session_tickets": True,
    "session_id": True,
    "ocsp_stapling": False,
    "compression": "null",
    "alpn": None,
}


@dataclass(frozen=True)
class SServerConfig:
    name: str
    description: str
    cert: str  # a LabCerts attribute
    args: Callable[[LabCerts], list[str]]
    expected: dict[str, Any]


def _modern_like(name: str, cert: str, description: str) -> SServerConfig:
    return SServerConfig(
        name,
        description,
        cert,
        lambda c: ["-min_protocol", "TLSv1.2"],
        {
            "versions": versions("TLSv1.2", "TLSv1.3"),
            "server_preference": {"TLSv1.2": False, "TLSv1.3": False},
            "forward_secret_only": False,  # OpenSSL's DEFAULT list keeps RSA key exchange
            "anonymous_suites": False,
            "groups": {"TLSv1.2": OPENSSL_DEFAULT_CURVES, "TLSv1.3": OPENSSL_DEFAULT_GROUPS},
            "groups_server_preference": {"TLSv1.2": False, "TLSv1.3": True},
            "dh_common_prime": "modp_2048",  # OpenSSL's automatic DH for an RSA-2048 key
            "extensions": {"version": "TLSv1.2", **OPENSSL_DEFAULT_EXTENSIONS},
        },
    )


def _resumption_like(name: str, arg: str, extension: str, description: str) -> SServerConfig:
    """Modern settings with one resumption mechanism switched off (for --deep's facts)."""
    config = _modern_like(name, "rsa2048", f"modern settings, {arg}: {description}")
    extensions = {**config.expected["extensions"], extension: False}
    return SServerConfig(
        name,
        config.description,
        config.cert,
        lambda c: ["-min_protocol", "TLSv1.2", arg],
        {**config.expected, "extensions": extensions},
    )


S_SERVER_CONFIGS: dict[str, SServerConfig] = {
    c.name: c
    for c in [
        _modern_like(
            "modern", "rsa2048", "TLS 1.2 + 1.3, RSA-2048 from the lab CA, default suites"
        ),
        SServerConfig(
            "strict",
            "TLS 1.2 + 1.3, ECDHE + AEAD suites only, server order, RSA-2048 from the lab CA",
            "rsa2048",
            lambda c: ["-min_protocol", "TLSv1.2", "-serverpref", "-cipher", STRICT_OPENSSL],
            {
                "versions": versions("TLSv1.2", "TLSv1.3"),
                "suites": {"TLSv1.2": STRICT_IANA, "TLSv1.3": TLS13_DEFAULT_SUITES},
                "server_preference": {"TLSv1.2": True, "TLSv1.3": True},
                "forward_secret_only": True,
                "anonymous_suites": False,
                "groups": {"TLSv1.2": OPENSSL_DEFAULT_CURVES, "TLSv1.3": OPENSSL_DEFAULT_GROUPS},
                "groups_server_preference": {"TLSv1.2": True, "TLSv1.3": True},
                "dh_common_prime": None,
            },
        ),
        SServerConfig(
            "tls10_only",
            "TLS 1.0 only, cipher ALL at security level 0, RSA-2048",
            "rsa2048",
            lambda c: ["-tls1", "-cipher", "ALL:@SECLEVEL=0"],
            {
                "versions": versions("TLSv1.0"),
                "forward_secret_only": False,
                "anonymous_suites": True,
                "groups": {"TLSv1.0": OPENSSL_DEFAULT_CURVES},  # the newest version below 1.3
                "groups_server_preference": {"TLSv1.0": False},
                "dh_common_prime": "modp_1024",  # automatic DH for its sub-112-bit suites
                "extensions": {"version": "TLSv1.0", **OPENSSL_DEFAULT_EXTENSIONS},
            },
        ),
        SServerConfig(
            "tls13_ecdsa",
            "TLS 1.3 only, ECDSA P-256 certificate from the lab CA",
            "ecdsa_p256",
            lambda c: ["-tls1_3"],
            {
                "versions": versions("TLSv1.3"),
                "suites": {"TLSv1.3": TLS13_DEFAULT_SUITES},
                "forward_secret_only": True,
                "anonymous_suites": False,
                "groups": {"TLSv1.3": OPENSSL_DEFAULT_GROUPS},
                "groups_server_preference": {"TLSv1.3": True},
                "dh_common_prime": None,
                "extensions": None,  # TLS 1.3 sends them encrypted or has them built in
            },
        ),
        SServerConfig(
            "serverpref",
            "TLS 1.2 only, three suites, the server's order wins",
            "rsa2048",
            lambda c: ["-tls1_2", "-serverpref", "-cipher", PREF_ORDER_OPENSSL],
            {
                "versions": versions("TLSv1.2"),
                "suites": {"TLSv1.2": PREF_ORDER_IANA},
                "server_preference": {"TLSv1.2": True},
                "preferred_order": {"TLSv1.2": PREF_ORDER_IANA},
                "forward_secret_only": False,
                "anonymous_suites": False,
                "groups": {"TLSv1.2": OPENSSL_DEFAULT_CURVES},
                "groups_server_preference": {"TLSv1.2": True},
            },
        ),
        SServerConfig(
            "clientpref",
            "TLS 1.2 only, the same three suites, the client's order wins",
            "rsa2048",
            lambda c: ["-tls1_2", "-cipher", PREF_ORDER_OPENSSL],
            {
                "versions": versions("TLSv1.2"),
                "suites": {"TLSv1.2": PREF_ORDER_IANA},
                "server_preference": {"TLSv1.2": False},
                "forward_secret_only": False,
                "anonymous_suites": False,
                "groups": {"TLSv1.2": OPENSSL_DEFAULT_CURVES},
                "groups_server_preference": {"TLSv1.2": False},
            },
        ),
        SServerConfig(
            "rsa1024",
            "RSA-1024 key from the lab CA, cipher ALL at security level 0 (TLS 1.0-1.3)",
            "rsa1024",
            lambda c: ["-cipher", "ALL:@SECLEVEL=0"],
            {
                "versions": versions("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"),
                "forward_secret_only": False,
                "anonymous_suites": True,
                "groups": {"TLSv1.2": OPENSSL_DEFAULT_CURVES, "TLSv1.3": OPENSSL_DEFAULT_GROUPS},
                "groups_server_preference": {"TLSv1.2": False, "TLSv1.3": True},
                "dh_common_prime": "modp_1024",
            },
        ),
        SServerConfig(
            "dhe1024",
            "TLS 1.2 only, DHE-RSA suites only with the 1024-bit RFC 2409 group",
            "rsa2048",
            lambda c: [
                "-tls1_2",
                "-dhparam",
                str(c.dh1024),
                "-cipher",
                "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-SHA:@SECLEVEL=0",
            ],
            {
                "versions": versions("TLSv1.2"),
                "suites": {
                    "TLSv1.2": (
                        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
                        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
                    )
                },
                "server_preference": {"TLSv1.2": False},
                "forward_secret_only": True,
                "anonymous_suites": False,
                "dh_bits": 1024,
                "groups": {"TLSv1.2": ()},  # DHE with its own prime names no group
                "dh_common_prime": "modp_1024",  # RFC 2409 group 2
            },
        ),
        _modern_like("expired", "expired", "modern settings, RSA-2048 certificate expired"),
        _modern_like("wrong_name", "wrong_name", "modern settings, certificate for wrong.example"),
        _modern_like("self_signed", "self_signed", "modern settings, self-signed RSA-2048"),
        SServerConfig(
            "non_fs",
            "TLS 1.2 only, RSA key exchange only (no forward secrecy)",
            "rsa2048",
            lambda c: ["-tls1_2", "-cipher", "AES128-SHA:AES256-GCM-SHA384:@SECLEVEL=0"],
            {
                "versions": versions("TLSv1.2"),
                "suites": {
                    "TLSv1.2": ("TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_GCM_SHA384")
                },
                "server_preference": {"TLSv1.2": False},
                "forward_secret_only": False,
                "anonymous_suites": False,
                "groups": {"TLSv1.2": ()},
                "dh_common_prime": None,
            },
        ),
        SServerConfig(
            "groups_x25519_p384",
            "TLS 1.2 + 1.3, default suites, -groups X25519:secp384r1 (client order in TLS 1.2)",
            "rsa2048",
            lambda c: ["-min_protocol", "TLSv1.2", "-groups", "X25519:secp384r1"],
            {
                "versions": versions("TLSv1.2", "TLSv1.3"),
                "forward_secret_only": False,  # default suites keep RSA key exchange
                "anonymous_suites": False,
                "groups": {"TLSv1.2": ("x25519", "secp384r1"), "TLSv1.3": ("x25519", "secp384r1")},
                "groups_server_preference": {"TLSv1.2": False, "TLSv1.3": True},
                "dh_common_prime": "modp_2048",
            },
        ),
        SServerConfig(
            "groups_p384_x25519_serverpref",
            "TLS 1.2 + 1.3, -groups secp384r1:X25519 -serverpref (server order both versions)",
            "rsa2048",
            lambda c: ["-min_protocol", "TLSv1.2", "-groups", "secp384r1:X25519", "-serverpref"],
            {
                "versions": versions("TLSv1.2", "TLSv1.3"),
                "forward_secret_only": False,  # default suites keep RSA key exchange
                "anonymous_suites": False,
                "groups": {"TLSv1.2": ("secp384r1", "x25519"), "TLSv1.3": ("secp384r1", "x25519")},
                "groups_server_preference": {"TLSv1.2": True, "TLSv1.3": True},
            },
        ),
        SServerConfig(
            "groups_p521",
            "TLS 1.2 + 1.3, -groups secp521r1 only",
            "rsa2048",
            lambda c: ["-min_protocol", "TLSv1.2", "-groups", "secp521r1"],
            {
                "versions": versions("TLSv1.2", "TLSv1.3"),
                "forward_secret_only": False,  # default suites keep RSA key exchange
                "anonymous_suites": False,
                "groups": {"TLSv1.2": ("secp521r1",), "TLSv1.3": ("secp521r1",)},
                "groups_server_preference": {"TLSv1.2": None, "TLSv1.3": None},
            },
        ),
        SServerConfig(
            "features",
            "TLS 1.2 + 1.3, a stapled OCSP response, ALPN h2 and http/1.1, no session "
            "tickets, no session cache, no encrypt-then-MAC",
            "rsa2048",
            lambda c: [
                "-min_protocol",
                "TLSv1.2",
                "-status_file",
                str(ocsp_response(c)),
                "-alpn",
                "h2,http/1.1",
                "-no_ticket",
                "-no_cache",
                "-no_etm",
            ],
            {
                "versions": versions("TLSv1.2", "TLSv1.3"),
                "forward_secret_only": False,  # default suites keep RSA key exchange
                "anonymous_suites": False,
                "extensions": {
                    **OPENSSL_DEFAULT_EXTENSIONS,
                    "version": "TLSv1.2",
                    "encrypt_then_mac": False,
                    "session_tickets": False,
                    "session_id": False,  # -no_cache: the ServerHello names no session
                    "ocsp_stapling": True,
                    "alpn": "h2",
                },
            },
        ),
        _resumption_like("no_ticket", "-no_ticket", "session_tickets", "no TLS 1.2 tickets"),
        # -no_cache: the ServerHello names no session (session_id false)
        _resumption_like("no_cache", "-no_cache", "session_id", "no session-ID cache"),
        SServerConfig(
            "ffdhe3072",
            "TLS 1.2 + 1.3, -groups ffdhe3072:X25519, DHE-RSA suites only (TLS 1.2) with the "
            "RFC 7919 ffdhe3072 prime as -dhparam",
            "rsa2048",
            lambda c: [
                "-min_protocol",
                "TLSv1.2",
                "-groups",
                "ffdhe3072:X25519",  # X25519 too: sslyze's OpenSSL 1.1.1 has no TLS 1.3 FFDHE
                "-dhparam",
                str(named_dhparam(c, "ffdhe3072")),
                "-cipher",
                DHE_ONLY_OPENSSL,
            ],
            {
                "versions": versions("TLSv1.2", "TLSv1.3"),
                "forward_secret_only": True,
                "anonymous_suites": False,
                "dh_bits": 3072,
                # TLS 1.2: OpenSSL ignores RFC 7919 and always sends its -dhparam prime, which
                # happens to be ffdhe3072: a client offering it gets it.
                "groups": {"TLSv1.2": ("ffdhe3072",), "TLSv1.3": ("ffdhe3072", "x25519")},
                "groups_server_preference": {"TLSv1.2": None, "TLSv1.3": True},
                "dh_common_prime": "ffdhe3072",
            },
        ),
    ]
}


@contextlib.contextmanager
def s_server(name: str, certs: LabCerts, workdir: Path) -> Iterator[LabServer]:
    """Start the ``openssl s_server`` configuration ``name`` (a key of ``S_SERVER_CONFIGS``).

    ``-www`` keeps it serving connection after connection (one at a time: s_server is
    single-threaded, so a client that holds a connection open delays the next one).
    """
    config = S_SERVER_CONFIGS[name]
    openssl = require_binary("openssl")
    cert: KeyCert = getattr(certs, config.cert)
    workdir.mkdir(parents=True, exist_ok=True)

    def build(ports: list[int]) -> list[str]:
        return [
            openssl,
            "s_server",
            "-accept",
            f"{LOOPBACK}:{ports[0]}",
            "-cert",
            str(cert.cert),
            "-key",
            str(cert.key),
            "-www",
            "-quiet",
            *config.args(certs),
        ]

    with run_server(build, ports=1, log=workdir / f"s_server-{name}.log") as (proc, ports):
        yield LabServer(
            LOOPBACK,
            ports[0],
            name,
            config.description,
            {**config.expected, **cert_facts(cert, certs)},
            proc.log,
        )


GNUTLS_PRIORITY = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"


@contextlib.contextmanager
def gnutls_serv(
    certs: LabCerts, workdir: Path, *, priority: str = GNUTLS_PRIORITY
) -> Iterator[LabServer]:
    """``gnutls-serv`` (HTTP mode) with the good RSA-2048 certificate.

    gnutls-serv always binds every interface, so it runs in a private network namespace and
    is reached through a relay on 127.0.0.1 (see ``netns``). Note: the relay accepts TCP for
    the server, so a connection is accepted even when the TLS layer refuses it.
    """
    gnutls = require_binary("gnutls-serv")
    unshare = require_binary("unshare")
    workdir.mkdir(parents=True, exist_ok=True)
    # AF_UNIX paths are limited to 107 bytes; keep the socket in a short directory.
    sockdir = Path(tempfile.mkdtemp(prefix="probe-gnutls-"))
    unix_path = str(sockdir / "s")
    inner_port = 4433  # inside the private namespace nothing else listens
    argv = [
        unshare,
        "--net",
        "--",
        sys.executable,
        str(Path(__file__).with_name("netns.py")),
        unix_path,
        str(inner_port),
        "--",
        gnutls,
        "--port",
        str(inner_port),
        "--http",
        "--quiet",
        "--nodb",
        "--disable-client-cert",
        "--x509certfile",
        str(certs.rsa2048.cert),
        "--x509keyfile",
        str(certs.rsa2048.key),
        "--priority",
        priority,
    ]
    proc = ServerProcess(argv, workdir / "gnutls-serv.log")
    relay: TcpToUnixRelay | None = None
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(unix_path):
            if not proc.alive() or time.monotonic() > deadline:
                raise LabError(f"gnutls-serv did not start\n{proc.output()}")
            time.sleep(0.05)
        relay = TcpToUnixRelay(unix_path, LOOPBACK)
        expected: dict[str, Any] = {
            "versions": versions("TLSv1.2", "TLSv1.3"),
            **cert_facts(certs.rsa2048, certs),
        }
        yield LabServer(
            relay.host,
            relay.port,
            "gnutls",
            f"gnutls-serv, priority {priority}, RSA-2048 from the lab CA",
            expected,
            proc.log,
        )
    finally:
        if relay is not None:
            relay.close()
        proc.stop()
        shutil.rmtree(sockdir, ignore_errors=True)


@dataclass(frozen=True)
class NginxServer:
    host: str
    ports: tuple[int, ...]
    protocols: str
    ciphers: str | None
    config: Path
    expected: dict[str, Any]
    log: Path
    http_port: int | None = None  # the plain-HTTP server block's port, when there is one

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [(self.host, p) for p in self.ports]


def nginx_config(
    root: Path,
    ports: list[int],
    *,
    protocols: str,
    ciphers: str | None,
    cert: KeyCert,
    dhparam: Path | None,
    worker_processes: int = 1,
    ecdh_curve: str | None = None,
    hsts: str | None = None,
    plain_http: str | None = None,
    early_data: bool = False,
) -> str:
    http_block = ""
    if plain_http is not None:  # the last port is the plain-HTTP one
        *ports, http_port = ports
        http_block = _nginx_plain_block(http_port, ports[0], plain_http)
    listen = "\n".join(f"        listen {LOOPBACK}:{port} ssl;" for port in ports)
    user = "user root;\n" if os.geteuid() == 0 else ""
    ssl_extra = f"        ssl_ciphers {ciphers};\n" if ciphers else ""
    if dhparam is not None:
        ssl_extra += f"        ssl_dhparam {dhparam};\n"
    if ecdh_curve is not None:
        ssl_extra += f"        ssl_ecdh_curve {ecdh_curve};\n"
    if hsts is not None:
        ssl_extra += f'        add_header Strict-Transport-Security "{hsts}" always;\n'
    # 0-RTT needs a resumable TLS 1.3 session (the lab's default has neither cache nor tickets)
    cache = "shared:probe:1m" if early_data else "off"
    tickets = "on;\n        ssl_early_data on" if early_data else "off"
    return f"""{user}daemon off;
master_process on;
worker_processes {worker_processes};
pid {root}/nginx.pid;
error_log {root}/error.log warn;
worker_rlimit_nofile 8192;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
{listen}
        server_name localhost;
        ssl_certificate {cert.cert};
        ssl_certificate_key {cert.key};
        ssl_protocols {protocols};
{ssl_extra}        ssl_prefer_server_ciphers on;
        ssl_session_cache {cache};
        ssl_session_tickets {tickets};
        location / {{
            return 200 "probe lab\\n";
        }}
    }}
{http_block}}}
"""


# What the plain-HTTP server block of nginx_tls(plain_http=...) answers to every request.
NGINX_PLAIN_HTTP = {
    "redirect": "return 301 https://$host:{tls}$request_uri;",
    "redirect_relative_then_https": "location = / {{ return 302 /step; }}\n"
    "        location / {{ return 308 https://$host:{tls}/; }}",
    "content": 'return 200 "served over plain HTTP\\n";',
    "rejected": 'return 400 "HTTP is not supported\\n";',
    "redirect_other_host": "return 301 https://elsewhere.invalid/;",
    "loop": "return 302 http://$host:{http}/again$request_uri;",
}


def _nginx_plain_block(http_port: int, tls_port: int, mode: str) -> str:
    action = NGINX_PLAIN_HTTP[mode].format(tls=tls_port, http=http_port)
    return f"""    server {{
        listen {LOOPBACK}:{http_port};
        server_name localhost;
        {action}
    }}
"""


_NGINX_LABELS = {
    "SSLv2": "SSLv2",
    "SSLv3": "SSLv3",
    "TLSv1": "TLSv1.0",
    "TLSv1.1": "TLSv1.1",
    "TLSv1.2": "TLSv1.2",
    "TLSv1.3": "TLSv1.3",
}

_nginx_counter = 0
_nginx_lock = threading.Lock()


@contextlib.contextmanager
def nginx_tls(
    certs: LabCerts,
    workdir: Path,
    *,
    ports_count: int = 1,
    protocols: str = "TLSv1.2 TLSv1.3",
    ciphers: str | None = None,
    cert: str = "rsa2048",
    dhparam: Path | None = None,
    worker_processes: int = 1,
    ecdh_curve: str | None = None,
    hsts: str | None = None,
    plain_http: str | None = None,
    early_data: bool = False,
) -> Iterator[NginxServer]:
    """nginx serving TLS on ``ports_count`` loopback ports at once (one server block).

    ``protocols`` and ``ciphers`` go to ``ssl_protocols`` / ``ssl_ciphers`` verbatim (add
    ``@SECLEVEL=0`` to ``ciphers`` for TLS 1.0/1.1); ``ssl_prefer_server_ciphers`` is on.
    ``ecdh_curve`` goes to ``ssl_ecdh_curve`` (OpenSSL's groups list, e.g. ``X25519:secp521r1``).
    ``hsts`` adds that Strict-Transport-Security value (``always``: on every answer);
    ``plain_http`` (a key of :data:`NGINX_PLAIN_HTTP`) adds a plain-HTTP server block on one
    more kernel-picked port (``NginxServer.http_port``). ``early_data`` turns the session cache,
    session tickets and ``ssl_early_data`` (TLS 1.3 0-RTT) on.
    The generated config is checked with ``nginx -t`` first.
    """
    global _nginx_counter
    nginx = require_binary("nginx")
    with _nginx_lock:
        _nginx_counter += 1
        root = workdir / f"nginx-{_nginx_counter}"
    root.mkdir(parents=True, exist_ok=True)
    conf = root / "nginx.conf"
    key_cert: KeyCert = getattr(certs, cert)

    def build(ports: list[int]) -> list[str]:
        conf.write_text(
            nginx_config(
                root,
                ports,
                protocols=protocols,
                ciphers=ciphers,
                cert=key_cert,
                dhparam=dhparam,
                worker_processes=worker_processes,
                ecdh_curve=ecdh_curve,
                hsts=hsts,
                plain_http=plain_http,
                early_data=early_data,
            )
        )
        check = subprocess.run(
            [nginx, "-t", "-q", "-p", str(root), "-e", str(root / "error.log"), "-c", str(conf)],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise LabError(f"nginx -t rejected {conf}:\n{check.stderr}\n{conf.read_text()}")
        return [nginx, "-p", str(root), "-e", str(root / "error.log"), "-c", str(conf)]

    labels = [_NGINX_LABELS[p] for p in protocols.split()]
    expected: dict[str, Any] = {"versions": versions(*labels), **cert_facts(key_cert, certs)}
    extra = 1 if plain_http is not None else 0
    with run_server(
        build, ports=ports_count + extra, log=root / "stdout.log", timeout=30, cwd=root
    ) as (
        _proc,
        ports,
    ):
        http_port = ports[-1] if extra else None
        tls_ports = tuple(ports[:ports_count])
        yield NginxServer(
            LOOPBACK, tls_ports, protocols, ciphers, conf, expected, root / "error.log", http_port
        )


class NginxFactory(Protocol):
    """The ``nginx_factory`` fixture: same arguments, same (already running) server."""

    def __call__(
        self,
        ports_count: int = 1,
        protocols: str = "TLSv1.2 TLSv1.3",
        ciphers: str | None = None,
        cert: str = "rsa2048",
        dhparam: Path | None = None,
        worker_processes: int = 1,
    ) -> NginxServer: ...


class LazyServers:
    """Named server configurations, each started on first use (``_start``) and kept until
    ``close()``; a mapping from name to the running ``LabServer``. Thread-safe."""

    kind = "lab server"

    def __init__(self, configs: Mapping[str, object], certs: LabCerts, workdir: Path) -> None:
        self._configs = configs
        self.certs = certs
        self.workdir = workdir
        self._stack = contextlib.ExitStack()
        self._started: dict[str, LabServer] = {}
        self._lock = threading.Lock()

    def _start(self, name: str) -> LabServer:
        raise NotImplementedError

    def _cleanup(self) -> None:
        """After every server stopped: what a subclass must remove besides."""

    def __getitem__(self, name: str) -> LabServer:
        if name not in self._configs:
            raise KeyError(f"no {self.kind} {name!r}; known: {', '.join(self._configs)}")
        with self._lock:
            if name not in self._started:
                self._started[name] = self._start(name)
            return self._started[name]

    def __contains__(self, name: object) -> bool:
        return name in self._configs

    def __iter__(self) -> Iterator[str]:
        return iter(self._configs)

    def __len__(self) -> int:
        return len(self._configs)

    def names(self) -> list[str]:
        return list(self._configs)

    def close(self) -> None:
        with self._lock:
            try:
                self._stack.close()
            finally:
                self._started.clear()
                self._cleanup()


class LabServers(LazyServers):
    """The s_server configurations, each started on first use and kept until ``close()``."""

    def __init__(self, certs: LabCerts, workdir: Path) -> None:
        super().__init__(S_SERVER_CONFIGS, certs, workdir)

    def _start(self, name: str) -> LabServer:
        return self._stack.enter_context(s_server(name, self.certs, self.workdir))
