"""IANA numbers and display names for IKEv2 (RFC 7296) and IKEv1/ISAKMP (RFC 2408, RFC 2409).

The numbers come from the IANA registries "Internet Key Exchange Version 2 (IKEv2) Parameters"
(RFC 7296 §3.3.2 transform ids, §3.10.1 notify types and the RFCs that extended them) and
"Internet Key Exchange (IKE) Attributes" (RFC 2409 Appendix A, extended by RFC 3602, RFC 4312,
RFC 4754, RFC 4868). The display names are probe's own JSON vocabulary: stable, upper case,
hyphenated, with the key length appended for variable-key ciphers (``AES-CBC-256``).

Well-known Vendor ID payloads (RFC 7296 §3.12, RFC 2408 §3.16) are recognised by
:func:`known_vendor_id`; every definition below says where it comes from.
"""

from __future__ import annotations

import hashlib
from enum import IntEnum

__all__ = [
    "AEAD_ENCRYPTION",
    "DH_NAMES",
    "ENCRYPTION_NAMES",
    "FIRST_STATUS_NOTIFY",
    "INTEGRITY_NAMES",
    "KEYED_ENCRYPTION",
    "PRF_NAMES",
    "V1_AUTH_NAMES",
    "V1_ENCRYPTION_NAMES",
    "V1_GROUP_NAMES",
    "V1_HASH_NAMES",
    "V1_LIFE_KILOBYTES",
    "V1_LIFE_SECONDS",
    "V1_NOTIFY_NAMES",
    "ExchangeType",
    "NotifyType",
    "PayloadType",
    "TransformType",
    "V1Attribute",
    "V1ExchangeType",
    "V1PayloadType",
    "encryption_name",
    "known_vendor_id",
    "notify_name",
    "transform_name",
    "v1_auth_name",
    "v1_encryption_name",
    "v1_group_name",
    "v1_hash_name",
    "v1_notify_name",
]


# --- IKEv2 ----------------------------------------------------------------------------------


class ExchangeType(IntEnum):
    """IKEv2 exchange types (RFC 7296 §3.1; RFC 5723, RFC 9242, RFC 9370)."""

    IKE_SA_INIT = 34
    IKE_AUTH = 35
    CREATE_CHILD_SA = 36
    INFORMATIONAL = 37
    IKE_SESSION_RESUME = 38  # RFC 5723
    IKE_INTERMEDIATE = 43  # RFC 9242
    IKE_FOLLOWUP_KE = 44  # RFC 9370


class PayloadType(IntEnum):
    """IKEv2 payload types (RFC 7296 §3.2; RFC 7383 SKF, RFC 8019 PS)."""

    NONE = 0
    SA = 33
    KE = 34
    IDI = 35
    IDR = 36
    CERT = 37
    CERTREQ = 38
    AUTH = 39
    NONCE = 40
    NOTIFY = 41
    DELETE = 42
    VENDOR_ID = 43
    TSI = 44
    TSR = 45
    ENCRYPTED = 46
    CONFIGURATION = 47
    EAP = 48
    GSPM = 49  # RFC 6467
    ENCRYPTED_FRAGMENT = 53  # RFC 7383
    PUZZLE_SOLUTION = 54  # RFC 8019


class TransformType(IntEnum):
    """IKEv2 transform types (RFC 7296 §3.3.2; types 6-12 are RFC 9370's ADDKE1..ADDKE7)."""

    ENCR = 1
    PRF = 2
    INTEG = 3
    DH = 4
    ESN = 5
    ADDKE1 = 6
    ADDKE2 = 7
    ADDKE3 = 8
    ADDKE4 = 9
    ADDKE5 = 10
    ADDKE6 = 11
    ADDKE7 = 12


