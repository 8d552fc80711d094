"""Wire values from the IANA TLS registries, keyed by their on-the-wire numbers.

Sources: IANA "Transport Layer Security (TLS) Parameters" and "TLS ExtensionType Values",
RFC 8446 (TLS 1.3), RFC 5246 (TLS 1.2), RFC 6101 (SSL 3.0), RFC 8422 (ECC), RFC 7919 (FFDHE).
"""

from __future__ import annotations

from enum import IntEnum


class Version(IntEnum):
    """Protocol versions as they appear in hellos (SSL 2.0 draft, RFC 6101, RFC 8446 4.2.1)."""

    SSL2 = 0x0002
    SSL3 = 0x0300
    TLS1_0 = 0x0301
    TLS1_1 = 0x0302
    TLS1_2 = 0x0303
    TLS1_3 = 0x0304


VERSION_LABEL: dict[Version, str] = {
    Version.SSL2: "SSLv2",
    Version.SSL3: "SSLv3",
    Version.TLS1_0: "TLSv1.0",
    Version.TLS1_1: "TLSv1.1",
    Version.TLS1_2: "TLSv1.2",
    Version.TLS1_3: "TLSv1.3",
}


def version_label(value: int) -> str:
    """A label for any 16-bit version value, including ones no version defines."""
    try:
        return VERSION_LABEL[Version(value)]
    except ValueError:
        return f"0x{value:04x}"


class ContentType(IntEnum):  # RFC 8446 5.1, RFC 6520 (heartbeat)
    CHANGE_CIPHER_SPEC = 20
    ALERT = 21
    HANDSHAKE = 22
    APPLICATION_DATA = 23
    HEARTBEAT = 24


class HandshakeType(IntEnum):  # RFC 8446 4, RFC 5246 7.4, RFC 6066 8
    HELLO_REQUEST = 0
    CLIENT_HELLO = 1
    SERVER_HELLO = 2
    HELLO_VERIFY_REQUEST = 3
    NEW_SESSION_TICKET = 4
    END_OF_EARLY_DATA = 5
    ENCRYPTED_EXTENSIONS = 8
    CERTIFICATE = 11
    SERVER_KEY_EXCHANGE = 12
    CERTIFICATE_REQUEST = 13
    SERVER_HELLO_DONE = 14
    CERTIFICATE_VERIFY = 15
    CLIENT_KEY_EXCHANGE = 16
    FINISHED = 20
    CERTIFICATE_URL = 21
    CERTIFICATE_STATUS = 22
    SUPPLEMENTAL_DATA = 23
    KEY_UPDATE = 24
    MESSAGE_HASH = 254


class ExtensionType(IntEnum):  # IANA TLS ExtensionType Values
    SERVER_NAME = 0
    MAX_FRAGMENT_LENGTH = 1
    STATUS_REQUEST = 5
    SUPPORTED_GROUPS = 10
    EC_POINT_FORMATS = 11
    SIGNATURE_ALGORITHMS = 13
    USE_SRTP = 14
    HEARTBEAT = 15
    ALPN = 16
    SIGNED_CERTIFICATE_TIMESTAMP = 18
    PADDING = 21
    ENCRYPT_THEN_MAC = 22
    EXTENDED_MASTER_SECRET = 23
    COMPRESS_CERTIFICATE = 27
    RECORD_SIZE_LIMIT = 28
    SESSION_TICKET = 35
    PRE_SHARED_KEY = 41
    EARLY_DATA = 42
    SUPPORTED_VERSIONS = 43
    COOKIE = 44
    PSK_KEY_EXCHANGE_MODES = 45
    CERTIFICATE_AUTHORITIES = 47
    OID_FILTERS = 48
    POST_HANDSHAKE_AUTH = 49
    SIGNATURE_ALGORITHMS_CERT = 50
    KEY_SHARE = 51
    RENEGOTIATION_INFO = 0xFF01


class AlertLevel(IntEnum):  # RFC 5246 7.2
    WARNING = 1
    FATAL = 2


