"""Regenerate the TLS captures in this folder from real servers on loopback.

Usage: ``python captures/tls/record.py`` from the repository root. Needs the ``openssl`` (3.x)
and ``gnutls-serv`` binaries. Each capture is the raw bytes a server sent in answer to a
hello built by ``probe.codecs.tls.hello`` with a fixed random, so reruns differ only in what
the server randomises (its random, keys and certificate).

SSLv2 and SSLv3 servers do not exist on a current Debian (OpenSSL dropped both), so the
``synthetic_*`` files are built here byte by byte from the specs, not recorded.

The tests import this module (``load_record_module`` in tests/codecs/conftest.py) to start
the same servers for their lab checks.
"""

from __future__ import annotations

import contextlib
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from probe.codecs.tls.constants import Version  # noqa: E402
from probe.codecs.tls.flight import ServerFlightReader  # noqa: E402
from probe.codecs.tls.hello import build_client_hello  # noqa: E402
from probe.codecs.tls.suites import SUITES, candidate_suites  # noqa: E402

FIXED_RANDOM = bytes.fromhex("70726f6265" * 6 + "0102")  # "probe" x6 + 2 bytes
FIXED_SESSION_ID = bytes(range(32))
# RFC 7748 6.1: Alice's X25519 public key, a valid point any server accepts.
X25519_PUBLIC = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
MAX_CAPTURE = 8192


