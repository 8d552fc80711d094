"""Test helper: keys and certificates made on the fly with `cryptography`.

Keys are cached for the session (RSA generation is the slow part). cryptography 46 refuses to
sign certificates with SHA-1 or MD5, so `resign` re-signs a SHA-256 RSA certificate by hand:
the signature AlgorithmIdentifier inside the TBS has the same length for all three hashes, so it
is swapped in place and the TBS signed with the primitive API (which still allows them).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from probe.certgen import PrivateKey, make_cert, private_key_pem, rsa_key

KeyKind = Literal["rsa1024", "rsa2048", "p256", "p384", "p521", "ed25519", "ed448", "dsa1024"]

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


@functools.cache
def key(kind: KeyKind, index: int = 0) -> PrivateKey:
    """A private key of this kind; `index` gives distinct keys of the same kind."""
    del index  # only part of the cache key
    if kind == "rsa1024":
        return rsa_key(1024)
    if kind == "rsa2048":
        return rsa_key(2048)
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "p521":
        return ec.generate_private_key(ec.SECP521R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "ed448":
        return ed448.Ed448PrivateKey.generate()
    return dsa.generate_private_key(key_size=1024)


def name(cn: str, org: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attributes)


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: PrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return private_key_pem(self.key)


def issue(
    cn: str,
    *,
    subject_key: PrivateKey | None = None,
    issuer: Issued | None = None,
    san_dns: Sequence[str] = (),
    san_ips: Sequence[str] = (),
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    ca: bool = False,
    hash_algorithm: hashes.HashAlgorithm | None = None,
    subject: x509.Name | None = None,
    serial: int = 1000,
) -> Issued:
    """A certificate for `cn`, self-signed unless `issuer` is given. Defaults: rsa2048, SHA-256,
    valid from NOW - 30 days to NOW + 90 days."""
    own_key = subject_key if subject_key is not None else key("rsa2048")
    general: list[x509.GeneralName] = [x509.DNSName(d) for d in san_dns]
    general += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in san_ips]
    cert = make_cert(
        subject=subject if subject is not None else name(cn),
        key=own_key,
        issuer=(issuer.cert, issuer.key) if issuer is not None else None,
        not_before=not_before if not_before is not None else NOW - timedelta(days=30),
        not_after=not_after if not_after is not None else NOW + timedelta(days=90),
        ca=ca,
        san=general,
        serial=serial,
        hash_algorithm=hash_algorithm,
    )
    return Issued(cert=cert, key=own_key)


# sha256WithRSAEncryption and the same-length legacy identifiers (AlgorithmIdentifier DER).
_SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
_LEGACY_RSA = {
    "sha1": (bytes.fromhex("300d06092a864886f70d0101050500"), hashes.SHA1()),
    "md5": (bytes.fromhex("300d06092a864886f70d0101040500"), hashes.MD5()),
}


def resign(issued: Issued, signer: Issued, digest: Literal["sha1", "md5"]) -> Issued:
    """`issued` (SHA-256 RSA-signed) re-signed by `signer` (an RSA key) with SHA-1 or MD5."""
    tbs = issued.cert.tbs_certificate_bytes
    assert _SHA256_RSA in tbs, "resign needs a sha256WithRSAEncryption certificate"
    algorithm_id, hash_algorithm = _LEGACY_RSA[digest]
    new_tbs = tbs.replace(_SHA256_RSA, algorithm_id, 1)
    signer_key = signer.key
    assert isinstance(signer_key, rsa.RSAPrivateKey)
    signature = signer_key.sign(new_tbs, padding.PKCS1v15(), hash_algorithm)
    body = new_tbs + algorithm_id + _der(0x03, b"\x00" + signature)
    der = _der(0x30, body)
    return Issued(cert=x509.load_der_x509_certificate(der), key=issued.key)


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        header = bytes([length])
    else:
        encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([0x80 | len(encoded)]) + encoded
    return bytes([tag]) + header + content


@dataclass(frozen=True)
class Pki:
    root: Issued
    intermediate: Issued
    leaf: Issued


def pki(
    leaf_key: PrivateKey | None = None,
    *,
    leaf_cn: str = "localhost",
    san_dns: Sequence[str] = ("localhost",),
    san_ips: Sequence[str] = ("127.0.0.1",),
    ca_key: KeyKind = "rsa2048",
    leaf_not_after: datetime | None = None,
) -> Pki:
    """Root CA -> intermediate CA -> leaf."""
    root = issue("Probe Test Root", subject_key=key(ca_key, 1), ca=True, serial=1)
    intermediate = issue(
        "Probe Test Intermediate", subject_key=key(ca_key, 2), issuer=root, ca=True, serial=2
    )
    leaf = issue(
        leaf_cn,
        subject_key=leaf_key,
        issuer=intermediate,
        san_dns=san_dns,
        san_ips=san_ips,
        not_after=leaf_not_after,
        serial=3,
    )
    return Pki(root=root, intermediate=intermediate, leaf=leaf)


def write_pem(path: Path, *items: Issued) -> Path:
    path.write_bytes(b"".join(item.pem for item in items))
    return path