# Transform Type 1 ids (IANA "Transform Type 1 - Encryption Algorithm Transform IDs").
ENCRYPTION_NAMES: dict[int, str] = {
    1: "DES-IV64",  # RFC 1827
    2: "DES",  # RFC 2405
    3: "3DES",  # RFC 2451
    4: "RC5",  # RFC 2451
    5: "IDEA",
    6: "CAST",  # RFC 2451
    7: "BLOWFISH",  # RFC 2451
    8: "3IDEA",
    9: "DES-IV32",
    11: "NULL",  # RFC 2410 (ESP only)
    12: "AES-CBC",  # RFC 3602
    13: "AES-CTR",  # RFC 3686
    14: "AES-CCM-8",  # RFC 4309: the suffix is the ICV length in octets
    15: "AES-CCM-12",
    16: "AES-CCM-16",
    18: "AES-GCM-8",  # RFC 4106
    19: "AES-GCM-12",
    20: "AES-GCM-16",
    21: "NULL-AUTH-AES-GMAC",  # RFC 4543 (ESP only, integrity without confidentiality)
    23: "CAMELLIA-CBC",  # RFC 5529
    24: "CAMELLIA-CTR",
    25: "CAMELLIA-CCM-8",
    26: "CAMELLIA-CCM-12",
    27: "CAMELLIA-CCM-16",
    28: "CHACHA20-POLY1305",  # RFC 7634
    29: "AES-CCM-8-IIV",  # RFC 8750 (ESP only)
    30: "AES-GCM-16-IIV",
    31: "CHACHA20-POLY1305-IIV",
    32: "KUZNYECHIK-MGM-KTREE",  # RFC 9227
    33: "MAGMA-MGM-KTREE",
    34: "KUZNYECHIK-MGM-MAC-KTREE",
    35: "MAGMA-MGM-MAC-KTREE",
}

# Combined-mode ciphers that need no INTEG transform (RFC 7296 §3.3.3, RFC 5282). The MAC-only
# combined modes (21 NULL-AUTH-AES-GMAC, 34, 35) give no confidentiality and are left out.
AEAD_ENCRYPTION: frozenset[int] = frozenset(
    {14, 15, 16, 18, 19, 20, 25, 26, 27, 28, 29, 30, 31, 32, 33}
)

# Ciphers whose key size is carried in a Key Length attribute (RFC 7296 §3.3.5: "the Key
# Length attribute MUST NOT be used with transforms that use a fixed-length key"). RC5, CAST
# and BLOWFISH (RFC 2451) may carry one too but are not offered by probe.
KEYED_ENCRYPTION: frozenset[int] = frozenset(
    {12, 13, 14, 15, 16, 18, 19, 20, 21, 23, 24, 25, 26, 27, 29, 30}
)

# Transform Type 2 ids (IANA "Transform Type 2 - Pseudorandom Function Transform IDs").
PRF_NAMES: dict[int, str] = {
    1: "PRF-HMAC-MD5",  # RFC 2104
    2: "PRF-HMAC-SHA1",
    3: "PRF-HMAC-TIGER",
    4: "PRF-AES128-XCBC",  # RFC 4434
    5: "PRF-HMAC-SHA2-256",  # RFC 4868
    6: "PRF-HMAC-SHA2-384",
    7: "PRF-HMAC-SHA2-512",
    8: "PRF-AES128-CMAC",  # RFC 4615
    9: "PRF-HMAC-STREEBOG-512",  # RFC 9385
}

# Transform Type 3 ids (IANA "Transform Type 3 - Integrity Algorithm Transform IDs"). The
# name drops the truncation; the MAC length is in the comment.
INTEGRITY_NAMES: dict[int, str] = {
    0: "NONE",
    1: "HMAC-MD5",  # AUTH_HMAC_MD5_96 (RFC 2403)
    2: "HMAC-SHA1",  # AUTH_HMAC_SHA1_96 (RFC 2404)
    3: "DES-MAC",  # AUTH_DES_MAC
    4: "KPDK-MD5",  # AUTH_KPDK_MD5 (RFC 1826)
    5: "AES-XCBC",  # AUTH_AES_XCBC_96 (RFC 3566)
    6: "HMAC-MD5-128",  # AUTH_HMAC_MD5_128 (RFC 4595, FC only)
    7: "HMAC-SHA1-160",  # AUTH_HMAC_SHA1_160 (RFC 4595, FC only)
    8: "AES-CMAC",  # AUTH_AES_CMAC_96 (RFC 4494)
    9: "AES-128-GMAC",  # AUTH_AES_128_GMAC (RFC 4543)
    10: "AES-192-GMAC",
    11: "AES-256-GMAC",
    12: "HMAC-SHA2-256",  # AUTH_HMAC_SHA2_256_128 (RFC 4868)
    13: "HMAC-SHA2-384",  # AUTH_HMAC_SHA2_384_192
    14: "HMAC-SHA2-512",  # AUTH_HMAC_SHA2_512_256
}

