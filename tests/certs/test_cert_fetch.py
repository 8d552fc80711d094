"""fetch_chain against real `openssl s_server` processes and misbehaving sockets on loopback."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509

from probe.codecs.x509 import certificate_facts
from probe.model import ErrorReason
from probe.net.full_handshake import (
    ECDSA_ONLY_CIPHERS,
    RSA_ONLY_CIPHERS,
    FullHandshakeError,
    fetch_chain,
)

from .certgen import Issued, Pki, issue, key, pki, resign

# These start openssl s_server; a missing binary fails in the fixture (never a silent skip).
pytestmark = pytest.mark.lab

StartServer = Callable[..., int]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port: int = probe_socket.getsockname()[1]
        return port


def wait_until_listening(port: int, process: subprocess.Popen[bytes], limit: float = 10) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"s_server exited: {stderr}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("s_server did not start")


@pytest.fixture
def s_server(tmp_path: Path) -> Iterator[StartServer]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(leaf: Issued, *chain: Issued, extra: tuple[str, ...] = ()) -> int:
        stem = f"srv{len(processes)}"
        cert = tmp_path / f"{stem}.pem"
        cert.write_bytes(leaf.pem)
        key_file = tmp_path / f"{stem}.key"
        key_file.write_bytes(leaf.key_pem())
        args = ["-cert", str(cert), "-key", str(key_file)]
        if chain:
            chain_file = tmp_path / f"{stem}-chain.pem"
            chain_file.write_bytes(b"".join(c.pem for c in chain))
            args += ["-cert_chain", str(chain_file)]
        for attempt in range(3):
            port = free_port()
            process = subprocess.Popen(
                [
                    "openssl",
                    "s_server",
                    "-accept",
                    f"127.0.0.1:{port}",
                    "-www",
                    "-quiet",
                    *args,
                    *list(extra),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            processes.append(process)
            try:
                wait_until_listening(port, process)
                return port
            except RuntimeError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    yield start
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


def write_key_pem(path: Path, issued: Issued) -> Path:
    path.write_bytes(issued.key_pem())
    return path


@pytest.fixture(scope="module")
def ec_pki() -> Pki:
    return pki(key("p256"), ca_key="p256")


@pytest.fixture(scope="module")
def rsa_pki() -> Pki:
    return pki(key("rsa2048"))


@pytest.mark.lab
async def test_tls13_ecdsa_chain(s_server: StartServer, ec_pki: Pki) -> None:
    port = s_server(ec_pki.leaf, ec_pki.intermediate, extra=("-tls1_3",))
    result = await fetch_chain("127.0.0.1", port, server_name="localhost", timeout=5)
    assert result.version == "TLSv1.3"
    assert result.cipher.startswith("TLS_")
    assert result.chain_der == (ec_pki.leaf.der, ec_pki.intermediate.der)
    facts = certificate_facts(
        result.chain_der,
        server_name="localhost",
        now=ec_pki.leaf.cert.not_valid_before_utc,
        trusted=False,
        trust_error=None,
        served_with=(result.version,),
    )
    assert (facts.key_type, facts.curve, facts.name_matches) == ("EC", "secp256r1", True)


@pytest.mark.lab
async def test_tls12_rsa_only(s_server: StartServer, rsa_pki: Pki) -> None:
    port = s_server(rsa_pki.leaf, rsa_pki.intermediate, extra=("-tls1_2",))
    result = await fetch_chain(
        "127.0.0.1",
        port,
        server_name="localhost",
        timeout=5,
        tls13_only=False,
        cipher_list=RSA_ONLY_CIPHERS,
    )
    assert result.version == "TLSv1.2"
    assert "RSA" in result.cipher
    assert result.chain_der[0] == rsa_pki.leaf.der
    assert len(result.chain_der) == 2


@pytest.mark.lab
async def test_dual_certificate_server(
    s_server: StartServer, rsa_pki: Pki, ec_pki: Pki, tmp_path: Path
) -> None:
    dcert = tmp_path / "dual.pem"
    dcert.write_bytes(ec_pki.leaf.pem)
    dkey = write_key_pem(tmp_path / "dual.key", ec_pki.leaf)
    port = s_server(rsa_pki.leaf, extra=("-dcert", str(dcert), "-dkey", str(dkey)))
    rsa_result = await fetch_chain(
        "127.0.0.1",
        port,
        server_name=None,
        timeout=5,
        tls13_only=False,
        cipher_list=RSA_ONLY_CIPHERS,
    )
    ec_result = await fetch_chain(
        "127.0.0.1",
        port,
        server_name=None,
        timeout=5,
        tls13_only=False,
        cipher_list=ECDSA_ONLY_CIPHERS,
    )
    assert rsa_result.chain_der[0] == rsa_pki.leaf.der
    assert ec_result.chain_der[0] == ec_pki.leaf.der
    assert "ECDSA" in ec_result.cipher


@pytest.mark.lab
async def test_weak_tls10_server_still_handshakes(s_server: StartServer) -> None:
    ca = issue("Weak CA", subject_key=key("rsa1024", 9), ca=True)
    leaf = resign(issue("weak.example", subject_key=key("rsa1024"), issuer=ca), ca, "sha1")
    port = s_server(leaf, extra=("-tls1", "-cipher", "ALL:@SECLEVEL=0"))
    result = await fetch_chain(
        "127.0.0.1", port, server_name="weak.example", timeout=5, tls13_only=False
    )
    assert result.version == "TLSv1.0"
    cert = x509.load_der_x509_certificate(result.chain_der[0])
    assert cert.subject.rfc4514_string() == "CN=weak.example"


@pytest.mark.lab
async def test_sni_selects_certificate(s_server: StartServer, rsa_pki: Pki, tmp_path: Path) -> None:
    other = issue("other.example", subject_key=key("p256"), san_dns=("other.example",))
    cert2 = tmp_path / "cert2.pem"
    cert2.write_bytes(other.pem)
    key2 = write_key_pem(tmp_path / "key2.pem", other)
    port = s_server(
        rsa_pki.leaf,
        extra=("-servername", "other.example", "-cert2", str(cert2), "-key2", str(key2)),
    )
    with_sni = await fetch_chain("127.0.0.1", port, server_name="other.example", timeout=5)
    without = await fetch_chain("127.0.0.1", port, server_name=None, timeout=5)
    by_ip = await fetch_chain("127.0.0.1", port, server_name="127.0.0.1", timeout=5)
    assert with_sni.chain_der[0] == other.der
    assert without.chain_der[0] == rsa_pki.leaf.der
    assert by_ip.chain_der[0] == rsa_pki.leaf.der


@pytest.mark.lab
async def test_tls13_only_against_tls12_server(s_server: StartServer, rsa_pki: Pki) -> None:
    port = s_server(rsa_pki.leaf, extra=("-tls1_2",))
    with pytest.raises(FullHandshakeError) as caught:
        await fetch_chain("127.0.0.1", port, server_name="localhost", timeout=5)
    assert caught.value.reason is ErrorReason.PROTOCOL_ERROR


@contextlib.contextmanager
def tcp_server(behaviour: Callable[[socket.socket], None] | None) -> Iterator[int]:
    """A listener on loopback; `behaviour(conn)` runs per accepted connection (None: never
    accept, so the kernel completes the TCP handshake and nothing is ever said)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port: int = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                assert behaviour is not None
                behaviour(conn)

    thread = threading.Thread(target=serve, daemon=True) if behaviour else None
    if thread:
        thread.start()
    try:
        yield port
    finally:
        stop.set()
        if thread:
            thread.join(5)
        listener.close()


