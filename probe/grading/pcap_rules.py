"""Pure rules over the facts of an offline capture analysis (:mod:`probe.pcap.analyze`).

Registered in :data:`probe.grading.rules.RULES` with ``applies_to=("pcap",)``. A capture rule
returns ``CaptureViolation`` tuples (a message, redacted evidence, the protocol and the flow)
rather than the target rules' ``(message, evidence)`` pairs, and is judged by
:func:`probe.grading.rules.evaluate_capture` into :mod:`probe.grading.pcap_verdict` findings.
Nothing here imports the analysis or defines a dataclass at import time, so that loading a
profile stays cheap for ``probe scan``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from probe.pcap.analyze import Analysis, FlowFacts, FlowRef, SecretFound
    from probe.pcap.certificate import LeafCertificate

ParamValue = int | str | tuple[str, ...]
Params = Mapping[str, ParamValue]
Violation = tuple[str, str | None]

# Protocols probe.pcap.classify reports as cleartext (its CLEARTEXT set; a test keeps them
# equal). A profile naming another protocol is a typo caught at load time.
CLEARTEXT_PROTOCOLS: tuple[str, ...] = (
    "http",
    "ftp",
    "smtp",
    "pop3",
    "imap",
    "smb1",
    "smb2",
    "dns",
    "telnet",
    "redis",
    "postgresql",
    "ldap",
    "snmp",
    "mysql",
    "xmpp",
)
# Secret kinds of probe.pcap.redact.KINDS (a test keeps them equal), split in two: what a
# client logs in with, and secrets found anywhere in a payload.
CREDENTIAL_KINDS: tuple[str, ...] = (
    "http-basic",
    "http-bearer",
    "http-form-password",
    "ftp-password",
    "pop3-password",
    "imap-login",
    "smtp-auth-plain",
    "smtp-auth-login",
    "telnet-login",
    "redis-auth",
    "postgresql-password",
    "postgresql-md5",
    "ldap-simple-bind",
    "snmp-community",
    "http-digest",
    "http-ntlmv1",
    "http-ntlmv2",
    "mysql-clear-password",
    "xmpp-sasl-plain",
)
SECRET_KINDS: tuple[str, ...] = (
    "azure-storage-key",
    "azure-sas",
    "aws-access-key",
    "jwt",
    "private-key",
    "card-number",
)
_KIND_TEXT = {
    "http-basic": "HTTP Basic credentials",
    "http-bearer": "an HTTP bearer token",
    "http-form-password": "a password in an HTTP form",
    "ftp-password": "an FTP password",
    "pop3-password": "a POP3 password",
    "imap-login": "an IMAP LOGIN password",
    "smtp-auth-plain": "SMTP AUTH PLAIN credentials",
    "smtp-auth-login": "SMTP AUTH LOGIN credentials",
    "telnet-login": "a Telnet login password",
    "redis-auth": "a Redis AUTH password",
    "postgresql-password": "a PostgreSQL cleartext password",
    "postgresql-md5": "a PostgreSQL MD5 password digest (crackable offline)",
    "ldap-simple-bind": "an LDAP simple bind password",
    "snmp-community": "an SNMP community string",
    "http-digest": "an HTTP Digest response (crackable offline)",
    "http-ntlmv1": "an NTLMv1 response (crackable to the NT hash, which logs in by itself)",
    "http-ntlmv2": "an NTLMv2 response (crackable offline)",
    "mysql-clear-password": "a MySQL password sent by mysql_clear_password",
    "xmpp-sasl-plain": "XMPP SASL PLAIN credentials",
    "azure-storage-key": "an Azure storage account key",
    "azure-sas": "an Azure SAS token",
    "aws-access-key": "an AWS access key",
    "jwt": "a JWT",
    "private-key": "a private key",
    "card-number": "a payment card number",
}
# A DNS name suffix as a profile gives it: ".core.windows.net" or "core.windows.net".
_SUFFIX = re.compile(r"\.?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{1,63}")
_TLS_ORDER = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")


# One problem a capture rule found: (message, redacted evidence, protocol, flow); the protocol
# and flow are None when it is not about traffic. A tuple, as the target rules' Violation.
CaptureViolation = tuple[str, str | None, str | None, "FlowRef | None"]


CaptureCheckFn = Callable[[Params, "Analysis"], list[CaptureViolation]]


def judged_on_captures(params: Params, facts: Any, now: datetime) -> list[Violation]:
    """The target check of a capture rule: targets carry no capture facts, so a requirement
    that applies to "pcap" is never judged by ``evaluate`` (only by ``evaluate_capture``)."""
    return []


def check_list_item(kind: str, item: str) -> str | None:
    """Why ``item`` is not a valid entry of a ``kind`` list param, or None when it is."""
    if kind == "pcap_protocols" and item not in CLEARTEXT_PROTOCOLS:
        return f'unknown cleartext protocol "{item}" (known: {", ".join(CLEARTEXT_PROTOCOLS)})'
    if kind == "credential_kinds" and item not in CREDENTIAL_KINDS:
        return f'unknown credential kind "{item}" (known: {", ".join(CREDENTIAL_KINDS)})'
    if kind == "secret_kinds" and item not in SECRET_KINDS:
        return f'unknown secret kind "{item}" (known: {", ".join(SECRET_KINDS)})'
    if kind == "host_suffixes" and not _SUFFIX.fullmatch(item):
        return f'"{item}" is not a lower-case DNS name suffix, e.g. ".core.windows.net"'
    return None


# --- helpers ---------------------------------------------------------------------------


def _strs(params: Params, key: str) -> tuple[str, ...]:
    value = params[key]
    assert isinstance(value, tuple)
    return value


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _server(flow: FlowFacts | FlowRef) -> str:
    host = f"[{flow.dst}]" if ":" in flow.dst else flow.dst
    return f"{host}:{flow.dport}"


def _size(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _grouped(flows: list[FlowFacts], key: Callable[[FlowFacts], object]) -> list[list[FlowFacts]]:
    """Flows grouped by ``key``, groups in order of their first flow."""
    groups: dict[object, list[FlowFacts]] = {}
    for flow in flows:
        groups.setdefault(key(flow), []).append(flow)
    return list(groups.values())


def _flows_text(group: list[FlowFacts]) -> str:
    return f"{_plural(len(group), 'flow')}, {_size(sum(f.bytes for f in group))}"


def _value(value: str | bool) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _revealed(fingerprint: str, raw: Mapping[str, str]) -> str:
    value = raw.get(fingerprint)
    return fingerprint if value is None else f"{fingerprint} value={value}"


def _secret_evidence(found: SecretFound) -> str:
    secret = found.secret
    raw = found.raw or {}  # set only under --show-secrets
    parts = [f"user {secret.user}"] if secret.user is not None else []
    parts.append(_revealed(secret.fingerprint, raw))
    parts += [f"{k}={_revealed(_value(v), raw)}" for k, v in secret.detail.items()]
    parts.append(
        f"{secret.direction} to server" if secret.direction == "client" else "server to client"
    )
    if found.count > 1:
        parts.append(f"seen {found.count} times")
    return "; ".join(parts)


# --- rules -----------------------------------------------------------------------------


def cleartext_credentials(params: Params, analysis: Analysis) -> list[CaptureViolation]:
    kinds = set(_strs(params, "kinds"))
    out: list[CaptureViolation] = []
    for found in analysis.secrets:
        secret = found.secret
        if secret.kind not in kinds:
            continue
        who = f' for user "{secret.user}"' if secret.user else ""
        message = (
            f"{_KIND_TEXT[secret.kind]}{who} sent in the clear over {secret.protocol} "
            f"to {_server(found.flow)}"
        )
        out.append((message, _secret_evidence(found), secret.protocol, found.flow))
    return out


def cleartext_secrets(params: Params, analysis: Analysis) -> list[CaptureViolation]:
    kinds = set(_strs(params, "kinds"))
    out: list[CaptureViolation] = []
    for found in analysis.secrets:
        secret = found.secret
        if secret.kind not in kinds:
            continue
        way = "to" if secret.direction == "client" else "from"
        message = (
            f"{_KIND_TEXT[secret.kind]} in cleartext {secret.protocol} traffic {way} "
            f"{_server(found.flow)}"
        )
        if secret.kind == "azure-sas" and secret.allows_http:
            message += " (the SAS allows http: spr is missing or includes http)"
        out.append((message, _secret_evidence(found), secret.protocol, found.flow))
    return out


def cleartext_protocols(params: Params, analysis: Analysis) -> list[CaptureViolation]:
    """One violation per (protocol, server) that carried application data in the clear."""
    listed = set(_strs(params, "protocols"))
    flows = [f for f in analysis.flows if f.protocol in listed and f.encrypted is False and f.bytes]
    out: list[CaptureViolation] = []
    for group in _grouped(flows, lambda f: (f.protocol, f.dst, f.dport)):
        first = group[0]
        message = f"cleartext {first.protocol} to {_server(first)}: {_flows_text(group)}"
        evidence = f"first flow {first.src}:{first.sport} -> {_server(first)}"
        out.append((message, evidence, first.protocol, first.ref))
    return out


def _below(version: str | None, minimum: str) -> bool:
    if version not in _TLS_ORDER:
        return False
    return _TLS_ORDER.index(version) < _TLS_ORDER.index(minimum)


def tls_min_version(params: Params, analysis: Analysis) -> list[CaptureViolation]:
    """TLS versions below ``min`` that a server chose (its ServerHello was captured)."""
    minimum = params["min"]
    assert isinstance(minimum, str)
    flows = [f for f in analysis.flows if f.protocol == "tls" and _below(f.tls_version, minimum)]
    out: list[CaptureViolation] = []
    for group in _grouped(flows, lambda f: (f.dst, f.dport, f.tls_version)):
        first = group[0]
        message = (
            f"{first.tls_version} negotiated with {_server(first)} (minimum is "
            f"{minimum}): {_flows_text(group)}"
        )
        out.append((message, _tls_evidence(group), "tls", first.ref))
    return out


def _tls_evidence(group: list[FlowFacts]) -> str:
    first = group[0]
    parts = [f"version {first.tls_version}"]
    if first.tls_cipher_suite:
        parts.append(f"suite {first.tls_cipher_suite}")
    names = sorted({f.sni for f in group if f.sni})
    if names:
        parts.append("SNI " + ", ".join(names[:5]) + (" ..." if len(names) > 5 else ""))
    return "; ".join(parts)


def tls_suites_forbidden(params: Params, analysis: Analysis) -> list[CaptureViolation]:
    """Cipher suites a server chose that have any of the listed SUITE_PROPERTIES."""
    from probe.grading.rules import SUITE_PROPERTIES, suite_has

    properties = _strs(params, "properties")
    out: list[CaptureViolation] = []
    tls = [f for f in analysis.flows if f.protocol == "tls" and f.tls_cipher_suite]
    for group in _grouped(tls, lambda f: (f.dst, f.dport, f.tls_cipher_suite)):
        first = group[0]
        suite = first.tls_cipher_suite or ""
        bad = [p for p in properties if suite_has(suite, p)]
        if not bad:
            continue
        what = ", ".join(f"{p} ({SUITE_PROPERTIES[p].description})" for p in bad)
        message = f"{_server(first)} chose {suite}: {what}; {_flows_text(group)}"
        out.append((message, _tls_evidence(group), "tls", first.ref))
    return out


def _weak_key(cert: LeafCertificate, min_rsa: int, min_ec: int) -> str | None:
    if cert.key_type in ("RSA", "DSA") and 0 < cert.key_bits < min_rsa:
        return f"{cert.key_type} key of {cert.key_bits} bits (minimum is {min_rsa})"
    if cert.key_type == "EC" and 0 < cert.key_bits < min_ec:
        curve = f" ({cert.curve})" if cert.curve else ""
        return f"EC key of {cert.key_bits} bits{curve} (minimum is {min_ec})"
    return None


def tls_weak_certificate(params: Params, analysis: Analysis) -> list[CaptureViolation]:
    """Leaf certificates seen in the clear (TLS up to 1.2) whose RSA/DSA key is under
    ``min_rsa_bits``, EC key under ``min_ec_bits``, or signature hash is listed in ``hashes``."""
    min_rsa, min_ec = params["min_rsa_bits"], params["min_ec_bits"]
    assert isinstance(min_rsa, int) and isinstance(min_ec, int)
    hashes = set(_strs(params, "hashes"))
    seen = [f for f in analysis.flows if f.protocol == "tls" and f.certificate is not None]
    out: list[CaptureViolation] = []
    for group in _grouped(seen, lambda f: (f.dst, f.dport, f.certificate and f.certificate.sha256)):
        first = group[0]
        cert = first.certificate
        assert cert is not None
        problems = []
        weak_key = _weak_key(cert, min_rsa, min_ec)
        if weak_key:
            problems.append(weak_key)
        if cert.signature_hash in hashes:
            problems.append(f"signed with {cert.signature_hash} ({cert.signature_algorithm})")
        if not problems:
            continue
        message = (
            f"{_server(first)} served a certificate with {'; '.join(problems)}: "
            f"{_flows_text(group)}"
        )
        key = f"{cert.key_type} {cert.key_bits}" + (f" {cert.curve}" if cert.curve else "")
        parts = [f"subject {cert.subject}", f"key {key}", f"signature {cert.signature_algorithm}"]
        if cert.san:
            parts.append("SAN " + ", ".join(cert.san[:5]) + (" ..." if cert.san_count > 5 else ""))
        parts.append(f"sha256 {cert.sha256[:16]}")
        out.append((message, "; ".join(parts), "tls", first.ref))
    return out


def _matches(host: str, suffixes: tuple[str, ...]) -> bool:
    for suffix in suffixes:
        bare = suffix.lstrip(".")
        if host == bare or host.endswith("." + bare):
            return True
    return False


def http_expected_https(params: Params, analysis: Analysis) -> list[CaptureViolation]:
    """Plain HTTP requests whose Host is one of the listed (cloud) names."""
    suffixes = _strs(params, "hosts")
    hits: dict[tuple[str, str, int], list[FlowFacts]] = {}
    for flow in analysis.flows:
        if flow.protocol != "http":
            continue
        for host in flow.http_hosts:
            if _matches(host, suffixes):
                hits.setdefault((host, flow.dst, flow.dport), []).append(flow)
    out: list[CaptureViolation] = []
    for (host, _dst, _dport), group in hits.items():
        first = group[0]
        message = (
            f"plain HTTP to {host} ({_server(first)}), which serves HTTPS: {_flows_text(group)}"
        )
        out.append((message, f"Host: {host}", "http", first.ref))
    return out


def _upgrade_text(flow: FlowFacts, label: str = "first flow") -> str:
    up = flow.starttls
    assert up is not None
    parts = [f"{label} {flow.src}:{flow.sport} -> {_server(flow)}", f"{up.protocol}"]
    parts.append(
        "offered" if up.offered else "not offered" if up.offered is False else "offer not seen"
    )
    if up.command is not None:
        answer = {True: "accepted", False: "refused", None: "no answer seen"}[up.accepted]
        parts.append(f"{up.command} {answer}")
    if up.masked:
        parts.append("capability masked")
    if up.login_in_clear:
        parts.append("login in the clear")
    return "; ".join(parts)


def starttls_not_used(params: Params, analysis: Analysis) -> list[CaptureViolation]:
    """Flows whose server offered STARTTLS that the client never asked for: the session,
    login included, went in the clear. One violation per (protocol, server)."""
    flows = [
        f for f in analysis.flows
        if f.starttls is not None and f.starttls.offered and not f.starttls.requested
    ]  # fmt: skip
    out: list[CaptureViolation] = []
    for group in _grouped(flows, lambda f: (f.protocol, f.dst, f.dport)):
        first = group[0]
        up = first.starttls
        assert up is not None
        logins = sum(1 for f in group if f.starttls and f.starttls.login_in_clear)
        message = (
            f"{_server(first)} offered STARTTLS over {up.protocol} but the client stayed in the "
            f"clear: {_flows_text(group)}"
        )
        if logins:
            message += f", {_plural(logins, 'login')} in the clear"
        out.append((message, _upgrade_text(first), up.protocol, first.ref))
    return out


def starttls_stripped(params: Params, analysis: Analysis) -> list[CaptureViolation]:
    """Signs of STARTTLS stripping on the wire. What an attacker on the path does is remove
    the capability from the server's answer (or overwrite it with same-length filler), or
    answer the client's request with a refusal, so that the client logs in in the clear. A
    capture shows the result, not who caused it: a server without TLS looks the same on one
    flow, so the rule only claims what the bytes show:

    - a capability overwritten with filler (``XXXXXXXA``): a middlebox edited the answer;
    - the client asked, was refused, and then logged in in the clear;
    - the client logged in in the clear on a flow where the server did not offer the upgrade
      while it did on other flows to the same server in the capture."""
    ups = [f for f in analysis.flows if f.starttls is not None]
    offered_to: dict[tuple[str, str, int], int] = {}
    for f in ups:
        if f.starttls is not None and f.starttls.offered:
            key = (f.starttls.protocol, f.dst, f.dport)
            offered_to[key] = offered_to.get(key, 0) + 1
    out: list[CaptureViolation] = []
    for f in ups:
        up = f.starttls
        assert up is not None
        where = f"{up.protocol} to {_server(f)}"
        if up.masked:
            message = (
                f"the STARTTLS capability in {where} was overwritten with filler, as a "
                "middlebox that strips STARTTLS does"
            )
            if up.login_in_clear:
                message += "; the client then logged in in the clear"
        elif up.requested and up.accepted is False and up.login_in_clear:
            message = (
                f"the client asked {where} for {up.command}, was refused, and logged in in "
                "the clear (what a STARTTLS-stripping attacker causes; or the server has no TLS)"
            )
        elif (
            up.offered is False
            and up.login_in_clear
            and offered_to.get((up.protocol, f.dst, f.dport))
        ):
            others = offered_to[(up.protocol, f.dst, f.dport)]
            message = (
                f"{where} did not offer STARTTLS on this flow but did on "
                f"{_plural(others, 'other flow')} in the capture, and the client logged in "
                "in the clear: the capability was removed on the path, or the server changed"
            )
        else:
            continue
        out.append((message, _upgrade_text(f, "flow"), up.protocol, f.ref))
    return out


def damaged(analysis: Analysis) -> list[CaptureViolation]:
    """What could not be read is not judged; say so (evaluate_capture's PROBE-INCOMPLETE)."""
    out: list[CaptureViolation] = []
    for capture in analysis.captures:
        for damage in capture.damage[:10]:
            message = f"capture {capture.name} is damaged: {damage.reason}"
            out.append((message, f"offset {damage.offset}", None, None))
        if len(capture.damage) > 10:
            more = len(capture.damage) - 10
            out.append((f"{capture.name}: {_plural(more, 'more damaged part')}", None, None, None))
    if analysis.interrupted:
        out.append(("the analysis was interrupted before the end", None, None, None))
    return out