# Transform Type 4 ids (IANA "Transform Type 4 - Key Exchange Method Transform IDs").
DH_NAMES: dict[int, str] = {
    0: "NONE",
    1: "MODP-768",  # RFC 2409 §6.1
    2: "MODP-1024",  # RFC 2409 §6.2
    5: "MODP-1536",  # RFC 3526 §2
    14: "MODP-2048",  # RFC 3526 §3
    15: "MODP-3072",
    16: "MODP-4096",
    17: "MODP-6144",
    18: "MODP-8192",
    19: "ECP-256",  # RFC 5903
    20: "ECP-384",
    21: "ECP-521",
    22: "MODP-1024-160",  # RFC 5114 §2.1 (1024-bit MODP with a 160-bit prime order subgroup)
    23: "MODP-2048-224",  # RFC 5114 §2.2
    24: "MODP-2048-256",  # RFC 5114 §2.3
    25: "ECP-192",  # RFC 5114 §2.6
    26: "ECP-224",  # RFC 5114 §2.7
    27: "BRAINPOOL-224",  # RFC 6954
    28: "BRAINPOOL-256",
    29: "BRAINPOOL-384",
    30: "BRAINPOOL-512",
    31: "CURVE25519",  # RFC 8031
    32: "CURVE448",
    33: "GOST3410-2012-256",  # RFC 9385
    34: "GOST3410-2012-512",
    35: "ML-KEM-512",  # draft-ietf-ipsecme-ikev2-mlkem
    36: "ML-KEM-768",
    37: "ML-KEM-1024",
}

_ESN_NAMES: dict[int, str] = {0: "NO-ESN", 1: "ESN"}  # Transform Type 5 (RFC 7296 §3.3.2)

_KEY_EXCHANGE_TYPES = frozenset(
    {TransformType.DH, *range(TransformType.ADDKE1, TransformType.ADDKE7 + 1)}
)


def encryption_name(transform_id: int, key_length: int | None) -> str:
    """``AES-CBC-128``, ``AES-GCM-16-256``, ``3DES``; an unknown id is ``ENCR-<id>``."""
    base = ENCRYPTION_NAMES.get(transform_id, f"ENCR-{transform_id}")
    return base if key_length is None else f"{base}-{key_length}"


def transform_name(ttype: int, tid: int, key_length: int | None = None) -> str:
    """The display name of one IKEv2 transform (unknown ids: ``PRF-<id>``, ``DH-<id>`` ...)."""
    if ttype == TransformType.ENCR:
        return encryption_name(tid, key_length)
    if ttype == TransformType.PRF:
        return PRF_NAMES.get(tid, f"PRF-{tid}")
    if ttype == TransformType.INTEG:
        return INTEGRITY_NAMES.get(tid, f"INTEG-{tid}")
    if ttype in _KEY_EXCHANGE_TYPES:
        return DH_NAMES.get(tid, f"DH-{tid}")
    if ttype == TransformType.ESN:
        return _ESN_NAMES.get(tid, f"ESN-{tid}")
    return f"TRANSFORM-{ttype}-{tid}"


