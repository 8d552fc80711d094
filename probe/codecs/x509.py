"""Certificate facts: what a served chain says about its leaf, its key and its signatures.

Pure code: the bytes come in, a `CertificateFacts` goes out. Nothing here reads the clock
("now" is passed in), the network or the file system. Certificates come from servers we do not
trust, so every parse failure of the leaf becomes a `CertificateDecodeError`; a broken
intermediate or extension degrades the facts instead of failing them.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa, x448
from cryptography.hazmat.primitives.asymmetric import x25519 as x25519_keys
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from probe.codecs.errors import DecodeError
from probe.model import CertificateFacts

__all__ = [
    "MAX_CERT_BYTES",
    "MAX_CHAIN_BYTES",
    "MAX_CHAIN_CERTS",
    "CertificateDecodeError",
    "certificate_facts",
    "leaf_key_id",
    "name_matches",
    "sct_list_count",
    "validity_limit_days",
]

# Hostile servers can send anything; these bound the work done on one chain.
MAX_CHAIN_CERTS = 10
MAX_CHAIN_BYTES = 1 << 20  # 1 MiB for the whole chain
MAX_CERT_BYTES = MAX_CHAIN_BYTES

# Signature hashes a profile treats as broken for certificate signatures.
WEAK_SIGNATURE_HASHES = frozenset({"md2", "md4", "md5", "sha1"})

# What cryptography's lazy decoders raise on malformed or unsupported input. Mostly ValueError,
# but hostile DER also reaches other types (a name attribute with an unknown string tag raises
# KeyError from `cert.subject` in cryptography 46, found by the fuzz tests), so every decoder
# call is guarded broadly; the guarded blocks hold nothing but cryptography accessors.
_PARSE_ERRORS: tuple[type[Exception], ...] = (Exception,)


class CertificateDecodeError(DecodeError):
    """The leaf certificate could not be parsed (garbage DER, empty or oversized chain)."""


# Signature algorithm OID -> (name, hash). The names follow the OID registries (and
# cryptography's names where it has one); the hash is None for algorithms without a separate
# digest (EdDSA, ML-DSA) and for RSASSA-PSS, whose hash sits in the parameters.
_SIGNATURE_ALGORITHMS: dict[str, tuple[str, str | None]] = {
    "1.2.840.113549.1.1.2": ("md2WithRSAEncryption", "md2"),
    "1.2.840.113549.1.1.3": ("md4WithRSAEncryption", "md4"),
    "1.2.840.113549.1.1.4": ("md5WithRSAEncryption", "md5"),
    "1.2.840.113549.1.1.5": ("sha1WithRSAEncryption", "sha1"),
    "1.3.14.3.2.29": ("sha1WithRSASignature", "sha1"),
    "1.2.840.113549.1.1.14": ("sha224WithRSAEncryption", "sha224"),
    "1.2.840.113549.1.1.11": ("sha256WithRSAEncryption", "sha256"),
    "1.2.840.113549.1.1.12": ("sha384WithRSAEncryption", "sha384"),
    "1.2.840.113549.1.1.13": ("sha512WithRSAEncryption", "sha512"),
    "1.2.840.113549.1.1.10": ("rsassaPss", None),
    "2.16.840.1.101.3.4.3.13": ("id-rsassa-pkcs1-v1_5-with-sha3-224", "sha3-224"),
    "2.16.840.1.101.3.4.3.14": ("id-rsassa-pkcs1-v1_5-with-sha3-256", "sha3-256"),
    "2.16.840.1.101.3.4.3.15": ("id-rsassa-pkcs1-v1_5-with-sha3-384", "sha3-384"),
    "2.16.840.1.101.3.4.3.16": ("id-rsassa-pkcs1-v1_5-with-sha3-512", "sha3-512"),
    "1.2.840.10045.4.1": ("ecdsa-with-SHA1", "sha1"),
    "1.2.840.10045.4.3.1": ("ecdsa-with-SHA224", "sha224"),
    "1.2.840.10045.4.3.2": ("ecdsa-with-SHA256", "sha256"),
    "1.2.840.10045.4.3.3": ("ecdsa-with-SHA384", "sha384"),
    "1.2.840.10045.4.3.4": ("ecdsa-with-SHA512", "sha512"),
    "2.16.840.1.101.3.4.3.9": ("id-ecdsa-with-sha3-224", "sha3-224"),
    "2.16.840.1.101.3.4.3.10": ("id-ecdsa-with-sha3-256", "sha3-256"),
    "2.16.840.1.101.3.4.3.11": ("id-ecdsa-with-sha3-384", "sha3-384"),
    "2.16.840.1.101.3.4.3.12": ("id-ecdsa-with-sha3-512", "sha3-512"),
    "1.2.840.10040.4.3": ("dsa-with-sha1", "sha1"),
    "2.16.840.1.101.3.4.3.1": ("dsa-with-sha224", "sha224"),
    "2.16.840.1.101.3.4.3.2": ("dsa-with-sha256", "sha256"),
    "2.16.840.1.101.3.4.3.3": ("dsa-with-sha384", "sha384"),
    "2.16.840.1.101.3.4.3.4": ("dsa-with-sha512", "sha512"),
    "1.3.101.112": ("ed25519", None),
    "1.3.101.113": ("ed448", None),
    "2.16.840.1.101.3.4.3.17": ("id-ml-dsa-44", None),
    "2.16.840.1.101.3.4.3.18": ("id-ml-dsa-65", None),
    "2.16.840.1.101.3.4.3.19": ("id-ml-dsa-87", None),
    "1.2.643.2.2.3": ("GOST R 34.11-94 with GOST R 34.10-2001", "gostr3411-94"),
    "1.2.643.7.1.1.3.2": ("GOST R 34.10-2012 with GOST R 34.11-2012 (256 bit)", "streebog256"),
    "1.2.643.7.1.1.3.3": ("GOST R 34.10-2012 with GOST R 34.11-2012 (512 bit)", "streebog512"),
}

# Public key algorithm OIDs cryptography cannot load, named so the facts still say something.
_KEY_ALGORITHMS: dict[str, str] = {
    "1.2.840.113549.1.1.1": "RSA",
    "1.2.840.113549.1.1.10": "RSA",  # RSASSA-PSS-only keys
    "1.2.840.10045.2.1": "EC",
    "1.2.840.10040.4.1": "DSA",
    "1.3.101.110": "X25519",
    "1.3.101.111": "X448",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
    "2.16.840.1.101.3.4.3.17": "ML-DSA-44",
    "2.16.840.1.101.3.4.3.18": "ML-DSA-65",
    "2.16.840.1.101.3.4.3.19": "ML-DSA-87",
}

# cryptography already uses the SEC 2 names ("secp256r1") that the TLS registry uses; these map
# the few aliases that differ.
_CURVE_ALIASES: dict[str, str] = {
    "prime192v1": "secp192r1",
    "prime256v1": "secp256r1",
    "p-256": "secp256r1",
    "p-384": "secp384r1",
    "p-521": "secp521r1",
}


# RFC 5280 4.2.1.12 key purposes by OID; others are reported as dotted strings.
_EKU_NAMES: dict[str, str] = {
    ExtendedKeyUsageOID.SERVER_AUTH.dotted_string: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING.dotted_string: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING.dotted_string: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING.dotted_string: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE.dotted_string: "anyExtendedKeyUsage",
}
# RFC 5280 4.2.1.3 bit names -> cryptography's KeyUsage attributes, in bit order.
_KEY_USAGE_BITS: tuple[tuple[str, str], ...] = (
    ("digitalSignature", "digital_signature"),
    ("nonRepudiation", "content_commitment"),
    ("keyEncipherment", "key_encipherment"),
    ("dataEncipherment", "data_encipherment"),
    ("keyAgreement", "key_agreement"),
    ("keyCertSign", "key_cert_sign"),
    ("cRLSign", "crl_sign"),
)
# CA/Browser Forum Baseline Requirements 6.3.2: the longest validity allowed for a subscriber
# certificate by its issuance date (notBefore), newest first. 825 days from 2018-03-01 (ballot
# 193), 398 from 2020-09-01 (SC31 / browser policies), then ballot SC-081v3's schedule.
_BR_VALIDITY_LIMITS: tuple[tuple[datetime, int], ...] = (
    (datetime(2029, 3, 15, tzinfo=UTC), 47),
    (datetime(2027, 3, 15, tzinfo=UTC), 100),
    (datetime(2026, 3, 15, tzinfo=UTC), 200),
    (datetime(2020, 9, 1, tzinfo=UTC), 398),
    (datetime(2018, 3, 1, tzinfo=UTC), 825),
    (datetime(2015, 4, 1, tzinfo=UTC), 1185),  # 39 months
)


def validity_limit_days(not_before: datetime) -> int | None:
    """The BR's maximum validity in days for a certificate issued at `not_before`; None before
    2015-04-01 (the older 60-month rule is not modelled)."""
    issued = _as_utc(not_before)
    for since, days in _BR_VALIDITY_LIMITS:
        if issued >= since:
            return days
    return None


def leaf_key_id(der: bytes) -> str:
    """A stable id for one certificate: sha256 of its DER, hex. De-duplicates across handshakes."""
    return hashlib.sha256(der).hexdigest()


def certificate_facts(
    chain_der: Sequence[bytes],
    *,
    server_name: str | None,
    now: datetime,
    trusted: bool,
    trust_error: str | None,
    served_with: tuple[str, ...],
    trust_stores: Mapping[str, bool] | None = None,
    chain_complete: bool | None = None,
) -> CertificateFacts:
    """Describe a served chain by its leaf (chain_der[0]) plus what the chain shows.

    Raises CertificateDecodeError when the chain is empty, too large, or the leaf does not parse.
    Intermediates that do not parse are skipped (they still count in chain_length).
    """
    if not chain_der:
        raise CertificateDecodeError("empty certificate chain")
    chain = _capped(chain_der)
    leaf_der = chain[0]
    leaf = _load(leaf_der)
    now_utc = _as_utc(now)

    try:
        key_type, key_bits, curve = _key_facts(leaf)
        signature_algorithm, signature_hash = _signature_facts(leaf)
        not_before = leaf.not_valid_before_utc
        not_after = leaf.not_valid_after_utc
        subject = leaf.subject.rfc4514_string()
        issuer = leaf.issuer.rfc4514_string()
        common_names = _common_names(leaf)
    except _PARSE_ERRORS as exc:
        raise CertificateDecodeError(f"malformed certificate: {exc}") from exc

    san_dns, san_ips, san_ok = _subject_alt_names(leaf)
    if server_name is None:
        matches: bool | None = None
    elif not san_ok:
        matches = False  # a broken SAN must not fall back to the common name
    else:
        matches = name_matches(server_name, san_dns, san_ips, common_names)

    days_to_expiry = (not_after - now_utc) // timedelta(days=1)
    # BR 1.6.1: the validity period includes both notBefore and notAfter, hence the second.
    validity = not_after - not_before + timedelta(seconds=1)
    limit = validity_limit_days(not_before)
    usage = _usage_facts(leaf)

    return CertificateFacts(
        key_type=key_type,
        key_bits=key_bits,
        curve=curve,
        signature_algorithm=signature_algorithm,
        signature_hash=signature_hash,
        not_before=not_before,
        not_after=not_after,
        days_to_expiry=days_to_expiry,
        subject=subject,
        issuer=issuer,
        san=san_dns + san_ips,
        name_matches=matches,
        self_signed=_is_self_signed(leaf),
        trusted=trusted,
        trust_error=trust_error,
        chain_length=len(chain_der),
        chain_weak_signatures=_weak_signatures(leaf, leaf_der, chain[1:]),
        sha256_fingerprint=leaf_key_id(leaf_der),
        served_with=served_with,
        trust_stores=dict(trust_stores or {}),
        chain_in_order=_chain_in_order(leaf, chain[1:]),
        chain_complete=chain_complete,
        must_staple=usage.must_staple,
        sct_count=usage.sct_count,
        key_usage=usage.key_usage,
        extended_key_usage=usage.extended_key_usage,
        server_auth=usage.server_auth,
        validity_days=validity // timedelta(days=1),  # whole days, rounded down
        exceeds_validity_limit=limit is not None and validity > timedelta(days=limit),
    )


# --- extensions and chain order -----------------------------------------------------------


class _Usage:
    """What the leaf's extensions say about its use (filled by _usage_facts)."""

    def __init__(self) -> None:
        self.must_staple = False
        self.sct_count = 0
        self.key_usage: tuple[str, ...] = ()
        self.extended_key_usage: tuple[str, ...] = ()
        # RFC 5280 4.2.1.12: without the extension the key may be used for any purpose.
        self.server_auth: bool | None = True


