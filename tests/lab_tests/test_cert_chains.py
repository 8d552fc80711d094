"""Served chains, end to end: openssl s_server serving a chain in order, out of order and
without its intermediate (``-cert_chain``), scanned by probe's TLS check; sslyze's
certificate_info scan command on the same servers is the oracle for order, must-staple, the
SCT count and the custom-CA verdict."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from probe.checks import tls
from probe.checks.context import CheckContext, ScanOptions
from probe.model import CertificateFacts, Status, Target
from probe.net.limits import Limits
from tests.lab.servers import LOOPBACK, require_binary, run_server

pytestmark = pytest.mark.lab

SCT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")


@dataclass(frozen=True)
class Pki:
    root: Path
    intermediate: Path
    leaf: Path
    leaf_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "probe test lab"),
        ]
    )


def _fake_scts(count: int) -> bytes:
    """RFC 6962 3.3 list of well-formed SCTs (RFC 6962 3.2) that no log signed."""
    scts = b""
    for i in range(count):
        sct = (
            b"\x00"
            + bytes([i + 1]) * 32
            + struct.pack(">Q", 1_700_000_000_000)
            + b"\x00\x00\x04\x03"
            + struct.pack(">H", 8)
            + b"\x30\x06\x02\x01\x01\x02\x01\x01"
        )
        scts += struct.pack(">H", len(sct)) + sct
    body = struct.pack(">H", len(scts)) + scts
    return b"\x04" + bytes([len(body)]) + body if len(body) < 0x80 else _long(body)


def _long(body: bytes) -> bytes:
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return b"\x04" + bytes([0x80 | len(size)]) + size + body


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool,
    now: dt.datetime,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    """A certificate cryptography's strict verifier (sslyze's) accepts: SKI/AKI, critical
    basicConstraints, keyCertSign on CAs, SAN and serverAuth on the leaf."""
    issuer_cert, issuer_key = issuer if issuer is not None else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_cert.subject if issuer_cert is not None else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=60 if not ca else 3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )
    usage = dict.fromkeys(
        (
            "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
            "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
        ),
        False,
    )  # fmt: skip
    if ca:
        usage.update(key_cert_sign=True, crl_sign=True, digital_signature=True)
    else:
        usage.update(digital_signature=True)
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
    builder = builder.add_extension(x509.KeyUsage(**usage), critical=True)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("chains")
    now = dt.datetime.now(dt.UTC)
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(3)]
    root = _issue("probe chain root", keys[0], None, ca=True, now=now)
    inter = _issue("probe chain intermediate", keys[1], (root, keys[0]), ca=True, now=now)
    leaf = _issue(
        "localhost",
        keys[2],
        (inter, keys[1]),
        ca=False,
        now=now,
        extensions=[
            (x509.TLSFeature([x509.TLSFeatureType.status_request]), False),
            (x509.UnrecognizedExtension(SCT_OID, _fake_scts(2)), False),
        ],
    )

    def pem(name: str, *certs: x509.Certificate) -> Path:
        path = folder / name
        path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
        return path

    key_path = folder / "leaf.key"
    key_path.write_bytes(
        keys[2].private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Pki(pem("root.pem", root), pem("inter.pem", inter), pem("leaf.pem", leaf), key_path)


# served chain after the leaf -> (chain_in_order, chain_complete, trusted with the root)
LAYOUTS: dict[str, tuple[tuple[str, ...], bool, bool, bool]] = {
    "in_order": (("intermediate",), True, True, True),
    "out_of_order": (("root", "intermediate"), False, True, True),
    "missing_intermediate": ((), True, False, False),
}


@contextlib.contextmanager
def chain_server(pki: Pki, layout: str, workdir: Path) -> Iterator[int]:
    openssl = require_binary("openssl")
    extra = [getattr(pki, part) for part in LAYOUTS[layout][0]]
    args: list[str] = []
    if extra:
        chain_file = workdir / f"{layout}-chain.pem"
        chain_file.write_bytes(b"".join(p.read_bytes() for p in extra))
        args = ["-cert_chain", str(chain_file)]

    def build(ports: list[int]) -> list[str]:
        return [
            openssl, "s_server", "-accept", f"{LOOPBACK}:{ports[0]}",
            "-cert", str(pki.leaf), "-key", str(pki.leaf_key), *args, "-www", "-quiet",
        ]  # fmt: skip

    with run_server(build, ports=1, log=workdir / f"{layout}.log") as (_proc, ports):
        yield ports[0]


def scan_certificates(port: int, ca_file: Path) -> tuple[CertificateFacts, ...]:
    target = Target(
        given=f"{LOOPBACK}:{port}", host=LOOPBACK, port=port, check="tls", server_name="localhost"
    )
    options = ScanOptions(timeout=5.0, ca_file=str(ca_file), retries=1, tls_groups=False)

    async def go() -> tuple[CertificateFacts, ...]:
        limits = Limits(concurrency=options.concurrency, per_host=options.per_host)
        result = await tls.run(target, CheckContext(options=options, limits=limits))
        assert result.status is Status.COMPLETED, result.error
        assert result.tls is not None
        return result.tls.certificates

    return asyncio.run(go())


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_served_chain_facts(pki: Pki, layout: str, tmp_path: Path) -> None:
    _parts, in_order, complete, trusted = LAYOUTS[layout]
    with chain_server(pki, layout, tmp_path) as port:
        certificates = scan_certificates(port, pki.root)
    [cert] = certificates  # the same chain over TLS 1.2 and 1.3
    assert cert.chain_in_order is in_order
    assert cert.chain_complete is complete
    assert cert.trusted is trusted
    assert cert.trust_stores["custom"] is trusted
    assert not any(v for k, v in cert.trust_stores.items() if k != "custom")
    assert cert.must_staple is True
    assert cert.sct_count == 2
    assert cert.extended_key_usage == ("serverAuth",)
    assert cert.server_auth is True
    assert cert.key_usage == ("digitalSignature",)
    assert cert.validity_days == 61
    assert cert.exceeds_validity_limit is False


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_sslyze_agrees(pki: Pki, layout: str, tmp_path: Path) -> None:
    from sslyze import (  # type: ignore[attr-defined]
        CertificateInfoExtraArgument,
        ScanCommand,
        ScanCommandAttemptStatusEnum,
        ScanCommandsExtraArguments,
        Scanner,
        ServerNetworkConfiguration,
        ServerNetworkLocation,
        ServerScanRequest,
    )

    with chain_server(pki, layout, tmp_path) as port:
        ours = scan_certificates(port, pki.root)[0]
        scanner = Scanner(per_server_concurrent_connections_limit=1)
        scanner.queue_scans(
            [
                ServerScanRequest(
                    server_location=ServerNetworkLocation("localhost", port, LOOPBACK),
                    network_configuration=ServerNetworkConfiguration("localhost"),
                    scan_commands={ScanCommand.CERTIFICATE_INFO},
                    scan_commands_extra_arguments=ScanCommandsExtraArguments(
                        certificate_info=CertificateInfoExtraArgument(custom_ca_file=pki.root)
                    ),
                )
            ]
        )
        (result,) = list(scanner.get_results())
    assert result.scan_result is not None
    attempt = result.scan_result.certificate_info
    assert attempt.status is ScanCommandAttemptStatusEnum.COMPLETED, attempt.error_trace
    assert attempt.result is not None
    deployment = attempt.result.certificate_deployments[0]
    assert deployment.received_chain_has_valid_order is ours.chain_in_order
    assert deployment.leaf_certificate_has_must_staple_extension is ours.must_staple
    assert deployment.leaf_certificate_signed_certificate_timestamps_count == ours.sct_count
    verdicts = {
        r.trust_store.name: r.was_validation_successful for r in deployment.path_validation_results
    }
    assert verdicts.pop("Supplied CA file") is ours.trust_stores["custom"]
    # sslyze's public stores (Mozilla, Apple, Android, Windows, Java) reject the lab chain too.
    assert not any(verdicts.values())
