"""Recorded answers of Samba 4.17 (captures/smb, see its README) fed whole, byte by byte and
with trailing garbage, then parsed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tls_helpers import Feedable, feed_whole

from probe.codecs.smb2 import (
    CAP_ENCRYPTION,
    DIALECT_WILDCARD,
    NBSS_POSITIVE_RESPONSE,
    PREAUTH_SHA512,
    SESSION_FLAG_ENCRYPT_DATA,
    Cipher,
    Command,
    ContextType,
    Dialect,
    NbssReader,
    SigningAlgorithm,
    Smb2ErrorResponse,
    Status,
    filetime_to_unix,
    parse_negotiate_response,
    parse_session_setup_response,
    parse_smb1_negotiate_response,
    parse_smb2_header,
)

CAPTURES = Path(__file__).resolve().parents[2] / "captures" / "smb"
# Recorded in 2026; any sane server clock is after 2020.
AFTER_2020 = 1_577_836_800

# What each negotiate recording must yield: dialect, cipher, encryption context present,
# signing algorithm, CAP_ENCRYPTION, SecurityMode.
NEGOTIATE: dict[str, tuple[int, int | None, bool, int | None, bool, int]] = {
    "negotiate_0202.bin": (Dialect.SMB2_0_2, None, False, None, False, 1),
    "negotiate_0210.bin": (Dialect.SMB2_1, None, False, None, False, 1),
    "negotiate_0300.bin": (Dialect.SMB3_0, None, False, None, True, 1),
    "negotiate_0302.bin": (Dialect.SMB3_0_2, None, False, None, True, 1),
    # Samba sets CAP_ENCRYPTION for 3.1.1 when the client asked for it without a context.
    "negotiate_0311.bin": (Dialect.SMB3_1_1, None, False, None, True, 1),
    "negotiate_0311_no_encryption_context.bin": (Dialect.SMB3_1_1, None, False, None, True, 1),
    "negotiate_all.bin": (
        Dialect.SMB3_1_1,
        Cipher.AES_128_GCM,
        True,
        SigningAlgorithm.AES_GMAC,
        False,
        1,
    ),
    "negotiate_0311_ciphers_all.bin": (Dialect.SMB3_1_1, Cipher.AES_128_GCM, True, None, False, 1),
    "negotiate_0311_cipher_1.bin": (Dialect.SMB3_1_1, Cipher.AES_128_CCM, True, None, False, 1),
    "negotiate_0311_cipher_2.bin": (Dialect.SMB3_1_1, Cipher.AES_128_GCM, True, None, False, 1),
    "negotiate_0311_cipher_3.bin": (Dialect.SMB3_1_1, Cipher.AES_256_CCM, True, None, False, 1),
    "negotiate_0311_cipher_4.bin": (Dialect.SMB3_1_1, Cipher.AES_256_GCM, True, None, False, 1),
    "negotiate_0311_signing_0.bin": (
        Dialect.SMB3_1_1,
        None,
        False,
        SigningAlgorithm.HMAC_SHA256,
        True,
        1,
    ),
    "negotiate_0311_signing_1.bin": (
        Dialect.SMB3_1_1,
        None,
        False,
        SigningAlgorithm.AES_CMAC,
        True,
        1,
    ),
    "negotiate_0311_signing_2.bin": (
        Dialect.SMB3_1_1,
        None,
        False,
        SigningAlgorithm.AES_GMAC,
        True,
        1,
    ),
    # server smb3 encryption algorithms = aes-128-ccm: a context with cipher 0 when the
    # offer has nothing in common, the one cipher otherwise.
    "negotiate_0311_only_ccm_offer_gcm256.bin": (Dialect.SMB3_1_1, None, True, None, False, 1),
    "negotiate_0311_only_ccm_offer_all.bin": (
        Dialect.SMB3_1_1,
        Cipher.AES_128_CCM,
        True,
        None,
        False,
        1,
    ),
    "negotiate_max_smb2_10_offer_all.bin": (Dialect.SMB2_1, None, False, None, False, 1),
    "negotiate_signing_mandatory_0311.bin": (
        Dialect.SMB3_1_1,
        Cipher.AES_128_GCM,
        True,
        None,
        False,
        3,
    ),
    "negotiate_encrypt_required_0300.bin": (Dialect.SMB3_0, None, False, None, True, 1),
    "negotiate_encrypt_desired_0300.bin": (Dialect.SMB3_0, None, False, None, True, 1),
    "nbss_then_negotiate_0210.bin": (Dialect.SMB2_1, None, False, None, False, 1),
}

# What each SESSION_SETUP recording must yield: status, NTLMSSP challenge in the blob,
# SessionFlags.
SESSION_SETUP: dict[str, tuple[int, bool, int]] = {
    "session_setup_default.bin": (Status.MORE_PROCESSING_REQUIRED, True, 0),
    "session_setup_anonymous_default.bin": (Status.SUCCESS, False, 0),
}
for _setting in ("required", "desired"):
    for _label in ("0210", "0311_noenc", "0311_enc"):
        # Samba 4.17 checks "server smb encrypt = required" only once a session is
        # authenticated: the first leg always goes on; an anonymous session is refused.
        SESSION_SETUP[f"session_setup_encrypt_{_setting}_{_label}.bin"] = (
            Status.MORE_PROCESSING_REQUIRED,
            True,
            0,
        )
        # "desired" with a cipher negotiated: even the null session gets ENCRYPT_DATA.
        SESSION_SETUP[f"session_setup_anonymous_encrypt_{_setting}_{_label}.bin"] = (
            Status.ACCESS_DENIED if _setting == "required" else Status.SUCCESS,
            False,
            SESSION_FLAG_ENCRYPT_DATA if _setting == "desired" and _label == "0311_enc" else 0,
        )


def load(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


def message_of(name: str, feed: Callable[[Feedable, bytes], None]) -> bytes:
    reader = NbssReader()
    feed(reader, load(name))
    assert reader.done
    message = reader.message()
    assert message is not None
    return message


def test_every_capture_has_an_expectation() -> None:
    names = {p.name for p in CAPTURES.glob("*.bin")}
    covered = set(NEGOTIATE) | set(SESSION_SETUP)
    covered |= {
        "nbss_session_response.bin",
        "negotiate_max_smb2_10_offer_0300.bin",
        "smb1_negotiate_multiprotocol.bin",
        "smb1_negotiate_nt1.bin",
        "smb1_negotiate_refused.bin",
    }
    assert names == covered


@pytest.mark.parametrize("name", sorted(NEGOTIATE))
def test_negotiate_recordings(name: str, feed: Callable[[Feedable, bytes], None]) -> None:
    dialect, cipher, context, signing, cap_encryption, security_mode = NEGOTIATE[name]
    response = parse_negotiate_response(message_of(name, feed))
    assert response.status == Status.SUCCESS
    assert response.header.command == Command.NEGOTIATE
    assert response.header.is_response
    assert response.dialect == dialect
    assert response.cipher == cipher
    assert response.encryption_context_present is context
    assert response.signing_algorithm == signing
    assert response.encryption_capability is cap_encryption
    assert bool(response.capabilities & CAP_ENCRYPTION) is cap_encryption
    assert response.security_mode == security_mode
    assert response.signing_enabled
    assert response.signing_required is (security_mode == 3)
    assert len(response.server_guid) == 16
    assert response.max_read >= 65536 and response.max_write >= 65536
    assert response.max_transact >= 65536
    assert filetime_to_unix(response.system_time) > AFTER_2020
    assert response.security_blob.startswith(b"\x60")  # SPNEGO NegTokenInit hint
    if dialect == Dialect.SMB3_1_1:
        assert response.preauth_hash_algorithms == (PREAUTH_SHA512,)
        assert response.contexts[0][0] == ContextType.PREAUTH_INTEGRITY_CAPABILITIES
        types = {t for t, _ in response.contexts}
        assert (ContextType.ENCRYPTION_CAPABILITIES in types) is context
        assert (ContextType.SIGNING_CAPABILITIES in types) is (signing is not None)
    else:
        assert response.contexts == ()
        assert response.preauth_hash_algorithms == ()


def test_labels_of_a_recording() -> None:
    response = parse_negotiate_response(message_of("negotiate_all.bin", feed_whole))
    assert response.dialect_label == "3.1.1"
    assert response.cipher_label == "AES-128-GCM"
    assert response.signing_label == "AES-GMAC"


def test_no_common_cipher_is_a_context_with_cipher_zero() -> None:
    message = message_of("negotiate_0311_only_ccm_offer_gcm256.bin", feed_whole)
    response = parse_negotiate_response(message)
    assert dict(response.contexts)[ContextType.ENCRYPTION_CAPABILITIES] == b"\x01\x00\x00\x00"
    assert response.encryption_context_present and response.cipher is None


def test_no_common_dialect_raises_error_response(feed: Callable[[Feedable, bytes], None]) -> None:
    message = message_of("negotiate_max_smb2_10_offer_0300.bin", feed)
    assert parse_smb2_header(message).status == Status.NOT_SUPPORTED
    with pytest.raises(Smb2ErrorResponse) as info:
        parse_negotiate_response(message)
    assert info.value.status == Status.NOT_SUPPORTED
    assert info.value.command == Command.NEGOTIATE


@pytest.mark.parametrize("name", sorted(SESSION_SETUP))
def test_session_setup_recordings(name: str, feed: Callable[[Feedable, bytes], None]) -> None:
    status, challenge, flags = SESSION_SETUP[name]
    response = parse_session_setup_response(message_of(name, feed))
    assert response.status == status
    assert response.header.command == Command.SESSION_SETUP
    assert response.session_id != 0
    assert response.ntlm_challenge is challenge
    # Samba 4.17 sets neither IS_GUEST nor IS_NULL for a null session.
    assert response.session_flags == flags
    assert response.encrypt_data is bool(flags & SESSION_FLAG_ENCRYPT_DATA)
    assert not response.is_guest and not response.is_null
    if status == Status.ACCESS_DENIED:
        assert response.security_blob == b""
        assert response.status_name == "STATUS_ACCESS_DENIED"


def test_smb1_accepted_with_nt1(feed: Callable[[Feedable, bytes], None]) -> None:
    response = parse_smb1_negotiate_response(message_of("smb1_negotiate_nt1.bin", feed))
    assert response.accepted
    assert response.smb2 is None
    assert response.dialect_index == 0
    assert response.word_count == 17
    assert response.security_mode == 0x03  # user level, challenge/response, no signing
    assert not response.signing_required
    assert response.max_buffer_size > 0
    assert filetime_to_unix(response.system_time) > AFTER_2020


def test_smb1_refused_by_default(feed: Callable[[Feedable, bytes], None]) -> None:
    # Samba 4.17 does not close the connection: WordCount 1, DialectIndex 0xFFFF.
    response = parse_smb1_negotiate_response(message_of("smb1_negotiate_refused.bin", feed))
    assert not response.accepted
    assert response.status == Status.SUCCESS
    assert response.word_count == 1
    assert response.dialect_index == 0xFFFF
    assert response.smb2 is None


def test_smb1_multiprotocol_gets_smb2_wildcard(feed: Callable[[Feedable, bytes], None]) -> None:
    message = message_of("smb1_negotiate_multiprotocol.bin", feed)
    response = parse_smb1_negotiate_response(message)
    assert not response.accepted
    assert response.smb2 is not None
    assert response.smb2.dialect == DIALECT_WILDCARD
    assert parse_negotiate_response(message).dialect_label == "0x02ff"


def test_nbss_positive_session_response(feed: Callable[[Feedable, bytes], None]) -> None:
    reader = NbssReader()
    feed(reader, load("nbss_session_response.bin"))
    assert reader.done
    assert reader.session_response == NBSS_POSITIVE_RESPONSE
    assert reader.message() is None
    assert reader.negative_code is None


def _fields(response: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(response).items() if k != "header"}


@pytest.mark.parametrize("name", sorted(NEGOTIATE))
def test_same_result_for_every_split(name: str) -> None:
    data = load(name)
    results = []
    for cut in range(len(data) + 1):
        reader = NbssReader()
        reader.feed(data[:cut])
        reader.feed(data[cut:])
        message = reader.message()
        assert message is not None
        results.append(_fields(parse_negotiate_response(message)))
    assert all(r == results[0] for r in results)