class AlertDescription(IntEnum):  # RFC 8446 6, RFC 5246 7.2, RFC 6101 5.4.2
    CLOSE_NOTIFY = 0
    UNEXPECTED_MESSAGE = 10
    BAD_RECORD_MAC = 20
    DECRYPTION_FAILED = 21
    RECORD_OVERFLOW = 22
    DECOMPRESSION_FAILURE = 30
    HANDSHAKE_FAILURE = 40
    NO_CERTIFICATE = 41
    BAD_CERTIFICATE = 42
    UNSUPPORTED_CERTIFICATE = 43
    CERTIFICATE_REVOKED = 44
    CERTIFICATE_EXPIRED = 45
    CERTIFICATE_UNKNOWN = 46
    ILLEGAL_PARAMETER = 47
    UNKNOWN_CA = 48
    ACCESS_DENIED = 49
    DECODE_ERROR = 50
    DECRYPT_ERROR = 51
    EXPORT_RESTRICTION = 60
    PROTOCOL_VERSION = 70
    INSUFFICIENT_SECURITY = 71
    INTERNAL_ERROR = 80
    INAPPROPRIATE_FALLBACK = 86
    USER_CANCELED = 90
    NO_RENEGOTIATION = 100
    MISSING_EXTENSION = 109
    UNSUPPORTED_EXTENSION = 110
    CERTIFICATE_UNOBTAINABLE = 111
    UNRECOGNIZED_NAME = 112
    BAD_CERTIFICATE_STATUS_RESPONSE = 113
    BAD_CERTIFICATE_HASH_VALUE = 114
    UNKNOWN_PSK_IDENTITY = 115
    CERTIFICATE_REQUIRED = 116
    NO_APPLICATION_PROTOCOL = 120


def alert_name(description: int) -> str:
    """The RFC name of an alert ("handshake_failure"), or "alert_<n>" for unassigned values."""
    try:
        return AlertDescription(description).name.lower()
    except ValueError:
        return f"alert_{description}"


# IANA TLS Supported Groups registry (RFC 8422 5.1.1, RFC 7919, RFC 8734, RFC 9189,
# draft-ietf-tls-ecdhe-mlkem, draft-ietf-tls-mlkem).
GROUP_NAMES: dict[int, str] = {
    1: "sect163k1",
    2: "sect163r1",
    3: "sect163r2",
    4: "sect193r1",
    5: "sect193r2",
    6: "sect233k1",
    7: "sect233r1",
    8: "sect239k1",
    9: "sect283k1",
    10: "sect283r1",
    11: "sect409k1",
    12: "sect409r1",
    13: "sect571k1",
    14: "sect571r1",
    15: "secp160k1",
    16: "secp160r1",
    17: "secp160r2",
    18: "secp192k1",
    19: "secp192r1",
    20: "secp224k1",
    21: "secp224r1",
    22: "secp256k1",
    23: "secp256r1",
    24: "secp384r1",
    25: "secp521r1",
    26: "brainpoolP256r1",
    27: "brainpoolP384r1",
    28: "brainpoolP512r1",
    29: "x25519",
    30: "x448",
    31: "brainpoolP256r1tls13",
    32: "brainpoolP384r1tls13",
    33: "brainpoolP512r1tls13",
    34: "GC256A",
    35: "GC256B",
    36: "GC256C",
    37: "GC256D",
    38: "GC512A",
    39: "GC512B",
    40: "GC512C",
    41: "curveSM2",
    0x0100: "ffdhe2048",
    0x0101: "ffdhe3072",
    0x0102: "ffdhe4096",
    0x0103: "ffdhe6144",
    0x0104: "ffdhe8192",
    0x0200: "MLKEM512",
    0x0201: "MLKEM768",
    0x0202: "MLKEM1024",
    0x11EB: "SecP256r1MLKEM768",
    0x11EC: "X25519MLKEM768",
    0x11ED: "SecP384r1MLKEM1024",
    # Pre-standard Kyber hybrids still seen in the wild (draft-tls-westerbaan-xyber768d00).
    0x6399: "X25519Kyber768Draft00",
    0x639A: "SecP256r1Kyber768Draft00",
    0xFF01: "arbitrary_explicit_prime_curves",
    0xFF02: "arbitrary_explicit_char2_curves",
}


class Group(IntEnum):
    """The groups this package refers to by name; any other value is still valid on the wire."""

    SECP256R1 = 23
    SECP384R1 = 24
    SECP521R1 = 25
    X25519 = 29
    X448 = 30
    FFDHE2048 = 0x0100
    X25519MLKEM768 = 0x11EC