class NotifyType(IntEnum):
    """IKEv2 Notify Message Types (RFC 7296 §3.10.1 and the RFCs named per value).

    Types below 16384 are errors, from 16384 on status notifications.
    """

    UNSUPPORTED_CRITICAL_PAYLOAD = 1
    INVALID_IKE_SPI = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_SYNTAX = 7
    INVALID_MESSAGE_ID = 9
    INVALID_SPI = 11
    NO_PROPOSAL_CHOSEN = 14
    INVALID_KE_PAYLOAD = 17
    AUTHENTICATION_FAILED = 24
    SINGLE_PAIR_REQUIRED = 34
    NO_ADDITIONAL_SAS = 35
    INTERNAL_ADDRESS_FAILURE = 36
    FAILED_CP_REQUIRED = 37
    TS_UNACCEPTABLE = 38
    INVALID_SELECTORS = 39
    UNACCEPTABLE_ADDRESSES = 40  # RFC 4555
    UNEXPECTED_NAT_DETECTED = 41  # RFC 4555
    USE_ASSIGNED_HOA = 42  # RFC 5026
    TEMPORARY_FAILURE = 43
    CHILD_SA_NOT_FOUND = 44
    INVALID_GROUP_ID = 45  # G-IKEv2
    AUTHORIZATION_FAILED = 46  # G-IKEv2
    STATE_NOT_FOUND = 47  # RFC 9370
    TS_MAX_QUEUE = 48  # RFC 9611
    INITIAL_CONTACT = 16384
    SET_WINDOW_SIZE = 16385
    ADDITIONAL_TS_POSSIBLE = 16386
    IPCOMP_SUPPORTED = 16387
    NAT_DETECTION_SOURCE_IP = 16388
    NAT_DETECTION_DESTINATION_IP = 16389
    COOKIE = 16390
    USE_TRANSPORT_MODE = 16391
    HTTP_CERT_LOOKUP_SUPPORTED = 16392
    REKEY_SA = 16393
    ESP_TFC_PADDING_NOT_SUPPORTED = 16394
    NON_FIRST_FRAGMENTS_ALSO = 16395
    MOBIKE_SUPPORTED = 16396  # RFC 4555
    ADDITIONAL_IP4_ADDRESS = 16397
    ADDITIONAL_IP6_ADDRESS = 16398
    NO_ADDITIONAL_ADDRESSES = 16399
    UPDATE_SA_ADDRESSES = 16400
    COOKIE2 = 16401
    NO_NATS_ALLOWED = 16402
    AUTH_LIFETIME = 16403  # RFC 4478
    MULTIPLE_AUTH_SUPPORTED = 16404  # RFC 4739
    ANOTHER_AUTH_FOLLOWS = 16405
    REDIRECT_SUPPORTED = 16406  # RFC 5685
    REDIRECT = 16407
    REDIRECTED_FROM = 16408
    TICKET_LT_OPAQUE = 16409  # RFC 5723
    TICKET_REQUEST = 16410
    TICKET_ACK = 16411
    TICKET_NACK = 16412
    TICKET_OPAQUE = 16413
    LINK_ID = 16414  # RFC 5739
    USE_WESP_MODE = 16415  # RFC 5840
    ROHC_SUPPORTED = 16416  # RFC 5857
    EAP_ONLY_AUTHENTICATION = 16417  # RFC 5998
    CHILDLESS_IKEV2_SUPPORTED = 16418  # RFC 6023
    QUICK_CRASH_DETECTION = 16419  # RFC 6290
    IKEV2_MESSAGE_ID_SYNC_SUPPORTED = 16420  # RFC 6311
    IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED = 16421
    IKEV2_MESSAGE_ID_SYNC = 16422
    IPSEC_REPLAY_COUNTER_SYNC = 16423
    SECURE_PASSWORD_METHODS = 16424  # RFC 6467
    PSK_PERSIST = 16425  # RFC 6631
    PSK_CONFIRM = 16426
    ERX_SUPPORTED = 16427  # RFC 6867
    IFOM_CAPABILITY = 16428
    SENDER_REQUEST_ID = 16429
    IKEV2_FRAGMENTATION_SUPPORTED = 16430  # RFC 7383
    SIGNATURE_HASH_ALGORITHMS = 16431  # RFC 7427
    CLONE_IKE_SA_SUPPORTED = 16432  # RFC 7791
    CLONE_IKE_SA = 16433
    PUZZLE = 16434  # RFC 8019
    USE_PPK = 16435  # RFC 8784
    PPK_IDENTITY = 16436
    NO_PPK_AUTH = 16437
    INTERMEDIATE_EXCHANGE_SUPPORTED = 16438  # RFC 9242
    IP4_ALLOWED = 16439  # RFC 8983
    IP6_ALLOWED = 16440
    ADDITIONAL_KEY_EXCHANGE = 16441  # RFC 9370
    USE_AGGFRAG = 16442  # RFC 9347
    SUPPORTED_AUTH_METHODS = 16443  # RFC 9593
    SA_RESOURCE_INFO = 16444  # RFC 9611
    USE_PPK_INT = 16445  # RFC 9867
    PPK_IDENTITY_KEY = 16446


