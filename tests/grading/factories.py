"""Builders for facts and results in grading and report tests (defaults describe a good server)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from probe.model import (
    TLS_VERSION_LABELS,
    CertificateFacts,
    ErrorInfo,
    ErrorReason,
    KeyExchangeParams,
    Status,
    Target,
    TargetResult,
    TlsFacts,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

GOOD_TLS12 = ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384")
GOOD_TLS13 = ("TLS_AES_128_GCM_SHA256",)


def cert(**changes: Any) -> CertificateFacts:
    base = CertificateFacts(
        key_type="RSA",
        key_bits=2048,
        curve=None,
        signature_algorithm="sha256WithRSAEncryption",
        signature_hash="sha256",
        not_before=NOW - timedelta(days=30),
        not_after=NOW + timedelta(days=90),
        days_to_expiry=90,
        subject="CN=example.com",
        issuer="CN=Example CA",
        san=("example.com", "www.example.com"),
        name_matches=True,
        self_signed=False,
        trusted=True,
        trust_error=None,
        chain_length=2,
        chain_weak_signatures=(),
        sha256_fingerprint="ab" * 32,
        served_with=("TLSv1.2 RSA",),
    )
    return dataclasses.replace(base, **changes)


def facts(
    suites: Mapping[str, tuple[str, ...]] | None = None,
    *,
    preference: Mapping[str, bool | None] | None = None,
    certificates: tuple[CertificateFacts, ...] | None = None,
    key_exchange: Mapping[str, KeyExchangeParams] | None = None,
    incomplete: Mapping[str, str] | None = None,
) -> TlsFacts:
    """Facts where a version is accepted exactly when it has suites."""
    if suites is None:
        suites = {"TLSv1.2": GOOD_TLS12, "TLSv1.3": GOOD_TLS13}
    if key_exchange is None:
        key_exchange = {
            "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384": KeyExchangeParams("DHE", "ffdhe2048", 2048)
        }
    return TlsFacts(
        versions={label: bool(suites.get(label)) for label in TLS_VERSION_LABELS},
        cipher_suites=dict(suites),
        server_preference=dict(preference or {}),
        certificates=(cert(),) if certificates is None else certificates,
        key_exchange=dict(key_exchange),
        connections=12,
        incomplete=dict(incomplete or {}),
    )


def target(given: str = "example.com:443") -> Target:
    host, _, port = given.rpartition(":")
    return Target(given=given, host=host, port=int(port), check="tls", server_name=host)


def result(tls: TlsFacts | None = None, *, given: str = "example.com:443") -> TargetResult:
    return TargetResult(
        target=target(given),
        status=Status.COMPLETED,
        error=None,
        tls=facts() if tls is None else tls,
        duration_seconds=1.2345,
    )


def error_result(
    reason: ErrorReason = ErrorReason.TIMEOUT,
    *,
    tls: TlsFacts | None = None,
    given: str = "down.example:443",
) -> TargetResult:
    return TargetResult(
        target=target(given),
        status=Status.ERROR,
        error=ErrorInfo(reason, "connect timed out after 5 s"),
        tls=tls,
        duration_seconds=5.0,
    )
