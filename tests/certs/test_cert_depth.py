"""Issue 6, certificates in depth: trust stores, chain order and completeness, must-staple,
embedded SCTs, key usage, validity limits; and the profile rules that judge them."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
from hypothesis import given
from hypothesis import strategies as st

from probe.codecs.x509 import certificate_facts, sct_list_count, validity_limit_days
from probe.grading.rules import RULES, ParamError, check_param
from probe.model import CertificateFacts
from probe.trust import PUBLIC_STORES, STORE_NAMES, _anchors_for, assess_chain
from tests.grading.factories import cert as cert_facts_of
from tests.grading.factories import facts as tls_facts

from .certgen import NOW, Issued, key, name, pki, write_pem

SCT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")


# --- builders -----------------------------------------------------------------------------


def fake_sct(index: int) -> bytes:
    """One RFC 6962 3.2 SignedCertificateTimestamp, well-formed but signed by no log."""
    return (
        b"\x00"  # v1
        + bytes([index]) * 32  # LogID
        + struct.pack(">Q", 1_700_000_000_000 + index)  # timestamp
        + b"\x00\x00"  # no CtExtensions
        + b"\x04\x03"  # sha256, ecdsa (RFC 5246 7.4.1.4.1)
        + struct.pack(">H", 8)
        + b"\x30\x06\x02\x01\x01\x02\x01\x01"  # a DER ECDSA signature shape
    )


def sct_list(scts: Sequence[bytes]) -> bytes:
    """RFC 6962 3.3: the TLS-encoded list, as the contents of an OCTET STRING."""
    body = b"".join(struct.pack(">H", len(s)) + s for s in scts)
    tls = struct.pack(">H", len(body)) + body
    return _der_octet_string(tls)


def _der_octet_string(content: bytes) -> bytes:
    if len(content) < 0x80:
        return b"\x04" + bytes([len(content)]) + content
    encoded = len(content).to_bytes((len(content).bit_length() + 7) // 8, "big")
    return b"\x04" + bytes([0x80 | len(encoded)]) + encoded + content


def leaf(
    issuer: Issued,
    *,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    not_before: datetime = NOW - timedelta(days=30),
    days: int = 90,
    cn: str = "localhost",
    index: int = 5,
) -> Issued:
    own = key("p256", index)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(issuer.cert.subject)
        .public_key(own.public_key())
        .serial_number(4000 + index)
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    signer = issuer.key
    cert = builder.sign(signer, hashes.SHA256())  # type: ignore[arg-type]
    return Issued(cert=cert, key=own)


def facts_of(chain: Sequence[bytes], **trust: object) -> CertificateFacts:
    return certificate_facts(
        chain,
        server_name="localhost",
        now=NOW,
        trusted=False,
        trust_error=None,
        served_with=(),
        **trust,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def chain() -> object:
    return pki()


# --- extensions ---------------------------------------------------------------------------


def test_plain_leaf_defaults(chain: object) -> None:
    p = chain
    got = facts_of([p.leaf.der, p.intermediate.der])  # type: ignore[attr-defined]
    assert got.must_staple is False
    assert got.sct_count == 0
    assert got.extended_key_usage == ()
    assert got.server_auth is True  # no EKU: any purpose (RFC 5280 4.2.1.12)
    assert got.chain_in_order is True


def test_must_staple(chain: object) -> None:
    feature = x509.TLSFeature([x509.TLSFeatureType.status_request])
    issued = leaf(chain.intermediate, extensions=[(feature, False)])  # type: ignore[attr-defined]
    assert facts_of([issued.der]).must_staple is True


def test_tls_feature_without_status_request_is_not_must_staple(chain: object) -> None:
    feature = x509.TLSFeature([x509.TLSFeatureType.status_request_v2])
    issued = leaf(chain.intermediate, extensions=[(feature, False)])  # type: ignore[attr-defined]
    assert facts_of([issued.der]).must_staple is False


@pytest.mark.parametrize("count", [1, 2, 3])
def test_embedded_sct_count(chain: object, count: int) -> None:
    raw = x509.UnrecognizedExtension(SCT_OID, sct_list([fake_sct(i) for i in range(count)]))
    issued = leaf(chain.intermediate, extensions=[(raw, False)])  # type: ignore[attr-defined]
    # cryptography parses the list itself on load; our count must agree with it.
    parsed = issued.cert.extensions.get_extension_for_oid(
        ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS
    )
    assert len(parsed.value) == count  # type: ignore[arg-type]
    assert facts_of([issued.der]).sct_count == count


def test_key_usage_and_eku_without_server_auth(chain: object) -> None:
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, x509.ObjectIdentifier("1.2.3.4")])
    issued = leaf(chain.intermediate, extensions=[(usage, True), (eku, False)])  # type: ignore[attr-defined]
    got = facts_of([issued.der])
    assert got.key_usage == ("digitalSignature",)
    assert got.extended_key_usage == ("clientAuth", "1.2.3.4")
    assert got.server_auth is False


@pytest.mark.parametrize(
    ("purposes", "expected"),
    [
        ([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], True),
        ([ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE], True),
        ([ExtendedKeyUsageOID.CODE_SIGNING], False),
    ],
)
def test_server_auth(chain: object, purposes: list[x509.ObjectIdentifier], expected: bool) -> None:
    eku = x509.ExtendedKeyUsage(purposes)
    issued = leaf(chain.intermediate, extensions=[(eku, False)])  # type: ignore[attr-defined]
    assert facts_of([issued.der]).server_auth is expected


# --- validity limits (CA/B BR 6.3.2) ------------------------------------------------------


@pytest.mark.parametrize(
    ("issued_at", "days", "exceeds"),
    [
        (datetime(2025, 1, 10, tzinfo=UTC), 500, True),  # 398-day era
        (datetime(2025, 1, 10, tzinfo=UTC), 397, False),
        (datetime(2025, 1, 10, tzinfo=UTC), 398, True),  # 398 days + the inclusive second
        (datetime(2019, 6, 1, tzinfo=UTC), 800, False),  # 825-day era
        (datetime(2019, 6, 1, tzinfo=UTC), 830, True),
        (datetime(2026, 4, 1, tzinfo=UTC), 300, True),  # SC-081: 200 days from 2026-03-15
        (datetime(2014, 1, 1, tzinfo=UTC), 2000, False),  # before 39 months: not modelled
    ],
)
def test_validity_limit(chain: object, issued_at: datetime, days: int, exceeds: bool) -> None:
    issued = leaf(chain.intermediate, not_before=issued_at, days=days)  # type: ignore[attr-defined]
    got = facts_of([issued.der])
    assert got.validity_days == days
    assert got.exceeds_validity_limit is exceeds


def test_validity_limit_table() -> None:
    assert validity_limit_days(datetime(2020, 8, 31, 23, 59, tzinfo=UTC)) == 825
    assert validity_limit_days(datetime(2020, 9, 1, tzinfo=UTC)) == 398
    assert validity_limit_days(datetime(2029, 3, 15, tzinfo=UTC)) == 47
    assert validity_limit_days(datetime(2010, 1, 1)) is None  # naive means UTC


# --- chain order --------------------------------------------------------------------------


def test_chain_order(chain: object) -> None:
    p = chain
    leaf_der, inter, root = p.leaf.der, p.intermediate.der, p.root.der  # type: ignore[attr-defined]
    stray = leaf(p.root, cn="stray.example", index=9).der  # type: ignore[attr-defined]
    assert facts_of([leaf_der, inter, root]).chain_in_order is True
    assert facts_of([leaf_der, inter, root, stray]).chain_in_order is True  # extra at the end
    assert facts_of([leaf_der, root, inter]).chain_in_order is False
    assert facts_of([leaf_der, stray, inter]).chain_in_order is False
    assert facts_of([leaf_der]).chain_in_order is True
    assert facts_of([leaf_der, b"garbage", inter]).chain_in_order is False


# --- trust stores and completeness --------------------------------------------------------


@pytest.fixture(scope="module")
def root_file(chain: object, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("depth")
    return str(write_pem(folder / "root.pem", chain.root))  # type: ignore[attr-defined]


def test_lab_chain_verifies_only_with_its_ca(chain: object, root_file: str) -> None:
    p = chain
    got = assess_chain([p.leaf.der, p.intermediate.der], now=NOW, ca_file=root_file)  # type: ignore[attr-defined]
    assert got.trusted is True and got.trust_error is None
    assert got.complete is True
    assert got.stores["custom"] is True
    assert set(got.stores) == set(STORE_NAMES)  # every store loaded here
    assert not any(ok for store, ok in got.stores.items() if store != "custom")


def test_missing_intermediate_is_incomplete(chain: object, root_file: str) -> None:
    p = chain
    got = assess_chain([p.leaf.der], now=NOW, ca_file=root_file)  # type: ignore[attr-defined]
    assert got.trusted is False
    assert got.complete is False
    assert got.trust_error == "unable to get local issuer certificate"


def test_untrusted_served_root_is_complete(chain: object) -> None:
    p = chain
    served = [p.leaf.der, p.intermediate.der, p.root.der]  # type: ignore[attr-defined]
    got = assess_chain(served, now=NOW)
    assert got.trusted is False
    assert got.complete is True  # the path is all there; only its root is unknown
    assert "custom" not in got.stores


def test_shuffled_chain_still_verifies(chain: object, root_file: str) -> None:
    p = chain
    served = [p.leaf.der, p.root.der, p.intermediate.der]  # type: ignore[attr-defined]
    got = assess_chain(served, now=NOW, ca_file=root_file)
    assert got.trusted is True and got.complete is True


def test_public_stores_load() -> None:
    for store in PUBLIC_STORES:
        anchors = _anchors_for(f"public:{store}")
        assert len(anchors.certs) > 50, store
        assert sum(len(v) for v in anchors.by_subject.values()) == len(anchors.certs)


def _store_root(store: str, subject_contains: str) -> bytes:
    for anchor in _anchors_for(f"public:{store}").certs:
        if subject_contains in (anchor.get_subject().CN or ""):
            return anchor.to_cryptography().public_bytes(serialization.Encoding.DER)
    raise AssertionError(f"{subject_contains} not in {store}")


def test_real_roots_split_the_stores() -> None:
    """No public leaf is available offline, so a real root served alone stands in for a chain:
    PARTIAL_CHAIN makes a store's own certificate its anchor. ISRG Root X1 is in every store;
    Microsoft's store holds roots Mozilla does not."""
    when = datetime(2025, 6, 1, tzinfo=UTC)
    isrg = assess_chain([_store_root("mozilla", "ISRG Root X1")], now=when)
    assert {s: isrg.stores[s] for s in PUBLIC_STORES} == dict.fromkeys(PUBLIC_STORES, True)
    mozilla = {a.digest("sha256") for a in _anchors_for("public:mozilla").certs}
    only_microsoft = next(
        a
        for a in _anchors_for("public:microsoft").certs
        if a.digest("sha256") not in mozilla
        and not a.has_expired()
        and a.get_notBefore() is not None
        and a.get_notBefore() < b"20250101000000Z"
    )
    der = only_microsoft.to_cryptography().public_bytes(serialization.Encoding.DER)
    got = assess_chain([der], now=when)
    assert got.stores["microsoft"] is True
    assert got.stores["mozilla"] is False


