from __future__ import annotations

from collections import Counter

import pytest

from probe.codecs.tls.constants import TLS_EMPTY_RENEGOTIATION_INFO_SCSV, TLS_FALLBACK_SCSV, Version
from probe.codecs.tls.suites import (
    SSL2_CIPHER_BITS,
    SSL2_CIPHERS,
    SUITES,
    candidate_suites,
    suite_name,
)


def test_table_size(capsys: pytest.CaptureFixture[str]) -> None:
    iana = sum(s.iana for s in SUITES.values())
    with capsys.disabled():
        print(f"\n{len(SUITES)} cipher suites ({iana} IANA, {len(SUITES) - iana} legacy)")
    assert len(SUITES) >= 370
    assert iana >= 345


def test_codes_and_names_are_unique_and_keys_match() -> None:
    assert all(code == suite.code for code, suite in SUITES.items())
    names = Counter(s.name for s in SUITES.values())
    assert [n for n, count in names.items() if count > 1] == []
    openssl = Counter(s.openssl_name for s in SUITES.values() if s.openssl_name)
    assert [n for n, count in openssl.items() if count > 1] == []


def test_signalling_values_are_not_suites() -> None:
    assert TLS_EMPTY_RENEGOTIATION_INFO_SCSV == 0x00FF
    assert TLS_FALLBACK_SCSV == 0x5600
    assert 0x00FF not in SUITES
    assert 0x5600 not in SUITES


def test_the_tls13_suites() -> None:
    expected = {
        0x1301: "TLS_AES_128_GCM_SHA256",
        0x1302: "TLS_AES_256_GCM_SHA384",
        0x1303: "TLS_CHACHA20_POLY1305_SHA256",
        0x1304: "TLS_AES_128_CCM_SHA256",
        0x1305: "TLS_AES_128_CCM_8_SHA256",
    }
    for code, name in expected.items():
        s = SUITES[code]
        assert s.name == name
        assert s.openssl_name == name
        assert (s.kx, s.auth, s.aead, s.forward_secret) == ("TLS13", "TLS13", True, True)
        assert s.min_version == s.max_version == Version.TLS1_3
    assert candidate_suites(Version.TLS1_3)[:5] == list(expected)
    assert all(SUITES[c].is_tls13 for c in candidate_suites(Version.TLS1_3))


@pytest.mark.parametrize(
    "code, fields",
    [
        (
            0xC02F,
            dict(
                name="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                openssl_name="ECDHE-RSA-AES128-GCM-SHA256",
                kx="ECDHE",
                auth="RSA",
                cipher="AES_128_GCM",
                cipher_bits=128,
                block_bits=128,
                aead=True,
                mac="AEAD",
                forward_secret=True,
                export=False,
                anonymous=False,
                min_version=Version.TLS1_2,
                max_version=Version.TLS1_2,
            ),
        ),
        (
            0x000A,
            dict(
                name="TLS_RSA_WITH_3DES_EDE_CBC_SHA",
                openssl_name="DES-CBC3-SHA",
                kx="RSA",
                auth="RSA",
                cipher="3DES_EDE_CBC",
                cipher_bits=112,
                block_bits=64,
                aead=False,
                mac="SHA1",
                forward_secret=False,
                min_version=Version.SSL3,
            ),
        ),
        (
            0x0005,
            dict(cipher="RC4_128", cipher_bits=128, block_bits=None, mac="SHA1"),
        ),
        (
            0x0003,
            dict(
                name="TLS_RSA_EXPORT_WITH_RC4_40_MD5",
                export=True,
                cipher_bits=40,
                cipher="RC4_40",
                mac="MD5",
                max_version=Version.TLS1_0,
            ),
        ),
        (
            0x0014,
            dict(
                kx="DHE",
                auth="RSA",
                export=True,
                forward_secret=True,
                cipher="DES40_CBC",
                cipher_bits=40,
                block_bits=64,
            ),
        ),
        (0x0034, dict(kx="DHE", auth="anon", anonymous=True, forward_secret=False)),
        (0xC018, dict(kx="ECDHE", auth="anon", anonymous=True, openssl_name="AECDH-AES128-SHA")),
        (0x0000, dict(kx="NULL", auth="NULL", cipher="NULL", cipher_bits=0, anonymous=True)),
        (0x0002, dict(cipher="NULL", cipher_bits=0, block_bits=None, mac="SHA1")),
        (0x0035, dict(kx="RSA", forward_secret=False, min_version=Version.SSL3)),
        (0x003C, dict(mac="SHA256", min_version=Version.TLS1_2)),
        (0xC030, dict(cipher="AES_256_GCM", cipher_bits=256, forward_secret=True)),
        (0xCCA8, dict(cipher="CHACHA20_POLY1305", block_bits=None, aead=True, cipher_bits=256)),
        (0x0007, dict(cipher="IDEA_CBC", block_bits=64)),
        (0x0096, dict(cipher="SEED_CBC", block_bits=128)),
        (0x0084, dict(cipher="CAMELLIA_256_CBC", cipher_bits=256)),
        (0xC050, dict(cipher="ARIA_128_GCM", aead=True)),
        (0x00C6, dict(cipher="SM4_GCM", kx="TLS13", min_version=Version.TLS1_3)),
        (
            0xC0AA,
            dict(
                name="TLS_PSK_DHE_WITH_AES_128_CCM_8",
                kx="DHE_PSK",
                auth="PSK",
                cipher="AES_128_CCM_8",
                forward_secret=True,
            ),
        ),
        (0x00AA, dict(kx="DHE_PSK", forward_secret=True)),
        (0xD001, dict(kx="ECDHE_PSK", forward_secret=True, aead=True)),
        (0x0092, dict(kx="RSA_PSK", auth="RSA", forward_secret=False)),
        (0xC01E, dict(kx="SRP", auth="RSA")),
        (0x001E, dict(kx="KRB5", auth="KRB5", cipher="DES_CBC", cipher_bits=56)),
        (0xC0B0, dict(kx="ECCPWD", min_version=Version.TLS1_2)),
        (0xC0B4, dict(cipher="NULL", mac="SHA256", min_version=Version.TLS1_3)),
        (0xC102, dict(kx="GOST", cipher="28147_CNT", mac="GOST28147", min_version=Version.TLS1_2)),
        (0xC103, dict(kx="TLS13", cipher="KUZNYECHIK_MGM_L", aead=True)),
        (0x0081, dict(kx="GOST", iana=False, openssl_name="GOST2001-GOST89-GOST89")),
        (0x0062, dict(export=True, cipher="DES_CBC", cipher_bits=56, iana=False)),
        (0xCC13, dict(cipher="CHACHA20_POLY1305", iana=False, forward_secret=True)),
        (0xFEFF, dict(cipher="3DES_EDE_CBC", iana=False)),
        (0x000D, dict(kx="DH", auth="DSS", forward_secret=False)),
        (0xC004, dict(kx="ECDH", auth="ECDSA", forward_secret=False)),
    ],
)
def test_well_known_suite_facts(code: int, fields: dict[str, object]) -> None:
    suite = SUITES[code]
    assert {k: getattr(suite, k) for k in fields} == fields