async def test_silent_server_times_out_within_timeout() -> None:
    with tcp_server(None) as port:
        started = time.monotonic()
        with pytest.raises(FullHandshakeError) as caught:
            await fetch_chain("127.0.0.1", port, server_name="localhost", timeout=0.5)
        elapsed = time.monotonic() - started
    assert caught.value.reason is ErrorReason.TIMEOUT
    assert 0.4 < elapsed < 1.2


async def test_refused_port() -> None:
    port = free_port()
    with pytest.raises(FullHandshakeError) as caught:
        await fetch_chain("127.0.0.1", port, server_name=None, timeout=2)
    assert caught.value.reason is ErrorReason.REFUSED


def answer_http(conn: socket.socket) -> None:
    conn.settimeout(2)
    with contextlib.suppress(OSError):
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def reset_after_hello(conn: socket.socket) -> None:
    conn.settimeout(2)
    with contextlib.suppress(OSError):
        conn.recv(4096)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def close_after_hello(conn: socket.socket) -> None:
    conn.settimeout(2)
    with contextlib.suppress(OSError):
        conn.recv(4096)


async def test_http_server_is_not_tls() -> None:
    with tcp_server(answer_http) as port, pytest.raises(FullHandshakeError) as caught:
        await fetch_chain("127.0.0.1", port, server_name="localhost", timeout=3)
    assert caught.value.reason is ErrorReason.NOT_TLS


async def test_reset_by_peer() -> None:
    with tcp_server(reset_after_hello) as port, pytest.raises(FullHandshakeError) as caught:
        await fetch_chain("127.0.0.1", port, server_name="localhost", timeout=3)
    assert caught.value.reason is ErrorReason.RESET


async def test_silent_close_is_a_protocol_error() -> None:
    with tcp_server(close_after_hello) as port, pytest.raises(FullHandshakeError) as caught:
        await fetch_chain("127.0.0.1", port, server_name="localhost", timeout=3)
    assert caught.value.reason is ErrorReason.PROTOCOL_ERROR


async def test_unresolvable_name() -> None:
    with pytest.raises(FullHandshakeError) as caught:
        await fetch_chain("name.invalid", 443, server_name="name.invalid", timeout=3)
    assert caught.value.reason in (ErrorReason.DNS, ErrorReason.TIMEOUT)


async def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        await fetch_chain("127.0.0.1", 1, server_name=None, timeout=0)
    with pytest.raises(ValueError):
        await fetch_chain(
            "127.0.0.1", 1, server_name=None, timeout=1, tls13_only=False, cipher_list="NOPE"
        )