def test_certificate_facts_carry_the_verdicts(chain: object, root_file: str) -> None:
    p = chain
    served = [p.leaf.der, p.intermediate.der]  # type: ignore[attr-defined]
    trust = assess_chain(served, now=NOW, ca_file=root_file)
    got = facts_of(served, trust_stores=trust.stores, chain_complete=trust.complete)
    assert got.trust_stores == trust.stores
    assert got.chain_complete is True


# --- the SCT list parser (RFC 6962 3.3) ---------------------------------------------------


def test_sct_list_count_rejects_bad_framing() -> None:
    good = sct_list([fake_sct(1), fake_sct(2)])
    assert sct_list_count(good) == 2
    assert sct_list_count(b"") is None
    assert sct_list_count(b"\x30\x00") is None  # not an OCTET STRING
    assert sct_list_count(good[:-1]) is None  # truncated
    assert sct_list_count(_der_octet_string(b"\x00\x00")) is None  # empty list (1..2^16-1)
    assert sct_list_count(_der_octet_string(b"\x00\x02\x00\x00")) is None  # empty SCT
    assert sct_list_count(_der_octet_string(b"\x00\x03\x00\x05\x01")) is None  # overrun


@given(st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=20))
def test_sct_list_count_counts_any_well_framed_list(scts: list[bytes]) -> None:
    assert sct_list_count(sct_list(scts)) == len(scts)


