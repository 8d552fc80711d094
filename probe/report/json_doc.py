"""JSON report: a public, versioned contract (docs/json-output.md, docs/json-output.schema.json).

Other tools read this output, so field names and types only change with SCHEMA_VERSION.
Adding fields is allowed within a major version; readers must ignore keys they do not know.
Key order is stable (dicts are built in a fixed order and never sorted at dump time).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from probe.model import (
    TLS_VERSION_LABELS,
    CertificateFacts,
    ErrorInfo,
    Finding,
    GradeCap,
    HstsFacts,
    IkeAlgorithms,
    IkeFacts,
    IkeSuite,
    ResumptionFacts,
    SmbAuthFacts,
    SmbFacts,
    SstpFacts,
    StartTlsFacts,
    Status,
    TargetResult,
    TlsExtensionFacts,
    TlsFacts,
)

SCHEMA_VERSION = "1.0"

JsonObject = dict[str, Any]


def document(profile_name: str, results: Sequence[TargetResult]) -> JsonObject:
    """The whole report: schema_version, profile, summary and one entry per target."""
    return {
        "schema_version": SCHEMA_VERSION,
        "profile": profile_name,
        "summary": _summary(results),
        "targets": [target_to_dict(r) for r in results],
    }


def target_to_dict(result: TargetResult) -> JsonObject:
    """One target's entry, as in the document's `targets` list and in JSONL output."""
    target = result.target
    return {
        "target": target.given,
        "host": target.host,
        "port": target.port,
        "check": target.check,
        "server_name": target.server_name,
        "status": result.status.value,
        "error": _error(result.error),
        "passed": result.passed,
        "findings": [_finding(f) for f in result.findings],
        "duration_seconds": round(result.duration_seconds, 3),
        "tls": None if result.tls is None else _tls(result.tls),
        "smb": None if result.smb is None else _smb(result.smb),
        "ike": None if result.ike is None else _ike(result.ike),
        "sstp": None if result.sstp is None else _sstp(result.sstp),
        "starttls": None if result.starttls is None else _starttls(result.starttls),
        "grade": result.grade,
        "grade_caps": [_grade_cap(c) for c in result.grade_caps],
    }


def _grade_cap(cap: GradeCap) -> JsonObject:
    return {"rule": cap.rule, "cap": cap.cap, "message": cap.message, "evidence": cap.evidence}


def _ike_algorithms(algorithms: IkeAlgorithms) -> JsonObject:
    return {
        "encryption": list(algorithms.encryption),
        "prf": list(algorithms.prf),
        "integrity": list(algorithms.integrity),
        "dh_groups": list(algorithms.dh_groups),
    }


def _ike_suite(suite: IkeSuite | None) -> JsonObject | None:
    if suite is None:
        return None
    return {
        "encryption": suite.encryption,
        "prf": suite.prf,
        "integrity": suite.integrity,
        "dh_group": suite.dh_group,
        "auth": suite.auth,
    }


def _ike(facts: IkeFacts) -> JsonObject:
    return {
        "ikev2": facts.ikev2,
        "ikev1": facts.ikev1,
        "aggressive_mode_psk": facts.aggressive_mode_psk,
        "aggressive_mode_evidence": facts.aggressive_mode_evidence,
        "accepted": _ike_algorithms(facts.accepted),
        "ikev2_accepted": _ike_algorithms(facts.ikev2_accepted),
        "ikev1_accepted": _ike_algorithms(facts.ikev1_accepted),
        "ikev2_preferred": _ike_suite(facts.ikev2_preferred),
        "ikev1_preferred": _ike_suite(facts.ikev1_preferred),
        "ikev1_transforms": [_ike_suite(s) for s in facts.ikev1_transforms],
        "notifies": list(facts.notifies),
        "vendor_ids": list(facts.vendor_ids),
        "vendors": list(facts.vendors),
        "certificate_requests": facts.certificate_requests,
        "cookie_challenge": facts.cookie_challenge,
        "nat_t": facts.nat_t,
        "probes": facts.probes,
        "ikev2_offers": facts.ikev2_offers,
        "datagrams": facts.datagrams,
        "incomplete": dict(facts.incomplete),
    }


def _starttls(facts: StartTlsFacts) -> JsonObject:
    return {
        "protocol": facts.protocol,
        "offered": facts.offered,
        "advertised": facts.advertised,
        "reply": facts.reply,
    }


def _sstp(facts: SstpFacts) -> JsonObject:
    return {
        "sstp": facts.sstp,
        "over_tls": facts.over_tls,
        "plain_http": facts.plain_http,
        "hash_protocols": list(facts.hash_protocols),
        "server": facts.server,
        "http_status": facts.http_status,
        "call_connect": facts.call_connect,
        "auth_protocol": facts.auth_protocol,
        "connections": facts.connections,
        "incomplete": dict(facts.incomplete),
    }


def _smb(facts: SmbFacts) -> JsonObject:
    return {
        "smb1": facts.smb1,
        "dialects": list(facts.dialects),
        "preferred_dialect": facts.preferred_dialect,
        "ciphers": list(facts.ciphers),
        "preferred_cipher": facts.preferred_cipher,
        "encryption_context": facts.encryption_context,
        "encryption_capability": facts.encryption_capability,
        "signing_enabled": facts.signing_enabled,
        "signing_required": facts.signing_required,
        "signing_algorithms": list(facts.signing_algorithms),
        "signing_algorithm": facts.signing_algorithm,
        "encryption_required": facts.encryption_required,
        "encryption_required_evidence": facts.encryption_required_evidence,
        "server_guid": facts.server_guid,
        "system_time": facts.system_time,
        "max_read": facts.max_read,
        "max_write": facts.max_write,
        "max_transact": facts.max_transact,
        "guest_access": facts.guest_access,
        "guest_evidence": facts.guest_evidence,
        "auth": None if facts.auth is None else _smb_auth(facts.auth),
        "connections": facts.connections,
        "incomplete": dict(facts.incomplete),
    }


def _smb_auth(auth: SmbAuthFacts) -> JsonObject:
    return {
        "authenticated": auth.authenticated,
        "auth_error": auth.auth_error,
        "session_encrypt_data": auth.session_encrypt_data,
        "session_is_guest": auth.session_is_guest,
        "shares": {
            name: {"encrypt_data": s.encrypt_data, "accessible": s.accessible, "error": s.error}
            for name, s in auth.shares.items()
        },
    }


def dumps(doc: Mapping[str, Any]) -> str:
    """The document as indented JSON text (UTF-8 safe, key order kept), ending in a newline."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def json_line(result: TargetResult) -> str:
    """One target as a compact single-line JSON object (no trailing newline), for JSONL."""
    return json.dumps(target_to_dict(result), ensure_ascii=False, separators=(",", ":"))


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z suffix; naive datetimes are taken to be UTC already."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _summary(results: Sequence[TargetResult]) -> JsonObject:
    errors = sum(1 for r in results if r.status is Status.ERROR)
    passed = sum(1 for r in results if r.passed)
    return {
        "targets": len(results),
        "passed": passed,
        "failed": len(results) - passed - errors,
        "errors": errors,
    }


