"""HTTP Digest (RFC 7616) and NTLM ([MS-NLMP] 2.2.1.3) credentials: built from the specs,
whole and split one byte per segment through the flow table, hostile blobs, redaction."""

from __future__ import annotations

import base64
import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from test_logins import leaks, reassembled

from probe.pcap.classify import classify
from probe.pcap.credentials import find_credentials
from probe.pcap.httpauth import digest_credentials, ntlm_credentials, parse_ntlm_authenticate

# RFC 7616 3.9.1's example request (SHA-256 variant), with its user and response.
DIGEST = (
    b"GET /dir/index.html HTTP/1.1\r\nHost: www.example.org\r\n"
    b'Authorization: Digest username="Mufasa", realm="http-auth@example.org", '
    b'uri="/dir/index.html", algorithm=SHA-256, '
    b'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    b'nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, '
    b'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", '
    b'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"\r\n\r\n'
)
DIGEST_RESPONSE = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"


def authenticate(
    user: str,
    domain: str,
    workstation: str,
    nt: bytes,
    lm: bytes = bytes(24),
    flags: int = 0x00088205,  # UNICODE | NTLM | ALWAYS_SIGN | EXTENDED_SESSIONSECURITY
) -> bytes:
    """An AUTHENTICATE_MESSAGE ([MS-NLMP] 2.2.1.3): the 64-byte fixed part (no Version or
    MIC), then the payload buffers in the order the fields name them."""
    enc = (lambda t: t.encode("utf-16-le")) if flags & 1 else (lambda t: t.encode("ascii"))
    payloads = [lm, nt, enc(domain), enc(user), enc(workstation), b""]
    offset = 64
    fields = b""
    for payload in payloads:
        fields += struct.pack("<HHI", len(payload), len(payload), offset)
        offset += len(payload)
    return (
        b"NTLMSSP\x00"
        + struct.pack("<I", 3)
        + fields
        + struct.pack("<I", flags)
        + b"".join(payloads)
    )


def ntlm_request(message: bytes, scheme: bytes = b"NTLM") -> bytes:
    token = base64.b64encode(message)
    return (
        b"GET /private HTTP/1.1\r\nHost: intranet\r\nAuthorization: " + scheme + b" " + token
        + b"\r\n\r\n"
    )  # fmt: skip


NTLMV2_RESPONSE = bytes(range(16)) + b"\x01\x01" + bytes(6) + bytes(range(40, 80))
NTLMV1_RESPONSE = bytes(range(100, 124))


def test_digest_username_and_redacted_response() -> None:
    (secret,) = digest_credentials(DIGEST)
    assert (secret.kind, secret.user) == ("http-digest", "Mufasa")
    assert secret.detail == {"algorithm": "SHA-256", "realm": "http-auth@example.org"}
    assert not leaks(secret, DIGEST_RESPONSE)
    assert DIGEST[secret.offset :].startswith(b'username="Mufasa"')


def test_digest_extended_username_userhash_and_missing_response() -> None:
    header = (
        b"GET / HTTP/1.1\r\nAuthorization: Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, "
        b'realm="r", nonce="n", uri="/", response="00ff00ff00ff00ff", userhash=false\r\n\r\n'
    )
    (secret,) = digest_credentials(header)
    assert secret.user == "Jäsøn Doe"
    hashed = b'Authorization: Digest username="5a1a", userhash=true, response="abcdef12"\r\n'
    (secret,) = digest_credentials(hashed)
    assert secret.detail["userhash"] is True
    assert digest_credentials(b'Authorization: Digest username="x", realm="r"\r\n') == []


def test_ntlmv2_user_domain_workstation() -> None:
    message = authenticate("alice", "CORP", "WS01", NTLMV2_RESPONSE)
    parsed = parse_ntlm_authenticate(message)
    assert parsed is not None and parsed.version == "v2" and parsed.user == "alice"
    (secret,) = ntlm_credentials(ntlm_request(message))
    assert (secret.kind, secret.user) == ("http-ntlmv2", "CORP\\alice")
    assert secret.detail == {"workstation": "WS01"}
    assert not leaks(secret, NTLMV2_RESPONSE.hex())


def test_ntlmv1_is_its_own_kind_and_oem_strings() -> None:
    message = authenticate("bob", "", "PC", NTLMV1_RESPONSE, flags=0x00000202)  # OEM, NTLM
    (secret,) = ntlm_credentials(ntlm_request(message))
    assert (secret.kind, secret.user) == ("http-ntlmv1", "bob")
    assert secret.detail == {"workstation": "PC", "extended_session_security": False}


def test_negotiate_wrapping_spnego_and_proxy_authorization() -> None:
    message = authenticate("carol", "LAB", "X", NTLMV2_RESPONSE)
    spnego = b"\xa1\x82\x01\x00\x30\x81\xfc\xa2\x81\xf9\x04\x81\xf6" + message  # NegTokenResp
    (secret,) = ntlm_credentials(ntlm_request(spnego, b"Negotiate"))
    assert secret.user == "LAB\\carol"
    proxied = ntlm_request(message).replace(b"Authorization", b"Proxy-Authorization")
    assert [s.kind for s in ntlm_credentials(proxied)] == ["http-ntlmv2"]


def test_anonymous_negotiate_and_challenge_are_not_credentials() -> None:
    assert ntlm_credentials(ntlm_request(authenticate("", "", "", b"", lm=b"\x00"))) == []
    negotiate = b"NTLMSSP\x00\x01\x00\x00\x00" + struct.pack("<I", 0x00088207) + bytes(16)
    assert ntlm_credentials(ntlm_request(negotiate)) == []


def test_ntlm_buffers_outside_the_message_are_refused() -> None:
    message = bytearray(authenticate("alice", "CORP", "WS01", NTLMV2_RESPONSE))
    struct.pack_into("<HHI", message, 20, 200, 200, 64)  # NT response longer than the message
    assert parse_ntlm_authenticate(bytes(message)) is None
    struct.pack_into("<HHI", message, 20, 16, 16, 8)  # inside the fixed header
    assert parse_ntlm_authenticate(bytes(message)) is None
    assert parse_ntlm_authenticate(b"NTLMSSP\x00\x03\x00\x00\x00") is None  # cut short


def test_through_the_flow_table_one_byte_per_segment() -> None:
    for request, kind in (
        (DIGEST, "http-digest"),
        (ntlm_request(authenticate("dave", "CORP", "WS", NTLMV2_RESPONSE)), "http-ntlmv2"),
    ):
        flow = reassembled(request, b"HTTP/1.1 200 OK\r\n\r\n")
        classification = classify(flow)
        assert classification.protocol == "http"
        assert [s.kind for s in find_credentials(flow, classification)] == [kind]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=2**16 - 1))
def test_hostile_ntlm_blobs_never_raise(tail: bytes, length: int) -> None:
    blob = b"NTLMSSP\x00\x03\x00\x00\x00" + struct.pack("<HHI", length, length, 64) + tail
    parsed = parse_ntlm_authenticate(blob)
    assert parsed is None or len(parsed.nt_response) <= len(blob)
    ntlm_credentials(ntlm_request(blob))
    digest_credentials(b"Authorization: Digest " + tail.replace(b"\n", b" ") + b"\r\n")
