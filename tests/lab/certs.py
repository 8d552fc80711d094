"""Keys, certificates and DH parameters for the lab, generated once per test session.

Every leaf except ``self_signed`` is signed by one lab CA (``LabCerts.ca_cert``), so each
certificate has exactly the defect its name says and nothing else: pass ``ca_cert`` as
``ca_file`` and ``rsa2048`` verifies; ``expired`` fails only on dates, ``wrong_name`` only on
the name, ``rsa1024`` only on key size.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dh, ec, rsa

from probe.certgen import (
    PrivateKey,
    make_ca,
    make_leaf,
    name,
    rsa_key,
    write_pem_cert,
    write_pem_key,
)

# RFC 2409 section 6.2, "Second Oakley Group" (1024-bit MODP), generator 2.
# p = 2^1024 - 2^960 - 1 + 2^64 * ([2^894 pi] + 129093); tests/lab_tests re-derive it.
OAKLEY_GROUP2_PRIME = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22"
    "514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6"
    "F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381"
    "FFFFFFFFFFFFFFFF",
    16,
)

# RFC 7919 appendix A.1, ffdhe2048, generator 2.
# p = 2^2048 - 2^1984 + ([2^1918 e] + 560316) * 2^64 - 1; tests/lab_tests re-derive it.
FFDHE2048_PRIME = int(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695A9E13641146433FB"
    "CC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617AD3DF1ED5D5FD65612433F51F5F066ED0"
    "856365553DED1AF3B557135E7F57C935984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE735"
    "30ACCA4F483A797ABC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F619172FE9CE98583FF"
    "8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005C58EF1837D1683B2C6F34A26C1B2EFFA"
    "886B423861285C97FFFFFFFFFFFFFFFF",
    16,
)

ORGANIZATION = "probe test lab"  # O= of every lab certificate


@dataclass(frozen=True)
class KeyCert:
    """A leaf certificate and its key, as PEM files."""

    name: str
    cert: Path  # the leaf alone (PEM)
    key: Path  # unencrypted PKCS#8 PEM
    key_type: str  # "RSA" or "EC"
    key_bits: int
    names: tuple[str, ...]  # SAN entries (DNS names and IP addresses)
    not_after: dt.datetime


@dataclass(frozen=True)
class LabCerts:
    directory: Path
    ca_cert: Path  # the lab CA (pass as ca_file)
    ca_key: Path
    rsa2048: KeyCert  # good: CA-signed, SAN localhost + 127.0.0.1, valid
    rsa1024: KeyCert  # CA-signed, SAN localhost + 127.0.0.1, 1024-bit key
    ecdsa_p256: KeyCert  # CA-signed, SAN localhost + 127.0.0.1, P-256 key
    expired: KeyCert  # CA-signed RSA-2048, expired 30 days ago
    wrong_name: KeyCert  # CA-signed RSA-2048, SAN wrong.example only
    self_signed: KeyCert  # self-signed RSA-2048, SAN localhost + 127.0.0.1
    dh1024: Path  # PKCS#3 PEM, RFC 2409 group 2
    dh2048: Path  # PKCS#3 PEM, RFC 7919 ffdhe2048


def _dh_pem(prime: int) -> bytes:
    params = dh.DHParameterNumbers(prime, 2).parameters()
    return params.parameter_bytes(serialization.Encoding.PEM, serialization.ParameterFormat.PKCS3)


def make_lab_certs(directory: Path) -> LabCerts:
    """Write every lab key, certificate and DH parameter file into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca = make_ca(name("probe lab CA", ORGANIZATION), now=now, days=3650)
    ca_cert_path = write_pem_cert(directory / "ca.pem", ca[0])
    ca_key_path = write_pem_key(directory / "ca.key", ca[1])
    local = ("localhost", "127.0.0.1")
    valid = (now - dt.timedelta(days=1), now + dt.timedelta(days=365))

    def leaf(
        leaf_name: str,
        key: PrivateKey,
        *,
        names: tuple[str, ...] = local,
        dates: tuple[dt.datetime, dt.datetime] = valid,
        signed: bool = True,
    ) -> KeyCert:
        cert = make_leaf(
            key=key,
            subject=name(names[0], ORGANIZATION),
            names=names,
            issuer=ca if signed else None,
            not_before=dates[0],
            not_after=dates[1],
        )
        cert_path = write_pem_cert(directory / f"{leaf_name}.pem", cert)
        key_path = write_pem_key(directory / f"{leaf_name}.key", key)
        if isinstance(key, rsa.RSAPrivateKey):
            key_type, bits = "RSA", key.key_size
        else:
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            key_type, bits = "EC", key.curve.key_size
        return KeyCert(leaf_name, cert_path, key_path, key_type, bits, names, dates[1])

    dh1024, dh2048 = directory / "dh1024.pem", directory / "dh2048.pem"
    dh1024.write_bytes(_dh_pem(OAKLEY_GROUP2_PRIME))
    dh2048.write_bytes(_dh_pem(FFDHE2048_PRIME))
    return LabCerts(
        directory=directory,
        ca_cert=ca_cert_path,
        ca_key=ca_key_path,
        rsa2048=leaf("rsa2048", rsa_key(2048)),
        rsa1024=leaf("rsa1024", rsa_key(1024)),
        ecdsa_p256=leaf("ecdsa_p256", ec.generate_private_key(ec.SECP256R1())),
        expired=leaf(
            "expired",
            rsa_key(2048),
            dates=(now - dt.timedelta(days=400), now - dt.timedelta(days=30)),
        ),
        wrong_name=leaf("wrong_name", rsa_key(2048), names=("wrong.example",)),
        self_signed=leaf("self_signed", rsa_key(2048), signed=False),
        dh1024=dh1024,
        dh2048=dh2048,
    )