def _usage_facts(cert: x509.Certificate) -> _Usage:
    usage = _Usage()
    try:
        extensions = cert.extensions
    except _PARSE_ERRORS:
        usage.server_auth = None  # some extension is malformed: nothing can be said
        return usage
    for extension in extensions:
        oid = extension.oid
        value = extension.value
        try:
            if isinstance(value, x509.TLSFeature):
                # RFC 7633 4.2: status_request (5) asks clients to require a stapled response.
                usage.must_staple = x509.TLSFeatureType.status_request in value
            elif oid == ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS:
                usage.sct_count = sct_list_count(value.public_bytes()) or 0
            elif isinstance(value, x509.KeyUsage):
                usage.key_usage = _key_usage_names(value)
            elif isinstance(value, x509.ExtendedKeyUsage):
                purposes = tuple(_EKU_NAMES.get(o.dotted_string, o.dotted_string) for o in value)
                usage.extended_key_usage = purposes
                usage.server_auth = bool({"serverAuth", "anyExtendedKeyUsage"} & set(purposes))
        except _PARSE_ERRORS:
            continue
    return usage


def _key_usage_names(value: x509.KeyUsage) -> tuple[str, ...]:
    names = [name for name, attribute in _KEY_USAGE_BITS if getattr(value, attribute)]
    if value.key_agreement:  # the last two bits are defined only with keyAgreement
        if value.encipher_only:
            names.append("encipherOnly")
        if value.decipher_only:
            names.append("decipherOnly")
    return tuple(names)