FIRST_STATUS_NOTIFY = 16384  # RFC 7296 §3.10.1: 0-16383 errors, 16384-65535 status


def notify_name(code: int) -> str:
    """``NO_PROPOSAL_CHOSEN``; an unknown type is ``NOTIFY-<code>``."""
    try:
        return NotifyType(code).name
    except ValueError:
        return f"NOTIFY-{code}"


# --- IKEv1 / ISAKMP -------------------------------------------------------------------------


class V1ExchangeType(IntEnum):
    """ISAKMP exchange types (RFC 2408 §3.1, RFC 2409 §5)."""

    BASE = 1
    IDENTITY_PROTECTION = 2  # IKE Main Mode
    AUTHENTICATION_ONLY = 3
    AGGRESSIVE = 4
    INFORMATIONAL = 5
    TRANSACTION = 6  # draft-ietf-ipsec-isakmp-mode-cfg
    QUICK_MODE = 32  # RFC 2409 §5.5
    NEW_GROUP_MODE = 33  # RFC 2409 §5.6


class V1PayloadType(IntEnum):
    """ISAKMP payload types (RFC 2408 §3.1; RFC 3947 NAT-D/NAT-OA)."""

    NONE = 0
    SA = 1
    PROPOSAL = 2
    TRANSFORM = 3
    KE = 4
    ID = 5
    CERT = 6
    CERTREQ = 7
    HASH = 8
    SIG = 9
    NONCE = 10
    NOTIFICATION = 11
    DELETE = 12
    VENDOR_ID = 13
    ATTRIBUTE = 14  # mode-cfg
    NAT_D = 20  # RFC 3947
    NAT_OA = 21
    NAT_D_DRAFT = 130  # draft-ietf-ipsec-nat-t-ike-0x
    NAT_OA_DRAFT = 131
    FRAGMENT = 132  # Cisco IKE fragmentation


class V1Attribute(IntEnum):
    """Phase 1 SA attribute classes (RFC 2409 Appendix A)."""

    ENCRYPTION = 1
    HASH = 2
    AUTH = 3
    GROUP_DESCRIPTION = 4
    GROUP_TYPE = 5
    LIFE_TYPE = 11
    LIFE_DURATION = 12
    PRF = 13
    KEY_LENGTH = 14


V1_LIFE_SECONDS = 1  # RFC 2409 Appendix A, Life Type
V1_LIFE_KILOBYTES = 2

# Encryption Algorithm values (RFC 2409 Appendix A; 7 AES-CBC RFC 3602, 8 CAMELLIA RFC 4312).
# Named as in IKEv2 so a suite reads the same whichever version negotiated it.
V1_ENCRYPTION_NAMES: dict[int, str] = {
    1: "DES",
    2: "IDEA",
    3: "BLOWFISH",
    4: "RC5",
    5: "3DES",
    6: "CAST",
    7: "AES-CBC",
    8: "CAMELLIA-CBC",
}

# Hash Algorithm values (RFC 2409 Appendix A; 4-6 RFC 4868).
V1_HASH_NAMES: dict[int, str] = {
    1: "MD5",
    2: "SHA1",
    3: "TIGER",
    4: "SHA2-256",
    5: "SHA2-384",
    6: "SHA2-512",
}