def _error(error: ErrorInfo | None) -> JsonObject | None:
    if error is None:
        return None
    return {"reason": error.reason.value, "message": error.message}


def _finding(finding: Finding) -> JsonObject:
    return {
        "id": finding.id,
        "severity": finding.severity,
        "message": finding.message,
        "evidence": finding.evidence,
        "rationale": finding.rationale,
        "reference": finding.reference,
    }


def _per_version_labels(facts: TlsFacts) -> list[str]:
    """Versions that get an entry in cipher_suites/server_preference: accepted ones, oldest
    first, plus any label that has suites recorded without being marked accepted."""
    labels = [v for v in TLS_VERSION_LABELS if facts.versions.get(v) or facts.cipher_suites.get(v)]
    extra = sorted(
        k for k in facts.cipher_suites if k not in TLS_VERSION_LABELS and facts.cipher_suites[k]
    )
    return labels + extra


def _tls(facts: TlsFacts) -> JsonObject:
    labels = _per_version_labels(facts)
    # measured group versions oldest first, like cipher_suites
    group_labels = [v for v in TLS_VERSION_LABELS if v in facts.groups]
    group_labels += sorted(k for k in facts.groups if k not in TLS_VERSION_LABELS)
    return {
        "versions": {v: bool(facts.versions.get(v, False)) for v in TLS_VERSION_LABELS},
        "cipher_suites": {v: list(facts.cipher_suites.get(v, ())) for v in labels},
        "server_preference": {v: facts.server_preference.get(v) for v in labels},
        "certificates": [_certificate(c) for c in facts.certificates],
        "key_exchange": {
            suite: {"kind": kx.kind, "group": kx.group, "bits": kx.bits}
            for suite, kx in facts.key_exchange.items()
        },
        "suite_facts": _suite_facts(facts),
        "connections": facts.connections,
        "incomplete": dict(facts.incomplete),
        "groups": list(facts.accepted_groups),
        "groups_by_version": {v: list(facts.groups[v]) for v in group_labels},
        "groups_server_preference": {
            v: facts.groups_server_preference.get(v) for v in group_labels
        },
        "preferred_group": facts.preferred_group,
        "prefers_post_quantum": facts.prefers_post_quantum,
        "dh_common_prime": facts.dh_common_prime,
        "extensions": _extensions(facts.extensions),
        # HTTPS enforcement (probe.checks.https); all null when not measured
        "hsts": _hsts(facts.hsts),
        "http_redirects_to_https": facts.http_redirects_to_https,
        "http_plain": facts.http_plain,
        "https_status": facts.https_status,
        "hsts_header": facts.hsts_header,
        "hsts_problem": facts.hsts_problem,
        "http_location": facts.http_location,
        # --deep only (probe.checks.tls_deep); null otherwise
        "resumption": _resumption(facts.resumption),
        # derived from the facts above (probe.checks.tls_vulns); no connection of its own
        "vulnerabilities": _vulnerabilities(facts),
    }


