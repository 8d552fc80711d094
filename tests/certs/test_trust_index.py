"""probe.trust indexes trust anchors by subject name without parsing them: the index must name
every anchor exactly as OpenSSL does, and hostile bytes must not break it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from OpenSSL import crypto

from probe.trust import PUBLIC_STORES, STORE_NAMES, _Anchors, _anchors_for, _subject_name_der


@pytest.mark.parametrize("store", [None, *(f"public:{name}" for name in PUBLIC_STORES)])
def test_index_names_every_anchor_as_openssl_does(store: str | None) -> None:
    anchors = _anchors_for(store)
    assert anchors.ders, store
    for der in anchors.ders:
        cert = crypto.load_certificate(crypto.FILETYPE_ASN1, der)
        subject = cert.get_subject().der()
        assert _subject_name_der(der) == subject
        assert any(
            c.digest("sha256") == cert.digest("sha256") for c in anchors.with_subject(subject)
        )


def test_anchors_are_parsed_only_when_asked_for() -> None:
    anchors = _Anchors(_anchors_for("public:microsoft").ders, None)  # a fresh, unparsed copy
    assert not anchors._parsed
    some_subject = next(iter(anchors.by_subject))
    anchors.with_subject(some_subject)
    assert 1 <= len(anchors._parsed) < len(anchors.ders)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_subject_reader_never_raises(data: bytes) -> None:
    result = _subject_name_der(data)
    assert result is None or (result[:1] == b"\x30" and result in data)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_truncated_anchor_is_skipped(data: st.DataObject) -> None:
    der = _anchors_for("public:mozilla").ders[0]
    cut = data.draw(st.integers(min_value=0, max_value=len(der) - 1))
    result = _subject_name_der(der[:cut])
    full = _subject_name_der(der)
    assert result is None or result == full


def test_store_names_match_the_stores() -> None:
    assert ("system", *PUBLIC_STORES, "custom") == STORE_NAMES
