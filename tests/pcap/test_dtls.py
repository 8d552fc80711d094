"""DTLS flows (probe.pcap.classify._dtls): hand-built records, hostile bytes, and a real DTLS 1.2
handshake between openssl s_server -dtls1_2 and s_client recorded with tcpdump on lo."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.pcap.analyze import analyze
from probe.pcap.classify import _dtls
from tests.lab.servers import free_port, require_binary


def record(record_type: int, version: int, body: bytes, epoch: int = 0) -> bytes:
    """A DTLSPlaintext record (RFC 6347 4.1): type, version, epoch, 48-bit sequence, length."""
    return (
        bytes([record_type])
        + version.to_bytes(2, "big")
        + epoch.to_bytes(2, "big")
        + (1).to_bytes(6, "big")
        + len(body).to_bytes(2, "big")
        + body
    )


def test_records_are_recognised() -> None:
    hello = record(22, 0xFEFF, b"\x01" + bytes(60))
    assert _dtls(hello) == "DTLSv1.0"
    assert _dtls(record(22, 0xFEFD, bytes(40)) + record(20, 0xFEFD, b"\x01")) == "DTLSv1.2"
    # a DTLS 1.3 unified-header record after a plaintext one (RFC 9147 4)
    assert _dtls(record(22, 0xFEFD, bytes(40)) + b"\x2f" + bytes(30)) == "DTLSv1.2"


def test_lookalikes_are_not_dtls() -> None:
    assert _dtls(record(22, 0x0303, bytes(40))) is None  # a TLS version
    assert _dtls(record(99, 0xFEFD, bytes(40))) is None  # unknown content type
    assert _dtls(record(22, 0xFEFD, bytes(40))[:-1]) is None  # length overruns the datagram
    assert _dtls(record(22, 0xFEFD, bytes(40)) + b"\x16\xfe") is None  # trailing junk
    assert _dtls(b"") is None and _dtls(b"\x2f" + bytes(30)) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_hostile_bytes_never_raise(data: bytes) -> None:
    assert _dtls(data) in (None, "DTLSv1.0", "DTLSv1.2", "DTLSv1.0 (OpenSSL pre-RFC)")


def test_real_dtls_handshake_is_an_encrypted_dtls_flow(tmp_path: Path) -> None:
    openssl, tcpdump = require_binary("openssl"), require_binary("tcpdump")
    key, cert, pcap = tmp_path / "key.pem", tmp_path / "cert.pem", tmp_path / "dtls.pcap"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=dtls.probe.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    dump = subprocess.Popen(
        [tcpdump, "-i", "lo", "-U", "-w", str(pcap), f"udp port {port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    server = subprocess.Popen(
        [openssl, "s_server", "-dtls1_2", "-accept", str(port), "-cert", cert, "-key", key,
         "-quiet", "-naccept", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(1.0)  # tcpdump opens the interface, s_server binds
        client = subprocess.run(
            # -brief, not -quiet (which implies -ign_eof): the client leaves at stdin's end
            [openssl, "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{port}", "-brief"],
            input=b"hello over dtls\n", capture_output=True, timeout=20,
        )  # fmt: skip
        assert client.returncode == 0, client.stderr[-500:]
        time.sleep(0.5)
    finally:
        for process in (server, dump):
            process.terminate()
            process.wait(timeout=10)
    analysis = analyze([pcap])
    [flow] = [f for f in analysis.flows if f.transport == "udp"]
    assert flow.protocol == "dtls"
    assert flow.encrypted is True
    assert flow.detail.get("record_version") in ("DTLSv1.0", "DTLSv1.2")