def test_required_ranges_are_covered() -> None:
    for code in [
        *range(0x0000, 0x001C),
        *range(0x001E, 0x0047),
        *range(0x0067, 0x006E),
        *range(0x0084, 0x00C8),
        *range(0x1301, 0x1308),
        *range(0xC001, 0xC0B6),
        *range(0xC100, 0xC107),
        *range(0xCCA8, 0xCCAF),
        0xD001,
        0xD002,
        0xD003,
        0xD005,
        *range(0x0060, 0x0067),
        *range(0x0080, 0x0084),
        0xCC13,
        0xCC14,
        0xCC15,
        0xFEFE,
        0xFEFF,
        0xFFE0,
        0xFFE1,
    ]:
        assert code in SUITES, hex(code)


def test_facts_are_consistent() -> None:
    for s in SUITES.values():
        assert s.min_version <= s.max_version, s.name
        assert s.aead == (s.mac == "AEAD"), s.name
        if s.cipher == "NULL":
            assert s.cipher_bits == 0
        if s.export:
            assert s.cipher_bits <= 56
            assert s.max_version == Version.TLS1_0
        if s.forward_secret:
            assert s.kx in ("DHE", "ECDHE", "DHE_PSK", "ECDHE_PSK", "TLS13")
        if s.is_tls13:
            assert (
                0x1300 <= s.code <= 0x13FF
                or s.code in (0x00C6, 0x00C7, 0xC0B4, 0xC0B5)
                or (0xC103 <= s.code <= 0xC106)
            )


def test_candidates_by_version() -> None:
    tls12 = candidate_suites(Version.TLS1_2)
    assert len(tls12) == len(set(tls12))
    assert set(tls12) == {c for c, s in SUITES.items() if not s.is_tls13}
    for version in (Version.SSL3, Version.TLS1_0, Version.TLS1_1):
        older = candidate_suites(version)
        assert older
        for code in older:
            s = SUITES[code]
            assert not s.aead and s.mac not in ("SHA256", "SHA384"), s.name
        assert 0x002F in older and 0x000A in older and 0x0003 in older
    with pytest.raises(ValueError):
        candidate_suites(Version.SSL2)


def test_common_server_suites_come_first() -> None:
    first_chunk = candidate_suites(Version.TLS1_2)[:64]
    mozilla_intermediate_and_old = [
        0xC02B,
        0xC02F,
        0xC02C,
        0xC030,
        0xCCA9,
        0xCCA8,
        0x009E,
        0x009F,
        0xCCAA,
        0xC023,
        0xC027,
        0xC009,
        0xC013,
        0xC024,
        0xC028,
        0xC00A,
        0xC014,
        0x0067,
        0x006B,
        0x0033,
        0x0039,
        0x009C,
        0x009D,
        0x003C,
        0x003D,
        0x002F,
        0x0035,
        0x000A,
    ]
    assert set(mozilla_intermediate_and_old) <= set(first_chunk)
    assert candidate_suites(Version.TLS1_2)[0] in (0xC02B, 0xC02C, 0xC02F, 0xC030)
    tls10 = candidate_suites(Version.TLS1_0)[:32]
    assert {0xC013, 0xC014, 0x0033, 0x0039, 0x002F, 0x0035} <= set(tls10)


def test_suite_name_of_unknown_code() -> None:
    assert suite_name(0xC02F) == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert suite_name(0xABCD) == "0xABCD"


def test_sslv2_cipher_kinds() -> None:
    assert SSL2_CIPHERS[0x010080] == "SSL_CK_RC4_128_WITH_MD5"
    assert SSL2_CIPHERS[0x0700C0] == "SSL_CK_DES_192_EDE3_CBC_WITH_MD5"
    assert set(SSL2_CIPHERS) == set(SSL2_CIPHER_BITS)
    assert SSL2_CIPHER_BITS[0x020080] == 40
    assert len(SSL2_CIPHERS) >= 7
