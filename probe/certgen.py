"""Keys and X.509 certificates made with `cryptography`: a CA, TLS server leaves, PEM files.

Used by ``probe demo`` (probe/demo_lab.py) and by the tests' labs and certificate factories.
Nothing here reads the clock: callers pass the moments (``now``, ``not_before``/``not_after``).
Import it lazily (inside a function) from code that runs at start-up, as cryptography is heavy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Every key type that can sign a certificate: RSA, EC, Ed25519, Ed448, DSA.
PrivateKey = CertificateIssuerPrivateKeyTypes
Issuer = tuple[x509.Certificate, PrivateKey]  # the issuing certificate and its key

BACKDATE = timedelta(days=1)  # certificates made "now" are valid from a day earlier

_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def name(common_name: str, organization: str | None = None) -> x509.Name:
    """``O=organization, CN=common_name`` (just the CN when no organization is given)."""
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization is not None:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def general_names(names: Sequence[str]) -> list[x509.GeneralName]:
    """SAN entries in the given order: IP address strings as IPAddress, the rest as DNSName."""
    entries: list[x509.GeneralName] = []
    for entry in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(entry)))
        except ValueError:
            entries.append(x509.DNSName(entry))
    return entries


def make_cert(
    *,
    subject: x509.Name,
    key: PrivateKey,
    issuer: Issuer | None,
    not_before: datetime,
    not_after: datetime,
    ca: bool = False,
    path_length: int | None = None,
    san: Sequence[x509.GeneralName] = (),
    server_auth: bool = False,
    authority_key_id: bool = False,
    serial: int | None = None,
    hash_algorithm: hashes.HashAlgorithm | None = None,
) -> x509.Certificate:
    """The general builder: a certificate for ``key`` named ``subject``, self-signed when
    ``issuer`` is None. Always BasicConstraints (critical); a CA also gets KeyUsage
    (keyCertSign, cRLSign, digitalSignature; critical) and a SubjectKeyIdentifier. Optional:
    SubjectAlternativeName (when ``san`` is not empty), ExtendedKeyUsage serverAuth and an
    AuthorityKeyIdentifier (when issued by another certificate). Signed with SHA-256 unless
    ``hash_algorithm`` says otherwise (Ed25519/Ed448 signers take no hash); a random serial
    unless ``serial`` is given."""
    issuer_name = issuer[0].subject if issuer is not None else subject
    signer = issuer[1] if issuer is not None else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    )
    if ca:
        builder = builder.add_extension(_CA_KEY_USAGE, critical=True).add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    if server_auth:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    if authority_key_id and issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
    algorithm: hashes.HashAlgorithm | None
    if isinstance(signer, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        algorithm = None
    else:
        algorithm = hash_algorithm if hash_algorithm is not None else hashes.SHA256()
    return builder.sign(signer, algorithm)  # type: ignore[arg-type]


def make_ca(
    subject: x509.Name,
    *,
    now: datetime,
    days: int,
    key: PrivateKey | None = None,
    path_length: int | None = 0,
) -> tuple[x509.Certificate, PrivateKey]:
    """A self-signed root CA (RSA-2048 unless ``key`` is given), valid from a day before
    ``now`` for ``days`` days after it."""
    ca_key = key if key is not None else rsa_key(2048)
    cert = make_cert(
        subject=subject,
        key=ca_key,
        issuer=None,
        not_before=now - BACKDATE,
        not_after=now + timedelta(days=days),
        ca=True,
        path_length=path_length,
    )
    return cert, ca_key


def make_leaf(
    *,
    key: PrivateKey,
    subject: x509.Name,
    names: Sequence[str],
    issuer: Issuer | None,
    not_before: datetime,
    not_after: datetime,
    hash_algorithm: hashes.HashAlgorithm | None = None,
) -> x509.Certificate:
    """A TLS server certificate for ``names`` (DNS names and IP address strings) with
    ExtendedKeyUsage serverAuth, and an AuthorityKeyIdentifier when ``issuer`` signs it;
    self-signed when ``issuer`` is None."""
    return make_cert(
        subject=subject,
        key=key,
        issuer=issuer,
        not_before=not_before,
        not_after=not_after,
        san=general_names(names),
        server_auth=True,
        authority_key_id=True,
        hash_algorithm=hash_algorithm,
    )


def private_key_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_pem_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def write_pem_key(path: Path, key: PrivateKey) -> Path:
    """The key as unencrypted PKCS#8 PEM, readable by its owner only (mode 0600)."""
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_bytes(private_key_pem(key))
    return path
