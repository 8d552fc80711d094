"""Leaf certificates seen in TLS flows (probe.pcap.certificate) and PCAP-TLS-WEAK-CERTIFICATE.

A real capture (openssl s_server with an RSA-1024 certificate, recorded by
tests/pcap/record_weak_cert.py), hand-built server flights cut every way (one byte per segment,
one message per record, the Certificate split over records, a chain cut by the scan budget),
and hypothesis over hostile bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pcap_writer import conversation, write_pcap

from probe.grading.profile import load_profile
from probe.grading.rules import evaluate_capture
from probe.pcap.analyze import analyze
from probe.pcap.certificate import MAX_SAN, find_server_hello, leaf_certificate
from probe.report.pcap_doc import document
from tests.lab.servers import require_binary
from tests.pcap.record_weak_cert import SERVER_NAME
from tests.pcap.record_weak_cert import record as record_capture

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "pcap-output.schema.json").read_text())
PROFILE = load_profile("azure-transit")
C, S = ("10.0.0.1", 40000), ("10.0.0.2", 443)
NOW_NS = 1_000_000 * 1000  # the conversations' first packet time, in ns
WEAK_ID = "PCAP-TLS-WEAK-CERTIFICATE"


# --- wire builders (RFC 5246 6.2.1 records, 7.4 handshake messages) ----------------------


def u24(n: int) -> bytes:
    return n.to_bytes(3, "big")


def record(payload: bytes, content_type: int = 22) -> bytes:
    return struct.pack("!BHH", content_type, 0x0303, len(payload)) + payload


def handshake(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + u24(len(body)) + body


def client_hello() -> bytes:
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\xc0\x2f" + b"\x01\x00"
    return record(handshake(1, body))


def server_hello(version: int = 0x0303, suite: int = 0xC02F, extensions: bytes = b"") -> bytes:
    body = struct.pack("!H", version) + bytes(range(32)) + b"\x00" + struct.pack("!HB", suite, 0)
    if extensions:
        body += struct.pack("!H", len(extensions)) + extensions
    return handshake(2, body)


def certificate_msg(chain: list[bytes]) -> bytes:
    certs = b"".join(u24(len(der)) + der for der in chain)
    return handshake(11, u24(len(certs)) + certs)


HELLO_DONE = handshake(14, b"")


def make_cert(key: Any, *, sha: Any = None, sans: tuple[str, ...] = ("a.probe.test",)) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, sans[0] if sans else "x")])
    start = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=30))
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False
        )
    cert = builder.sign(key, sha or hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def rsa1024_sha1(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    # cryptography refuses to sign with SHA-1; openssl still does.
    tmp = tmp_path_factory.mktemp("sha1")
    subprocess.run(
        [require_binary("openssl"), "req", "-x509", "-newkey", "rsa:1024", "-nodes", "-sha1",
         "-keyout", str(tmp / "k.pem"), "-out", str(tmp / "c.der"), "-outform", "DER",
         "-days", "3", "-subj", "/CN=sha1.probe.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    return (tmp / "c.der").read_bytes()


@pytest.fixture(scope="module")
def ec256() -> bytes:
    return make_cert(ec.generate_private_key(ec.SECP256R1()))


def flows_of(tmp_path: Path, server_parts: list[bytes], **kw: Any) -> Any:
    messages = [(True, client_hello()), *((False, p) for p in server_parts)]
    path = write_pcap(tmp_path / "c.pcap", conversation(C, S, messages))
    return analyze([str(path)], **kw)


def report(analysis: Any) -> dict[str, Any]:
    doc = document(PROFILE.name, analysis, evaluate_capture(PROFILE, analysis))
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    return doc


# --- a real capture ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def weak_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weak") / "rsa1024.pcap"
    record_capture(path)
    return path


def test_real_rsa1024_capture(weak_capture: Path) -> None:
    analysis = analyze([str(weak_capture)])
    tls = [f for f in analysis.flows if f.protocol == "tls"]
    assert len(tls) == 1
    flow = tls[0]
    assert flow.tls_version == "TLSv1.2" and flow.sni == SERVER_NAME
    cert = flow.certificate
    assert cert is not None
    assert (cert.key_type, cert.key_bits, cert.curve) == ("RSA", 1024, None)
    assert cert.signature_hash == "sha256" and cert.self_signed and not cert.expired
    assert cert.san == (SERVER_NAME, "alt.probe.test") and cert.chain_length == 1
    doc = report(analysis)
    (row,) = [f for f in doc["flows"] if f["protocol"] == "tls"]
    assert row["certificate"]["key_bits"] == 1024
    assert row["certificate"]["subject"] == f"CN={SERVER_NAME}"
    weak = [f for f in doc["findings"] if f["id"] == WEAK_ID]
    assert len(weak) == 1 and weak[0]["severity"] == "high" and weak[0]["protocol"] == "tls"
    assert "RSA key of 1024 bits (minimum is 2048)" in weak[0]["message"]
    assert f"SAN {SERVER_NAME}, alt.probe.test" in weak[0]["evidence"]
    assert weak[0]["flow"]["dport"] == flow.dport


def test_committed_tls_capture_rsa2048_is_not_weak() -> None:
    analysis = analyze([str(ROOT / "captures" / "pcap" / "tls_versions.pcap")])
    certs = {f.tls_version: f.certificate for f in analysis.flows}
    assert certs["TLSv1.3"] is None  # encrypted in TLS 1.3 (RFC 8446 2)
    for version in ("TLSv1.2", "TLSv1.0"):
        cert = certs[version]
        assert cert is not None and (cert.key_type, cert.key_bits) == ("RSA", 2048)
    assert not [f for f in report(analysis)["findings"] if f["id"] == WEAK_ID]


# --- hand-built flights ------------------------------------------------------------------


def test_one_byte_per_segment(tmp_path: Path, rsa1024_sha1: bytes) -> None:
    flight = record(server_hello() + certificate_msg([rsa1024_sha1]) + HELLO_DONE)
    analysis = flows_of(tmp_path, [flight[i : i + 1] for i in range(len(flight))])
    (flow,) = analysis.flows
    assert flow.certificate is not None and flow.certificate.key_bits == 1024
    (weak,) = [f for f in report(analysis)["findings"] if f["id"] == WEAK_ID]
    assert "signed with sha1 (sha1WithRSAEncryption)" in weak["message"]
    assert "RSA key of 1024 bits" in weak["message"]


def test_messages_over_records(tmp_path: Path, rsa1024_sha1: bytes) -> None:
    """One message per record, and the Certificate message split over three records (RFC 5246
    6.2.1 allows both)."""
    cert = certificate_msg([rsa1024_sha1])
    thirds = [cert[: len(cert) // 3], cert[len(cert) // 3 : 2 * len(cert) // 3]]
    thirds.append(cert[2 * len(cert) // 3 :])
    parts = [record(server_hello()), *(record(t) for t in thirds), record(HELLO_DONE)]
    (flow,) = flows_of(tmp_path, parts).flows
    assert flow.certificate is not None and flow.certificate.signature_hash == "sha1"


def test_ec256_is_not_weak(tmp_path: Path, ec256: bytes) -> None:
    flight = record(server_hello() + certificate_msg([ec256]) + HELLO_DONE)
    analysis = flows_of(tmp_path, [flight])
    cert = analysis.flows[0].certificate
    assert cert is not None and (cert.key_type, cert.key_bits, cert.curve) == (
        "EC",
        256,
        "secp256r1",
    )
    assert not [f for f in report(analysis)["findings"] if f["id"] == WEAK_ID]


def test_chain_cut_by_the_scan_budget_keeps_a_whole_leaf(
    tmp_path: Path, rsa1024_sha1: bytes
) -> None:
    filler = bytes(6000)  # a second "certificate" past the 4 KiB kept per direction
    flight = record(server_hello() + certificate_msg([rsa1024_sha1, filler]) + HELLO_DONE)
    (flow,) = flows_of(tmp_path, [flight]).flows
    assert flow.certificate is not None
    assert flow.certificate.key_bits == 1024 and flow.certificate.chain_length is None


def test_leaf_cut_by_the_scan_budget_is_not_guessed(tmp_path: Path, rsa1024_sha1: bytes) -> None:
    flight = record(server_hello() + certificate_msg([rsa1024_sha1]) + HELLO_DONE)
    (flow,) = flows_of(tmp_path, [flight], prefix_bytes=len(flight) - 40).flows
    assert flow.protocol == "tls" and flow.certificate is None


def test_tls13_has_no_certificate(tmp_path: Path, ec256: bytes) -> None:
    versions = struct.pack("!HHH", 43, 2, 0x0304)  # supported_versions (RFC 8446 4.2.1)
    hello = server_hello(suite=0x1301, extensions=versions)
    # What a TLS 1.2 parser would take for a certificate must not be read after a 1.3 hello.
    flight = record(hello) + record(certificate_msg([ec256]))
    (flow,) = flows_of(tmp_path, [flight]).flows
    assert flow.tls_version == "TLSv1.3" and flow.certificate is None


def test_garbage_certificate_is_no_certificate(tmp_path: Path) -> None:
    flight = record(server_hello() + certificate_msg([b"\x30\x03\x02\x01\x00"]) + HELLO_DONE)
    (flow,) = flows_of(tmp_path, [flight]).flows
    assert flow.tls_version == "TLSv1.2" and flow.certificate is None


def test_strings_are_cleaned_and_san_capped() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    sans = tuple(f"n{i}.probe.test" for i in range(20))
    der = make_cert(key, sans=sans)
    flight = record(server_hello() + certificate_msg([der]) + HELLO_DONE)
    cert = leaf_certificate(flight, now_ns=NOW_NS)
    assert cert is not None and len(cert.san) == MAX_SAN and cert.san_count == 20
    # a subject with a terminal escape and a bidi override comes out without them
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evil\x1b[31m\u202etest")])
    start = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
    hostile = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    in_2030 = int(dt.datetime(2030, 1, 1, tzinfo=dt.UTC).timestamp()) * 10**9
    cert = leaf_certificate(record(server_hello() + certificate_msg([hostile])), now_ns=in_2030)
    assert cert is not None and "\x1b" not in cert.subject and "\u202e" not in cert.subject
    assert cert.subject.startswith("CN=evil[31m")
    assert cert.expired  # judged at the capture's own time, not the wall clock


def test_find_server_hello_after_starttls_reply() -> None:
    hello = record(server_hello())
    assert find_server_hello(hello) == 0
    reply = b"220 2.0.0 Ready to start TLS\r\n"
    assert find_server_hello(reply + hello) == len(reply)
    assert find_server_hello(b"\x16\x03\x03\x00\x05\x01" + hello) == 6  # not a ServerHello
    assert find_server_hello(b"junk") == -1


def test_rule_thresholds_come_from_the_profile(tmp_path: Path, ec256: bytes) -> None:
    from dataclasses import replace

    flight = record(server_hello() + certificate_msg([ec256]) + HELLO_DONE)
    analysis = flows_of(tmp_path, [flight])
    strict = replace(
        PROFILE,
        requirements=tuple(
            replace(r, params={**r.params, "min_ec_bits": 384}) if r.id == WEAK_ID else r
            for r in PROFILE.requirements
        ),
    )
    verdict = evaluate_capture(strict, analysis)
    (weak,) = [f for f in verdict.findings if f.id == WEAK_ID]
    assert "EC key of 256 bits (secp256r1) (minimum is 384)" in weak.message


# --- hostile bytes -----------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_random_server_bytes_never_raise(data: bytes) -> None:
    result = leaf_certificate(data, now_ns=0)
    assert result is None or result.key_bits >= 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_flights_never_raise(data: st.DataObject) -> None:
    der = _SMALL_CERT
    flight = bytearray(record(server_hello() + certificate_msg([der]) + HELLO_DONE))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(flight) - 1))
        flight[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(flight)))
    result = leaf_certificate(bytes(flight[:cut]), now_ns=NOW_NS)
    # a mutated key OID gives an unknown key type (its dotted OID, 0 bits), never an error
    assert result is None or (result.key_bits >= 0 and result.key_type.isprintable())


_SMALL_CERT = make_cert(ec.generate_private_key(ec.SECP256R1()))