def _resumption(r: ResumptionFacts | None) -> JsonObject | None:
    if r is None:
        return None
    return {
        "session_id": r.session_id,
        "session_id_resumed": r.session_id_resumed,
        "session_id_attempts": r.session_id_attempts,
        "tickets": r.tickets,
        "tickets_resumed": r.ticket_resumed,
        "tickets_attempts": r.ticket_attempts,
        "early_data": r.early_data,
    }


def _vulnerabilities(facts: TlsFacts) -> JsonObject:
    from probe.checks.tls_vulns import vulnerabilities

    return dict(vulnerabilities(facts))


def _hsts(hsts: HstsFacts | None) -> JsonObject | None:
    if hsts is None:
        return None
    return {
        "max_age": hsts.max_age,
        "include_subdomains": hsts.include_subdomains,
        "preload": hsts.preload,
    }


def _extensions(ext: TlsExtensionFacts | None) -> JsonObject | None:
    if ext is None:
        return None
    return {
        "version": ext.version,
        "secure_renegotiation": ext.secure_renegotiation,
        "secure_renegotiation_scsv": ext.secure_renegotiation_scsv,
        "extended_master_secret": ext.extended_master_secret,
        "encrypt_then_mac": ext.encrypt_then_mac,
        "session_tickets": ext.session_tickets,
        "session_id": ext.session_id,
        "ocsp_stapling": ext.ocsp_stapling,
        "compression": ext.compression,
        "alpn": ext.alpn,
    }


def _suite_facts(facts: TlsFacts) -> JsonObject:
    """What each accepted suite is (from the codec's IANA table), so readers need no table."""
    from probe.codecs.tls.suites import SSL2_CIPHER_BITS, SSL2_CIPHERS, SUITES

    by_name = {s.name: s for s in SUITES.values()}
    ssl2 = {name: code for code, name in SSL2_CIPHERS.items()}
    out: JsonObject = {}
    for names in facts.cipher_suites.values():
        for name in names:
            suite = by_name.get(name)
            if suite is not None:
                out[name] = {
                    "code": f"0x{suite.code:04X}",
                    "key_exchange": suite.kx,
                    "authentication": suite.auth,
                    "cipher": suite.cipher,
                    "cipher_bits": suite.cipher_bits,
                    "block_bits": suite.block_bits,
                    "aead": suite.aead,
                    "mac": suite.mac,
                    "forward_secret": suite.forward_secret,
                    "export": suite.export,
                    "anonymous": suite.anonymous,
                }
            elif name in ssl2:
                code = ssl2[name]
                out[name] = {"code": f"0x{code:06X}", "cipher_bits": SSL2_CIPHER_BITS.get(code)}
    return out


def _certificate(cert: CertificateFacts) -> JsonObject:
    return {
        "key_type": cert.key_type,
        "key_bits": cert.key_bits,
        "curve": cert.curve,
        "signature_algorithm": cert.signature_algorithm,
        "signature_hash": cert.signature_hash,
        "not_before": iso_utc(cert.not_before),
        "not_after": iso_utc(cert.not_after),
        "days_to_expiry": cert.days_to_expiry,
        "subject": cert.subject,
        "issuer": cert.issuer,
        "san": list(cert.san),
        "name_matches": cert.name_matches,
        "self_signed": cert.self_signed,
        "trusted": cert.trusted,
        "trust_error": cert.trust_error,
        "chain_length": cert.chain_length,
        "chain_weak_signatures": list(cert.chain_weak_signatures),
        "sha256_fingerprint": cert.sha256_fingerprint,
        "served_with": list(cert.served_with),
        "trust_stores": dict(cert.trust_stores),
        "chain_in_order": cert.chain_in_order,
        "chain_complete": cert.chain_complete,
        "must_staple": cert.must_staple,
        "sct_count": cert.sct_count,
        "key_usage": list(cert.key_usage),
        "extended_key_usage": list(cert.extended_key_usage),
        "server_auth": cert.server_auth,
        "validity_days": cert.validity_days,
        "exceeds_validity_limit": cert.exceeds_validity_limit,
    }