# Authentication Method values (RFC 2409 Appendix A; 9-11 RFC 4754; 64221-64224 hybrid auth,
# draft-ietf-ipsec-isakmp-hybrid-auth; 65001-65010 XAUTH, draft-beaulieu-ike-xauth).
V1_AUTH_NAMES: dict[int, str] = {
    1: "PSK",
    2: "DSS",
    3: "RSA-SIG",
    4: "RSA-ENC",
    5: "RSA-ENC-REV",
    9: "ECDSA-SHA256-P256",
    10: "ECDSA-SHA384-P384",
    11: "ECDSA-SHA512-P521",
    64221: "HYBRID-RSA",
    64222: "HYBRID-RSA-RESP",
    64223: "HYBRID-DSS",
    64224: "HYBRID-DSS-RESP",
    65001: "XAUTH-PSK",
    65002: "XAUTH-PSK-RESP",
    65003: "XAUTH-DSS",
    65004: "XAUTH-DSS-RESP",
    65005: "XAUTH-RSA",
    65006: "XAUTH-RSA-RESP",
    65007: "XAUTH-RSA-ENC",
    65008: "XAUTH-RSA-ENC-RESP",
    65009: "XAUTH-RSA-ENC-REV",
    65010: "XAUTH-RSA-ENC-REV-RESP",
}

# Group Description values share IKEv2's numbers (RFC 2409 Appendix A), except that 3 and 4
# are the Oakley elliptic-curve groups over GF(2^N) of RFC 2409 §6.3-6.4.
V1_GROUP_NAMES: dict[int, str] = {k: v for k, v in DH_NAMES.items() if k} | {
    3: "EC2N-155",
    4: "EC2N-185",
}

# Notify Message Types (RFC 2408 §3.14.1; 24576-24578 RFC 2407 §4.6.3; 36136/36137 RFC 3706).
V1_NOTIFY_NAMES: dict[int, str] = {
    1: "INVALID-PAYLOAD-TYPE",
    2: "DOI-NOT-SUPPORTED",
    3: "SITUATION-NOT-SUPPORTED",
    4: "INVALID-COOKIE",
    5: "INVALID-MAJOR-VERSION",
    6: "INVALID-MINOR-VERSION",
    7: "INVALID-EXCHANGE-TYPE",
    8: "INVALID-FLAGS",
    9: "INVALID-MESSAGE-ID",
    10: "INVALID-PROTOCOL-ID",
    11: "INVALID-SPI",
    12: "INVALID-TRANSFORM-ID",
    13: "ATTRIBUTES-NOT-SUPPORTED",
    14: "NO-PROPOSAL-CHOSEN",
    15: "BAD-PROPOSAL-SYNTAX",
    16: "PAYLOAD-MALFORMED",
    17: "INVALID-KEY-INFORMATION",
    18: "INVALID-ID-INFORMATION",
    19: "INVALID-CERT-ENCODING",
    20: "INVALID-CERTIFICATE",
    21: "CERT-TYPE-UNSUPPORTED",
    22: "INVALID-CERT-AUTHORITY",
    23: "INVALID-HASH-INFORMATION",
    24: "AUTHENTICATION-FAILED",
    25: "INVALID-SIGNATURE",
    26: "ADDRESS-NOTIFICATION",
    27: "NOTIFY-SA-LIFETIME",
    28: "CERTIFICATE-UNAVAILABLE",
    29: "UNSUPPORTED-EXCHANGE-TYPE",
    30: "UNEQUAL-PAYLOAD-LENGTHS",
    16384: "CONNECTED",
    24576: "RESPONDER-LIFETIME",
    24577: "REPLAY-STATUS",
    24578: "INITIAL-CONTACT",
    36136: "R-U-THERE",
    36137: "R-U-THERE-ACK",
}


def v1_encryption_name(value: int, key_length: int | None = None) -> str:
    """``AES-CBC-128``, ``3DES``; an unknown value is ``ENCR-<value>``."""
    base = V1_ENCRYPTION_NAMES.get(value, f"ENCR-{value}")
    return base if key_length is None else f"{base}-{key_length}"


def v1_hash_name(value: int) -> str:
    return V1_HASH_NAMES.get(value, f"HASH-{value}")


def v1_auth_name(value: int) -> str:
    return V1_AUTH_NAMES.get(value, f"AUTH-{value}")


def v1_group_name(value: int) -> str:
    return V1_GROUP_NAMES.get(value, f"DH-{value}")


def v1_notify_name(value: int) -> str:
    return V1_NOTIFY_NAMES.get(value, f"NOTIFY-{value}")


# --- Vendor IDs -----------------------------------------------------------------------------


def _md5(text: str) -> bytes:
    return hashlib.md5(text.encode("ascii"), usedforsecurity=False).digest()


