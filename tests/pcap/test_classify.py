"""probe.pcap.classify: protocols found by content on real and hand-built flow prefixes."""

from __future__ import annotations

import struct
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from test_flows import flows_of

from probe.codecs.smb2 import Dialect, build_negotiate_request
from probe.codecs.tls.constants import Version
from probe.codecs.tls.hello import build_client_hello
from probe.pcap.classify import classify
from probe.pcap.flows import Flow

ROOT = Path(__file__).resolve().parents[2]
TLS12_SERVER = (ROOT / "captures" / "tls" / "openssl_tls12_ecdhe_rsa.bin").read_bytes()


def flow(client: bytes, server: bytes = b"", *, port: int = 40000, udp: bool = False,
         datagrams: tuple[tuple[bytes, ...], tuple[bytes, ...]] | None = None) -> Flow:  # fmt: skip
    if udp and datagrams is None:
        datagrams = ((client,) if client else (), (server,) if server else ())
    return Flow(
        client=("10.0.0.1", 50000), server=("10.0.0.2", port),
        transport="udp" if udp else "tcp", packets=2, packets_to_server=1, packets_to_client=1,
        bytes_to_server=len(client), bytes_to_client=len(server), first_ns=0, last_ns=1,
        client_prefix=client, server_prefix=server,
        client_datagrams=datagrams[0] if datagrams else (),
        server_datagrams=datagrams[1] if datagrams else (),
    )  # fmt: skip


def hello() -> bytes:
    return build_client_hello(version=Version.TLS1_2, cipher_suites=[0xC030, 0xC02F],
                              server_name="example.test", random=bytes(32))  # fmt: skip


def test_real_http_capture() -> None:
    for name in ("lo_en10mb.pcap", "lo_ipv6_nano.pcap", "multi.pcapng"):
        http = [f for f in flows_of(ROOT / "captures" / "pcap" / name) if f.transport == "tcp"]
        assert http
        for f in http:
            result = classify(f)
            assert result.protocol == "http" and result.encrypted is False
            assert result.detail["method"] == "GET"
            assert f.client_prefix.startswith(b"GET /record.py HTTP/1.1\r\n")


def test_tls_client_and_server_hello() -> None:
    result = classify(flow(hello(), TLS12_SERVER[:4096], port=8443))
    assert result.protocol == "tls" and result.encrypted is True
    assert result.detail["version"] == "TLSv1.2"
    assert result.detail["cipher_suite"] == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    assert result.detail["sni"] == "example.test"


def test_tls_one_side_only() -> None:
    assert classify(flow(hello())).protocol == "tls"
    assert classify(flow(b"", TLS12_SERVER)).detail["version"] == "TLSv1.2"
    assert classify(flow(hello()[:20])).protocol == "tls"  # a hello cut short


def test_smtp_starttls_then_tls() -> None:
    client = b"EHLO me\r\nSTARTTLS\r\n" + hello()
    server = b"220 mx ESMTP\r\n250-mx\r\n250 STARTTLS\r\n220 go ahead\r\n" + TLS12_SERVER
    result = classify(flow(client, server[:4096], port=25))
    assert result.protocol == "tls" and result.detail["starttls"] == "STARTTLS"
    assert result.detail["version"] == "TLSv1.2"


def test_ssh_banner() -> None:
    result = classify(flow(b"SSH-2.0-OpenSSH_9.2p1\r\n", b"SSH-2.0-dropbear\r\n", port=2222))
    assert result.protocol == "ssh" and result.encrypted is True
    assert result.detail["server_banner"] == "SSH-2.0-dropbear"


def smb_message(protocol_id: bytes, body: bytes = bytes(60)) -> bytes:
    msg = protocol_id + body
    return struct.pack("!I", len(msg)) + msg


def test_smb2_clear_vs_smb3_transform() -> None:
    negotiate = build_negotiate_request(dialects=[Dialect.SMB3_1_1, Dialect.SMB2_1],
                                        client_guid=bytes(16), salt=bytes(32))  # fmt: skip
    clear = classify(flow(negotiate + smb_message(b"\xfeSMB"), smb_message(b"\xfeSMB"), port=4450))
    assert clear.protocol == "smb2" and clear.encrypted is False
    enc = classify(flow(negotiate + smb_message(b"\xfdSMB"), smb_message(b"\xfeSMB"), port=445))
    assert enc.protocol == "smb3-encrypted" and enc.encrypted is True
    assert classify(flow(smb_message(b"\xffSMB"))).protocol == "smb1"


def test_ftp_on_a_non_standard_port() -> None:
    result = classify(flow(b"USER alice\r\nPASS s3cret\r\n", b"220 Welcome\r\n331 ok\r\n",
                           port=2100))  # fmt: skip
    assert result.protocol == "ftp" and result.encrypted is False


def test_mail_banners() -> None:
    assert classify(flow(b"EHLO me\r\n", b"220 hi\r\n", port=2525)).protocol == "smtp"
    assert classify(flow(b"USER a\r\n", b"+OK POP3 ready\r\n", port=9)).protocol == "pop3"
    assert classify(flow(b"a1 LOGIN a b\r\n", b"* OK IMAP4rev1\r\n", port=9)).protocol == "imap"
    assert classify(flow(b"a1 CAPABILITY\r\n")).protocol == "imap"


def test_port_is_only_a_tie_breaker() -> None:
    assert classify(flow(b"GET / HTTP/1.1\r\n\r\n", port=22)).protocol == "http"
    assert classify(flow(b"USER a\r\n", port=110)).protocol == "pop3"
    assert classify(flow(b"USER a\r\n", port=9999)).protocol == "ftp"
    unknown = classify(flow(b"\x00\x01garbage"))
    assert unknown.protocol == "unknown" and unknown.encrypted is None


def dns_query() -> bytes:
    header = struct.pack("!6H", 0x1234, 0x0100, 1, 0, 0, 0)  # RFC 1035 4.1.1: one question
    return header + b"\x07example\x04test\x00" + b"\x00\x01\x00\x01"


def test_udp_protocols() -> None:
    assert classify(flow(dns_query(), port=53, udp=True)).protocol == "dns"
    assert classify(flow(dns_query(), port=9953, udp=True)).protocol == "dns"
    quic = bytes([0xC3]) + b"\x00\x00\x00\x01" + b"\x08" + bytes(8) + b"\x00" + bytes(40)
    result = classify(flow(quic, port=443, udp=True))
    assert result.protocol == "quic" and result.encrypted is True
    assert result.detail["version"] == "1"
    ike = bytes(range(1, 9)) + bytes(8) + bytes([33, 0x20, 34, 8]) + bytes(4)
    ike += struct.pack("!I", 28)
    assert classify(flow(ike, port=500, udp=True)).protocol == "ike"
    assert classify(flow(bytes(4) + ike, port=4500, udp=True)).protocol == "ike"
    assert classify(flow(b"probe udp datagram", port=18053, udp=True)).protocol == "unknown"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300), st.sampled_from([21, 53, 443, 500, 4500,
       445, 9999]), st.booleans())  # fmt: skip
def test_classify_never_raises(client: bytes, server: bytes, port: int, udp: bool) -> None:
    result = classify(flow(client, server, port=port, udp=udp))
    assert result.protocol == result.protocol.lower()


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 4096), st.binary(max_size=64))
def test_classify_never_raises_on_damaged_tls(cut: int, junk: bytes) -> None:
    classify(flow(hello()[:cut] + junk, TLS12_SERVER[:cut] + junk))
    classify(flow(junk + hello(), junk + TLS12_SERVER[:cut]))