@contextlib.contextmanager
def pki() -> Iterator[Path]:
    """A throwaway CA and an RSA-2048 leaf for CN=localhost, plus FFDHE-2048 parameters."""
    with tempfile.TemporaryDirectory(prefix="probe-pki-") as tmp:
        d = Path(tmp)

        def run(command: str) -> None:
            args = shlex.split(command)
            subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

        run(
            "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 "
            "-subj '/CN=probe test CA'"
        )
        run("req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj /CN=localhost")
        (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        run(
            "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem "
            "-days 3650 -extfile ext.cnf"
        )
        run("genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out dh.pem")
        yield d


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


@contextlib.contextmanager
def openssl_server(pki_dir: Path, *options: str) -> Iterator[int]:
    """``openssl s_server`` on a free loopback port; yields the port."""
    port = free_port()
    files = "-cert leaf.pem -key leaf.key -cert_chain ca.pem -dhparam dh.pem"
    cmd = ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", *files.split(), "-quiet"]
    cmd += options
    proc = subprocess.Popen(
        cmd,
        cwd=pki_dir,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, proc)
        yield port
    finally:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def gnutls_server(pki_dir: Path, priority: str) -> Iterator[int]:
    port = free_port()
    files = "--x509certfile leaf.pem --x509keyfile leaf.key"
    cmd = ["gnutls-serv", "--port", str(port), *files.split(), "--priority", priority]
    proc = subprocess.Popen(cmd, cwd=pki_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, proc)
        yield port
    finally:
        proc.kill()
        proc.wait()


def exchange(port: int, hello: bytes, *, want_more: bool = True, linger: float = 0.3) -> bytes:
    """Send one hello; return the server's bytes up to the end of its first flight, plus what
    arrives within ``linger`` seconds after (so captures hold realistic trailing records)."""
    reader = ServerFlightReader(want_certificate=want_more, want_key_exchange=want_more)
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(hello)
        deadline: float | None = None
        while len(received) < MAX_CAPTURE:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                sock.settimeout(remaining)
            try:
                chunk = sock.recv(4096)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
            if deadline is None:
                reader.feed(chunk)
                if reader.done:
                    deadline = time.monotonic() + linger
    return bytes(received[:MAX_CAPTURE])


def tls_hello(
    version: Version,
    suites: Sequence[int],
    *,
    key_share: bool = True,
    groups: Sequence[int] | None = None,
) -> bytes:
    return build_client_hello(
        version=version,
        cipher_suites=list(suites)[:128],
        server_name="localhost",
        random=FIXED_RANDOM,
        session_id=FIXED_SESSION_ID if version == Version.TLS1_3 else b"",
        groups=groups,
        x25519_key_share=X25519_PUBLIC if version == Version.TLS1_3 and key_share else None,
    )


# The golden ClientHellos use fixed suite lists so they change only when the builder does.
GOLDEN_TLS12_SUITES = (
    0xC02B,
    0xC02F,
    0xC02C,
    0xC030,
    0xCCA9,
    0xCCA8,
    0x009E,
    0x009F,
    0xC013,
    0xC014,
    0x0033,
    0x0039,
    0x009C,
    0x009D,
    0x002F,
    0x0035,
    0x000A,
)
GOLDEN_TLS13_SUITES = (0x1301, 0x1302, 0x1303)


def golden_hellos() -> dict[str, bytes]:
    return {
        "client_hello_tls12.bin": tls_hello(Version.TLS1_2, GOLDEN_TLS12_SUITES),
        "client_hello_tls13.bin": tls_hello(Version.TLS1_3, GOLDEN_TLS13_SUITES),
    }


def _suites_with(kx: str) -> list[int]:
    return [c for c in candidate_suites(Version.TLS1_2) if SUITES[c].kx == kx]


# --- synthetic SSLv2 / SSLv3 answers, built from the specs --------------------------------


def synthetic_sslv2_server_hello(certificate: bytes) -> bytes:
    """SSL 2.0 draft SERVER-HELLO: msg type 4, session-id-hit 0, certificate type 1 (X.509),
    version 0x0002, three cipher kinds, a 16-byte connection id; 2-byte record header."""
    specs = bytes.fromhex("0100800700c0020080")
    connection_id = bytes(range(16))
    body = (
        bytes([4, 0, 1])
        + (0x0002).to_bytes(2, "big")
        + len(certificate).to_bytes(2, "big")
        + len(specs).to_bytes(2, "big")
        + len(connection_id).to_bytes(2, "big")
        + certificate
        + specs
        + connection_id
    )
    return (0x8000 | len(body)).to_bytes(2, "big") + body


def synthetic_sslv2_error() -> bytes:
    """SSL 2.0 draft ERROR message: NO-CIPHER-ERROR (0x0001)."""
    body = bytes([0]) + (0x0001).to_bytes(2, "big")
    return (0x8000 | len(body)).to_bytes(2, "big") + body


def synthetic_sslv3_flight(certificate: bytes) -> bytes:
    """RFC 6101 5.6: ServerHello (version 3.0, TLS_RSA_WITH_3DES_EDE_CBC_SHA, no extensions),
    Certificate and ServerHelloDone, all in one SSLv3 handshake record."""

    def handshake(msg_type: int, body: bytes) -> bytes:
        return bytes([msg_type]) + len(body).to_bytes(3, "big") + body

    hello = (
        (0x0300).to_bytes(2, "big")
        + bytes(range(0x40, 0x60))  # server random
        + bytes([32])
        + bytes(range(0x80, 0xA0))  # session id
        + (0x000A).to_bytes(2, "big")
        + bytes([0])  # compression method: null
    )
    cert_list = len(certificate).to_bytes(3, "big") + certificate
    messages = (
        handshake(2, hello)
        + handshake(11, len(cert_list).to_bytes(3, "big") + cert_list)
        + handshake(14, b"")
    )
    return bytes([22]) + (0x0300).to_bytes(2, "big") + len(messages).to_bytes(2, "big") + messages


def _der(pem_path: Path) -> bytes:
    out = subprocess.run(
        ["openssl", "x509", "-in", str(pem_path), "-outform", "DER"],
        check=True,
        capture_output=True,
    )
    return out.stdout


def record_all(out_dir: Path = HERE) -> dict[str, int]:
    sizes: dict[str, int] = {}

    def save(name: str, data: bytes) -> None:
        (out_dir / name).write_bytes(data)
        sizes[name] = len(data)

    for name, hello in golden_hellos().items():
        save(name, hello)
    tls12_modern = candidate_suites(Version.TLS1_2)[:64]

    with pki() as d:
        with openssl_server(d, "-tls1_2") as port:
            save(
                "openssl_tls12_ecdhe_rsa.bin",
                exchange(port, tls_hello(Version.TLS1_2, tls12_modern)),
            )
        with openssl_server(d, "-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256") as port:
            hello = tls_hello(Version.TLS1_2, _suites_with("DHE"))
            save("openssl_tls12_dhe_rsa.bin", exchange(port, hello))
        with openssl_server(d, "-tls1_3") as port:
            hello = tls_hello(Version.TLS1_3, candidate_suites(Version.TLS1_3), groups=[29, 23])
            save("openssl_tls13_server_hello.bin", exchange(port, hello))
        with openssl_server(d, "-tls1_3") as port:
            hello = tls_hello(Version.TLS1_3, candidate_suites(Version.TLS1_3), key_share=False)
            save("openssl_tls13_hrr.bin", exchange(port, hello))
        with openssl_server(d, "-tls1_2", "-cipher", "AES128-SHA") as port:
            ecdsa_only = [c for c in tls12_modern if SUITES[c].auth == "ECDSA"]
            hello = tls_hello(Version.TLS1_2, ecdsa_only)
            save("openssl_alert_handshake_failure.bin", exchange(port, hello))
        with openssl_server(d, "-tls1_2") as port:
            hello = tls_hello(Version.TLS1_0, candidate_suites(Version.TLS1_0))
            save("openssl_alert_protocol_version.bin", exchange(port, hello))
        with openssl_server(d, "-tls1", "-cipher", "ALL:@SECLEVEL=0") as port:
            hello = tls_hello(Version.TLS1_0, candidate_suites(Version.TLS1_0))
            save("openssl_tls10_all.bin", exchange(port, hello))
        with gnutls_server(d, "NORMAL:-VERS-ALL:+VERS-TLS1.2") as port:
            save("gnutls_tls12_ecdhe.bin", exchange(port, tls_hello(Version.TLS1_2, tls12_modern)))

        ca_der = _der(d / "ca.pem")
        save("synthetic_sslv2_server_hello.bin", synthetic_sslv2_server_hello(ca_der))
        save("synthetic_sslv2_error.bin", synthetic_sslv2_error())
        save("synthetic_sslv3_server_hello.bin", synthetic_sslv3_flight(ca_der))
    return sizes


if __name__ == "__main__":
    for name, size in record_all().items():
        print(f"{size:6d}  {name}")
