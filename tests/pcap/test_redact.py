"""probe.pcap.redact: fingerprints never reveal the value and are stable across runs."""

from __future__ import annotations

import hashlib
from dataclasses import fields

from hypothesis import given
from hypothesis import strategies as st

from probe.pcap.redact import SALT, Secret, clean_user, redact


def test_long_value_shows_length_ends_and_salted_hash() -> None:
    value = "correct-horse-battery"
    digest = hashlib.sha256(SALT + value.encode()).hexdigest()[:8]
    assert redact(value, kind="ftp-password") == f"ftp-password:len=21:c..y:{digest}"
    assert redact(value.encode(), kind="ftp-password") == redact(value, kind="ftp-password")


def test_short_value_shows_only_length_and_hash() -> None:
    fingerprint = redact("s3cret", kind="pop3-password")
    assert fingerprint.startswith("pop3-password:len=6:") and "s" not in fingerprint[19:21]
    assert len(fingerprint.split(":")) == 3


def test_fixed_salt_makes_fingerprints_comparable() -> None:
    # the documented value: changing the salt changes every stored fingerprint
    assert SALT == b"probe-pcap-redact-v1\x00"
    assert redact("hunter2hunter2", kind="x").endswith(
        hashlib.sha256(SALT + b"hunter2hunter2").hexdigest()[:8]
    )


def test_card_number_first_six_last_four() -> None:
    fingerprint = redact("4111 1111 1111 1111", kind="card-number")
    assert fingerprint.startswith("card-number:411111..1111:len=16:")
    assert "4111111111111111" not in fingerprint


def test_non_printable_ends_are_masked() -> None:
    assert redact("\x1b[31mpassword\x07", kind="k").split(":")[2] == "?..?"


def test_clean_user_strips_controls_and_caps() -> None:
    assert clean_user(b"al\x1b[2Jice\r\n") == "al[2Jice"
    assert clean_user("bob\u202eevil") == "bobevil"
    assert clean_user("x" * 500) == "x" * 64
    assert clean_user(b"\xff\xfe") == "\ufffd\ufffd"
    assert clean_user(None) is None


def test_secret_repr_holds_no_raw_value() -> None:
    raw = "Tr0ub4dor&3-Xyzzy"
    secret = Secret("http-basic", "http", "client", 10, "alice", redact(raw, kind="http-basic"))
    for text in (
        repr(secret),
        str(secret),
        *(str(getattr(secret, f.name)) for f in fields(secret)),
    ):
        assert raw not in text
    assert secret.allows_http is None


@given(st.text(min_size=1, max_size=200), st.sampled_from(["jwt", "card-number", "azure-sas"]))
def test_redact_never_contains_long_values(value: str, kind: str) -> None:
    fingerprint = redact(value, kind=kind)
    assert fingerprint.startswith(kind + ":")
    if len(value) >= 12 and kind != "card-number":
        assert value not in fingerprint
