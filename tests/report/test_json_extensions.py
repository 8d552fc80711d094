"""tls.extensions in the JSON report (docs/json-output.md): null, or an object in key order."""

from __future__ import annotations

import dataclasses

from factories import facts, result

from probe.model import TlsExtensionFacts
from probe.report.json_doc import target_to_dict
from tests.json_contract import TLS_EXTENSION_KEYS, TLS_KEYS, TLS_VULNERABILITY_KEYS

EXT = TlsExtensionFacts(
    version="TLSv1.2",
    secure_renegotiation=True,
    secure_renegotiation_scsv=True,
    extended_master_secret=False,
    encrypt_then_mac=None,
    session_tickets=True,
    session_id=False,
    ocsp_stapling=True,
    compression="DEFLATE",
    alpn="h2",
)


def test_extensions_null_when_not_measured() -> None:
    out = target_to_dict(result(facts({"TLSv1.3": ("TLS_AES_128_GCM_SHA256",)})))["tls"]
    assert list(out) == TLS_KEYS
    assert out["extensions"] is None


def test_extensions_object() -> None:
    tls = dataclasses.replace(
        facts({"TLSv1.2": ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",)}), extensions=EXT
    )
    out = target_to_dict(result(tls))["tls"]["extensions"]
    assert list(out) == TLS_EXTENSION_KEYS
    assert out == dataclasses.asdict(EXT)


def test_vulnerabilities_close_the_tls_object() -> None:
    tls = dataclasses.replace(
        facts({"TLSv1.0": ("TLS_RSA_WITH_AES_128_CBC_SHA",), "TLSv1.2": ()}), extensions=EXT
    )
    out = target_to_dict(result(tls))["tls"]
    assert list(out)[-1] == "vulnerabilities"
    found = out["vulnerabilities"]
    assert list(found) == TLS_VULNERABILITY_KEYS
    assert found["beast"] is True and found["crime"] is True  # EXT chose DEFLATE
    assert found["insecure_renegotiation"] is False and found["rc4"] is False