# (prefix, name): a VID matches when it starts with the prefix. Where the real VID carries a
# version suffix the prefix is shorter than the VID. Definitions:
_VENDOR_IDS: tuple[tuple[bytes, str], ...] = (
    # strongSwan: MD5("strongSwan"), as charon 5.9.8 sends it in IKEv2 and IKEv1 with
    # charon.send_vendor_id = yes (captures/ike).
    (_md5("strongSwan"), "strongSwan"),
    # RFC 3947 §4: MD5("RFC 3947").
    (_md5("RFC 3947"), "RFC 3947 NAT-T"),
    # draft-ietf-ipsec-nat-t-ike-00 to -09 (the drafts of RFC 3947) each use MD5 of the draft
    # name; -02 was also deployed hashing the name with a trailing newline. All eleven hashes
    # agree with ike-scan's ike-vendor-ids.
    (_md5("draft-ietf-ipsec-nat-t-ike-02\n"), "draft-ietf-ipsec-nat-t-ike-02\\n"),
    *(
        (_md5(f"draft-ietf-ipsec-nat-t-ike-{n:02d}"), f"draft-ietf-ipsec-nat-t-ike-{n:02d}")
        for n in range(10)
    ),
    (_md5("draft-ietf-ipsec-nat-t-ike"), "draft-ietf-ipsec-nat-t-ike"),
    # draft-stenberg-ipsec-nat-traversal-01/-02: MD5 of the draft name.
    (_md5("draft-stenberg-ipsec-nat-traversal-01"), "draft-stenberg-ipsec-nat-traversal-01"),
    (_md5("draft-stenberg-ipsec-nat-traversal-02"), "draft-stenberg-ipsec-nat-traversal-02"),
    # RFC 3706 §4: the 16 bytes AF CA D7 13 68 A1 F1 C9 6B 86 96 FC 77 57 01 00 (the last two
    # are the major and minor version).
    (bytes.fromhex("afcad71368a1f1c96b8696fc7757"), "DPD"),
    # XAUTH: the first 8 bytes of MD5("draft-ietf-ipsra-isakmp-xauth-06.txt"), as sent by
    # XAUTH implementations (ike-scan's ike-vendor-ids documents the same derivation).
    (_md5("draft-ietf-ipsra-isakmp-xauth-06.txt")[:8], "XAUTH"),
    # Cisco IKE fragmentation: MD5("FRAGMENTATION"), often followed by 4 flag bytes.
    (_md5("FRAGMENTATION"), "FRAGMENTATION"),
    # Cisco Unity: MD5("CISCO-UNITY") with the last two bytes replaced by major/minor version.
    (_md5("CISCO-UNITY")[:14], "Cisco Unity"),
    # Microsoft: MD5("MS NT5 ISAKMPOAKLEY") followed by a 4-byte version number.
    (_md5("MS NT5 ISAKMPOAKLEY"), "MS NT5 ISAKMPOAKLEY"),
    (_md5("MS-Negotiation Discovery Capable"), "MS-Negotiation Discovery Capable"),
    (_md5("Vid-Initial-Contact"), "Microsoft Initial-Contact"),
    (_md5("IKE CGA version 1"), "IKE CGA version 1"),
    # The literal ASCII "HeartBeat_Notify" (Netscreen/Juniper heartbeat).
    (b"HeartBeat_Notify", "HeartBeat_Notify"),
)


def known_vendor_id(vid: bytes) -> str | None:
    """A display name for a well-known Vendor ID payload, else ``None``.

    A version suffix after a known prefix is appended: the Microsoft VID's 4-byte version as
    ``MS NT5 ISAKMPOAKLEY v9``, the DPD and Cisco Unity ``major.minor`` as ``DPD 1.0``.
    """
    for prefix, name in _VENDOR_IDS:
        if not vid.startswith(prefix):
            continue
        suffix = vid[len(prefix) :]
        if name == "MS NT5 ISAKMPOAKLEY" and len(suffix) == 4:
            return f"{name} v{int.from_bytes(suffix, 'big')}"
        if name in ("DPD", "Cisco Unity") and len(suffix) == 2:
            return f"{name} {suffix[0]}.{suffix[1]}"
        return name
    return None