@given(st.binary(max_size=600))
def test_sct_list_count_never_raises(data: bytes) -> None:
    got = sct_list_count(data)
    assert got is None or got >= 1


@given(st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=5), st.data())
def test_sct_list_count_mutations(scts: list[bytes], data: st.DataObject) -> None:
    encoded = bytearray(sct_list(scts))
    position = data.draw(st.integers(0, len(encoded) - 1))
    encoded[position] ^= data.draw(st.integers(1, 255))
    got = sct_list_count(bytes(encoded))
    assert got is None or 1 <= got <= len(encoded) // 3


# --- rules --------------------------------------------------------------------------------


def _run(
    rule: str, certificate: CertificateFacts, **params: object
) -> list[tuple[str, str | None]]:
    values = {
        n: check_param(p, params[n]) if n in params else p.default
        for n, p in RULES[rule].params.items()
    }
    return RULES[rule].check(values, tls_facts(certificates=(certificate,)), NOW)


def test_rule_server_auth() -> None:
    assert _run("certificate_server_auth", cert_facts_of()) == []
    bad = cert_facts_of(server_auth=False, extended_key_usage=("clientAuth",))
    [(message, _)] = _run("certificate_server_auth", bad)
    assert "clientAuth" in message


def test_rule_trusted_by_stores() -> None:
    stores = {"system": True, "mozilla": True, "apple": False, "android": True}
    [(message, _)] = _run("certificate_trusted_by_stores", cert_facts_of(trust_stores=stores))
    assert "apple" in message and "mozilla" not in message
    # untrusted chains are CERT-TRUSTED's; private CAs (--ca-file) are not judged by stores
    assert (
        _run("certificate_trusted_by_stores", cert_facts_of(trusted=False, trust_stores=stores))
        == []
    )
    private = {**stores, "custom": True, "mozilla": False}
    assert _run("certificate_trusted_by_stores", cert_facts_of(trust_stores=private)) == []
    assert (
        _run("certificate_trusted_by_stores", cert_facts_of(trust_stores=stores), stores=["java"])
        == []
    )
    with pytest.raises(ParamError):
        check_param(RULES["certificate_trusted_by_stores"].params["stores"], ["safari"])