# Size of the classical part of each group in bits: the field size for curves (253 for x25519
# and 448 for x448, as OpenSSL reports them), the prime size for FFDHE. Hybrids report their
# classical component; pure ML-KEM groups have no such size and are absent.
GROUP_BITS: dict[int, int] = {
    1: 163,
    2: 163,
    3: 163,
    4: 193,
    5: 193,
    6: 233,
    7: 233,
    8: 239,
    9: 283,
    10: 283,
    11: 409,
    12: 409,
    13: 571,
    14: 571,
    15: 160,
    16: 160,
    17: 160,
    18: 192,
    19: 192,
    20: 224,
    21: 224,
    22: 256,
    23: 256,
    24: 384,
    25: 521,
    26: 256,
    27: 384,
    28: 512,
    29: 253,
    30: 448,
    31: 256,
    32: 384,
    33: 512,
    34: 256,
    35: 256,
    36: 256,
    37: 256,
    38: 512,
    39: 512,
    40: 512,
    41: 256,
    0x0100: 2048,
    0x0101: 3072,
    0x0102: 4096,
    0x0103: 6144,
    0x0104: 8192,
    0x11EB: 256,
    0x11EC: 253,
    0x11ED: 384,
    0x6399: 253,
    0x639A: 256,
}


def group_name(group: int) -> str:
    return GROUP_NAMES.get(group, f"0x{group:04x}")


# TLS SignatureScheme registry (RFC 8446 4.2.3) plus the TLS 1.2 (hash, signature) pairs of
# RFC 5246 7.4.1.4.1 that have no TLS 1.3 name (MD5, SHA-224, DSA).
SIGNATURE_SCHEMES: dict[int, str] = {
    0x0101: "rsa_md5",
    0x0102: "dsa_md5",
    0x0103: "ecdsa_md5",
    0x0201: "rsa_pkcs1_sha1",
    0x0202: "dsa_sha1",
    0x0203: "ecdsa_sha1",
    0x0301: "rsa_sha224",
    0x0302: "dsa_sha224",
    0x0303: "ecdsa_sha224",
    0x0401: "rsa_pkcs1_sha256",
    0x0402: "dsa_sha256",
    0x0403: "ecdsa_secp256r1_sha256",
    0x0501: "rsa_pkcs1_sha384",
    0x0502: "dsa_sha384",
    0x0503: "ecdsa_secp384r1_sha384",
    0x0601: "rsa_pkcs1_sha512",
    0x0602: "dsa_sha512",
    0x0603: "ecdsa_secp521r1_sha512",
    0x0804: "rsa_pss_rsae_sha256",
    0x0805: "rsa_pss_rsae_sha384",
    0x0806: "rsa_pss_rsae_sha512",
    0x0807: "ed25519",
    0x0808: "ed448",
    0x0809: "rsa_pss_pss_sha256",
    0x080A: "rsa_pss_pss_sha384",
    0x080B: "rsa_pss_pss_sha512",
    0x081A: "ecdsa_brainpoolP256r1tls13_sha256",
    0x081B: "ecdsa_brainpoolP384r1tls13_sha384",
    0x081C: "ecdsa_brainpoolP512r1tls13_sha512",
    0x0904: "mldsa44",
    0x0905: "mldsa65",
    0x0906: "mldsa87",
}

# RFC 5246 7.4.1.2 CompressionMethod; DEFLATE is RFC 3749 2, LZS RFC 3943 (IANA "TLS
# Compression Method Identifiers"). Any method but null exposes secrets to CRIME.
COMPRESSION_NULL = 0
COMPRESSION_DEFLATE = 1
COMPRESSION_METHODS: dict[int, str] = {0: "null", 1: "DEFLATE", 64: "LZS"}


def compression_name(method: int) -> str:
    return COMPRESSION_METHODS.get(method, f"0x{method:02x}")


# Signalling cipher suite values: offered in a hello, never negotiated (RFC 5746 3.3, RFC 7507).
TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF
TLS_FALLBACK_SCSV = 0x5600

# RFC 8446 4.1.3: a ServerHello with this random is a HelloRetryRequest (SHA-256 of
# "HelloRetryRequest").
HELLO_RETRY_REQUEST_RANDOM = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
)

# RFC 8446 4.1.3: a TLS 1.3 server that negotiates an older version ends its random with these.
DOWNGRADE_TLS12 = b"DOWNGRD\x01"
DOWNGRADE_TLS11 = b"DOWNGRD\x00"

# SSL 2.0 draft (draft-hickman-netscape-ssl-00), "Message Types" and "Error Message Codes".
SSL2_MT_ERROR = 0
SSL2_MT_CLIENT_HELLO = 1
SSL2_MT_SERVER_HELLO = 4
SSL2_ERRORS: dict[int, str] = {
    0x0001: "NO-CIPHER-ERROR",
    0x0002: "NO-CERTIFICATE-ERROR",
    0x0004: "BAD-CERTIFICATE-ERROR",
    0x0006: "UNSUPPORTED-CERTIFICATE-TYPE-ERROR",
}