def sct_list_count(extension_value: bytes) -> int | None:
    """The number of SCTs in a signedCertificateTimestampList extension value; None if malformed.

    RFC 6962 3.3: extnValue holds an OCTET STRING whose contents are the TLS encoding of
    `SerializedSCT sct_list <1..2^16-1>`, each `opaque SerializedSCT<1..2^16-1>`. The SCTs
    themselves are not parsed (their logs are not known here); only the framing is checked.
    """
    data = memoryview(extension_value)
    if len(data) < 2 or data[0] != 0x04:  # DER OCTET STRING
        return None
    length, offset = data[1], 2
    if length & 0x80:  # long form: the low bits give the number of length octets
        octets = length & 0x7F
        if not 1 <= octets <= 2 or len(data) < 2 + octets:
            return None
        length, offset = int.from_bytes(data[2 : 2 + octets], "big"), 2 + octets
    body = data[offset:]
    if len(body) != length or length < 2:
        return None
    total = int.from_bytes(body[:2], "big")
    if total != len(body) - 2 or total < 2:
        return None
    count, position = 0, 2
    while position < len(body):
        if position + 2 > len(body):
            return None
        size = int.from_bytes(body[position : position + 2], "big")
        position += 2 + size
        if size == 0 or position > len(body):
            return None
        count += 1
    return count