def test_rule_validity_limit_only_for_public_certificates() -> None:
    long = cert_facts_of(validity_days=500, exceeds_validity_limit=True)
    assert len(_run("certificate_validity_limit", long)) == 1
    private = cert_facts_of(
        validity_days=500,
        exceeds_validity_limit=True,
        trust_stores={"system": False, "mozilla": False, "custom": True},
    )
    assert _run("certificate_validity_limit", private) == []


def test_rule_max_validity() -> None:
    assert _run("certificate_max_validity", cert_facts_of(validity_days=90), days=90) == []
    assert len(_run("certificate_max_validity", cert_facts_of(validity_days=91), days=90)) == 1


def test_rule_chain_complete_and_order() -> None:
    assert _run("certificate_chain_complete", cert_facts_of(chain_complete=None)) == []
    incomplete = cert_facts_of(
        chain_complete=False, trusted=False, trust_error="unable to get local issuer certificate"
    )
    [(message, _)] = _run("certificate_chain_complete", incomplete)
    assert "incomplete" in message
    assert len(_run("certificate_chain_in_order", cert_facts_of(chain_in_order=False))) == 1
    assert _run("certificate_chain_in_order", cert_facts_of()) == []


def test_store_names_are_the_json_enum() -> None:
    import json

    schema = json.loads(
        (Path(__file__).resolve().parents[2] / "docs" / "json-output.schema.json").read_text()
    )
    enum = schema["$defs"]["certificate"]["properties"]["trust_stores"]["propertyNames"]["enum"]
    assert enum == list(STORE_NAMES)