def _chain_in_order(leaf: x509.Certificate, rest: Sequence[bytes]) -> bool:
    """Each served certificate that issued an earlier one issued exactly the one before it.

    Certificates that issued none of the earlier ones (a served root after the last
    intermediate, or unrelated extras) do not make the order wrong."""
    certs: list[x509.Certificate | None] = [leaf]
    for der in rest:
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except _PARSE_ERRORS:
            certs.append(None)
    for i in range(1, len(certs)):
        issuer = certs[i]
        if issuer is None:
            continue
        for j in range(i):
            child = certs[j]
            if child is not None and j != i - 1 and _issued(child, issuer):
                return False
    return True


def _issued(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        if child.issuer.public_bytes() != issuer.subject.public_bytes():
            return False
    except _PARSE_ERRORS:
        return False
    return _signed_by(child, issuer)


# --- name matching (RFC 6125) -------------------------------------------------------------


def name_matches(
    server_name: str | None,
    san_dns: Sequence[str],
    san_ips: Sequence[str],
    subject_cn: Sequence[str] | str | None,
) -> bool | None:
    """Whether a certificate with these identifiers is valid for `server_name` (RFC 6125).

    DNS SANs are used when present; the subject CN only when there is no DNS SAN at all. A
    wildcard matches exactly one whole left-most label and needs at least two labels after it.
    Comparison is case-insensitive on A-labels. An IP literal matches only IP SANs.
    Returns None when no name was asked for.
    """
    if server_name is None:
        return None
    target_ip = _parse_ip(server_name)
    if target_ip is not None:
        return any(_parse_ip(ip) == target_ip for ip in san_ips)

    target = _normalise_dns(server_name)
    if target is None:
        return False
    if san_dns:
        presented: Sequence[str] = san_dns
    elif subject_cn is None:
        presented = ()
    elif isinstance(subject_cn, str):
        presented = (subject_cn,)
    else:
        presented = subject_cn
    return any(_dns_matches(target, pattern) for pattern in presented)


def _dns_matches(target: tuple[str, ...], pattern_text: str) -> bool:
    if pattern_text.startswith("*."):
        rest = _normalise_dns(pattern_text[2:])
        if rest is None or len(rest) < 2:
            return False  # "*.com" and "*" are too broad to honour
        return len(target) == len(rest) + 1 and target[1:] == rest
    pattern = _normalise_dns(pattern_text)
    return pattern is not None and pattern == target


def _normalise_dns(name: str) -> tuple[str, ...] | None:
    """Lower-case A-label form, split into labels; None for names that cannot be a host name."""
    if name.endswith("."):
        name = name[:-1]
    if not name:
        return None
    labels: list[str] = []
    for label in name.split("."):
        if not label:
            return None
        if label.isascii():
            labels.append(label.lower())
            continue
        try:
            a_label = label.encode("idna").decode("ascii")
        except UnicodeError:
            return None
        labels.append(a_label.lower())
    return tuple(labels)


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


# --- parsing helpers ----------------------------------------------------------------------


def _capped(chain_der: Sequence[bytes]) -> list[bytes]:
    """The chain cut to MAX_CHAIN_CERTS certificates and MAX_CHAIN_BYTES in total."""
    if len(chain_der[0]) > MAX_CERT_BYTES:
        raise CertificateDecodeError(f"leaf certificate larger than {MAX_CERT_BYTES} bytes")
    kept: list[bytes] = []
    total = 0
    for der in chain_der[:MAX_CHAIN_CERTS]:
        total += len(der)
        if total > MAX_CHAIN_BYTES:
            break
        kept.append(bytes(der))
    return kept


def _load(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except _PARSE_ERRORS as exc:
        raise CertificateDecodeError(f"not a DER certificate: {exc}") from exc


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _key_facts(cert: x509.Certificate) -> tuple[str, int, str | None]:
    try:
        key = cert.public_key()
    except _PARSE_ERRORS:
        oid = cert.public_key_algorithm_oid.dotted_string
        return _KEY_ALGORITHMS.get(oid, oid), 0, None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        name = key.curve.name
        return "EC", key.curve.key_size, _CURVE_ALIASES.get(name.lower(), name)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    if isinstance(key, x25519_keys.X25519PublicKey):
        return "X25519", 256, None
    if isinstance(key, x448.X448PublicKey):
        return "X448", 448, None
    oid = cert.public_key_algorithm_oid.dotted_string
    return _KEY_ALGORITHMS.get(oid, oid), 0, None


def _signature_facts(cert: x509.Certificate) -> tuple[str, str | None]:
    oid = cert.signature_algorithm_oid
    known = _SIGNATURE_ALGORITHMS.get(oid.dotted_string)
    if known is not None and known[1] is not None:
        return known
    if known is None:
        own_name = oid._name
        name = own_name if own_name and own_name != "Unknown OID" else oid.dotted_string
    else:
        name = known[0]
    try:
        algorithm = cert.signature_hash_algorithm
    except _PARSE_ERRORS:
        return name, None
    return name, (algorithm.name.lower() if algorithm is not None else None)


def _common_names(cert: x509.Certificate) -> tuple[str, ...]:
    names: list[str] = []
    for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        if isinstance(attribute.value, str):
            names.append(attribute.value)
    return tuple(names)


def _subject_alt_names(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(DNS names, IP addresses, parsed cleanly). A broken extension gives ((), (), False)."""
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return (), (), True
    except _PARSE_ERRORS:
        return (), (), False
    names = extension.value
    try:
        dns = tuple(names.get_values_for_type(x509.DNSName))
        ips = tuple(str(ip) for ip in names.get_values_for_type(x509.IPAddress))
    except _PARSE_ERRORS:
        return (), (), False
    return dns, ips, True


def _is_self_signed(cert: x509.Certificate) -> bool:
    """Issuer equals subject and the signature verifies with the certificate's own key."""
    try:
        if cert.issuer.public_bytes() != cert.subject.public_bytes():
            return False
    except _PARSE_ERRORS:
        return False
    return _signed_by(cert, cert)


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except InvalidSignature:
        return False
    except _PARSE_ERRORS:
        pass  # e.g. MD5 signatures, which cryptography will not check; try by hand
    return _verify_by_hand(cert, issuer)


def _verify_by_hand(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Signature check for the legacy algorithms verify_directly_issued_by refuses (MD5...)."""
    try:
        key = issuer.public_key()
        algorithm = cert.signature_hash_algorithm
        signature = cert.signature
        data = cert.tbs_certificate_bytes
        if isinstance(key, rsa.RSAPublicKey) and isinstance(algorithm, hashes.HashAlgorithm):
            if cert.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.10":
                return False  # PSS is supported by verify_directly_issued_by; nothing to add
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
            algorithm, hashes.HashAlgorithm
        ):
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, dsa.DSAPublicKey) and isinstance(algorithm, hashes.HashAlgorithm):
            key.verify(signature, data, algorithm)
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            return False
    except InvalidSignature:
        return False
    except _PARSE_ERRORS:
        return False
    return True


def _weak_signatures(
    leaf: x509.Certificate, leaf_der: bytes, rest: Sequence[bytes]
) -> tuple[str, ...]:
    """Served certificates signed with a broken hash, as 'SUBJECT (hash)'.

    Self-signed certificates (roots, or a self-signed leaf) are skipped: nobody relies on a
    trust anchor's own signature, and `self_signed` reports that case separately.
    """
    found: list[str] = []
    certs: list[tuple[x509.Certificate, bytes]] = [(leaf, leaf_der)]
    for der in rest:
        try:
            certs.append((x509.load_der_x509_certificate(der), der))
        except _PARSE_ERRORS:
            continue
    for cert, der in certs:
        try:
            _, digest = _signature_facts(cert)
        except _PARSE_ERRORS:
            continue
        if digest not in WEAK_SIGNATURE_HASHES or _is_self_signed(cert):
            continue
        found.append(f"{_label(cert, der)} ({digest})")
    return tuple(found)


def _label(cert: x509.Certificate, der: bytes) -> str:
    try:
        subject = cert.subject.rfc4514_string()
    except _PARSE_ERRORS:
        subject = ""
    return subject or "sha256:" + leaf_key_id(der)[:16]
