"""Secrets and sensitive data in cleartext payloads (issue 5, "What it finds").

Patterns follow gitleaks, detect-secrets and trufflehog (``shared/research/pcap-anchors.md``
section 4), tightened to keep false positives low on binary and compressed payloads: every
candidate found by a literal-anchored regex is then checked structurally (a JWT header must
decode to JSON with ``alg``, an Azure account key must be base64 of 64 bytes, a SAS must have
``sv`` and a base64 ``sig``, a card number must have a known issuer prefix, a length valid for
that issuer, and a valid Luhn check digit). Everything returned is redacted
(:mod:`probe.pcap.redact`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from urllib.parse import unquote_plus

from probe.pcap.redact import Direction, Secret, clean_user, redact

__all__ = ["find_secrets", "luhn_valid"]

# AWS access key ids (AKIA long-term, ASIA temporary): 4 + 16 upper-case letters or digits.
_AWS_ID = re.compile(rb"((?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Za-z0-9])")
# A secret access key: 40 base64 characters, not part of a longer run.
_AWS_SECRET = re.compile(rb"(?<![A-Za-z0-9/+])([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")
_AWS_WINDOW = 256  # bytes either side of the key id searched for its secret

# JWS compact serialisation (RFC 7515 7.1): header.payload.signature, base64url; the header is
# a JSON object, so it starts with "eyJ" ('{"'). An unsecured JWT has an empty signature.
_JWT = re.compile(
    rb"(eyJ[A-Za-z0-9_-]{8,})\.([A-Za-z0-9_-]{2,})\.([A-Za-z0-9_-]*)"
    rb"(?![A-Za-z0-9_.-])"
)

# RFC 7468 private keys (PKCS#1 "RSA", SEC 1 "EC", PKCS#8, "ENCRYPTED", "OPENSSH", ...).
_PEM = re.compile(rb"-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY = re.compile(rb"(?:[A-Za-z0-9+/=]|\r?\n|[A-Za-z-]+: [^\r\n]*\r?\n)*")

# Azure storage account key: base64 of 64 bytes is 86 characters + "==".
_ACCOUNT_KEY = re.compile(rb"(?i)(?<![A-Za-z0-9])AccountKey=([A-Za-z0-9+/]{86}==)")
_ACCOUNT_NAME = re.compile(rb"(?i)AccountName=([a-z0-9]{3,24})(?![a-z0-9])")
_ENDPOINTS = re.compile(rb"(?i)DefaultEndpointsProtocol=(https?)\b")
_CONNECTION_WINDOW = 512

# Azure SAS: a query string with sv= and sig= in any order.
_SIG = re.compile(rb"sig=")
_QUERY_CHARS = re.compile(rb"[A-Za-z0-9%&=_.:+/,~-]*")
_SV = re.compile(r"\d{4}-\d{2}-\d{2}")

# Card numbers: 13-19 digits, optionally grouped by single spaces or dashes, not inside a
# longer run of digits, letters or a decimal.
_CARD = re.compile(rb"([0-9](?:[ -]?[0-9]){12,18})(?![ -]?[0-9])(?![A-Za-z_])")
# Issuer prefixes and lengths: Visa 4, Mastercard 51-55 and 2221-2720, Amex 34/37,
# Discover 6011 and 65 (ISO/IEC 7812 IIN ranges as the issuers publish them).
_MAX_SCAN = 1 << 24  # find_secrets never looks past 16 MiB of one buffer


_ALNUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _after(data: bytes, pos: int, chars: bytes) -> bool:
    """Whether the byte before ``pos`` is one of ``chars`` (a look-behind kept out of the
    regex: a pattern starting with a literal or a class scans far faster in CPython)."""
    return pos > 0 and data[pos - 1] in chars


def luhn_valid(digits: str) -> bool:
    """The Luhn (ISO/IEC 7812-1 annex B) check over a string of digits."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _issuer(digits: str) -> str | None:
    n = len(digits)
    if digits[0] == "4":
        return "visa" if n in (13, 16, 19) else None
    two, four = int(digits[:2]), int(digits[:4])
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard" if n == 16 else None
    if two in (34, 37):
        return "amex" if n == 15 else None
    if four == 6011 or two == 65:
        return "discover" if 16 <= n <= 19 else None
    return None


def _b64url(part: bytes) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        return None


def _jwt_header(part: bytes) -> dict[str, object] | None:
    raw = _b64url(part)
    if raw is None:
        return None
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return header if isinstance(header, dict) and isinstance(header.get("alg"), str) else None


def _mixed(token: bytes) -> bool:
    """A random-looking key has upper, lower and digits; prose and padding do not."""
    return (
        any(65 <= c <= 90 for c in token)
        and any(97 <= c <= 122 for c in token)
        and any(48 <= c <= 57 for c in token)
    )


def _aws(data: bytes, protocol: str, direction: Direction) -> list[Secret]:
    out = []
    for match in _AWS_ID.finditer(data):
        if _after(data, match.start(), _ALNUM):
            continue
        key_id = match.group(1)
        if len(set(key_id[4:])) < 4:  # AKIAAAAAAAAAAAAAAAAA and the like: padding, not a key
            continue
        detail: dict[str, str | bool] = {"temporary": key_id.startswith(b"ASIA")}
        lo, hi = max(0, match.start() - _AWS_WINDOW), match.end() + _AWS_WINDOW
        for secret in _AWS_SECRET.finditer(data, lo, hi):
            if _mixed(secret.group(1)):
                detail["secret_key"] = redact(secret.group(1), kind="aws-secret-key")
                break
        out.append(Secret("aws-access-key", protocol, direction, match.start(), None,
                          redact(key_id, kind="aws-access-key"), detail))  # fmt: skip
    return out


def _jwts(data: bytes, protocol: str, direction: Direction) -> list[Secret]:
    out = []
    for match in _JWT.finditer(data):
        if _after(data, match.start(), _ALNUM + b"_-"):
            continue
        header = _jwt_header(match.group(1))
        if header is None:
            continue
        alg = str(header["alg"])[:16]
        detail: dict[str, str | bool] = {"alg": clean_user(alg) or "", "signed": bool(match[3])}
        out.append(Secret("jwt", protocol, direction, match.start(), None,
                          redact(match.group(0), kind="jwt"), detail))  # fmt: skip
    return out


def _private_keys(data: bytes, protocol: str, direction: Direction) -> list[Secret]:
    out = []
    for match in _PEM.finditer(data):
        body_match = _PEM_BODY.match(data, match.end())
        assert body_match is not None  # the pattern matches the empty string
        body = body_match.group(0)
        headers = b"".join(re.findall(rb"[A-Za-z-]+: [^\r\n]*", body))
        b64 = re.sub(rb"[A-Za-z-]+: [^\r\n]*|\s", b"", body)
        if len(b64) < 64:  # a BEGIN line in prose or documentation, not a key
            continue
        label = match.group(1).decode().strip()
        complete = data.startswith(b"-----END ", body_match.end())
        detail: dict[str, str | bool] = {
            "label": label or "PKCS8",
            "encrypted": label == "ENCRYPTED" or b"ENCRYPTED" in headers,
            "complete": complete,
        }
        out.append(Secret("private-key", protocol, direction, match.start(), None,
                          redact(b64, kind="private-key"), detail))  # fmt: skip
    return out


def _azure_keys(data: bytes, protocol: str, direction: Direction) -> list[Secret]:
    out = []
    for match in _ACCOUNT_KEY.finditer(data):
        key = match.group(1)
        if len(base64.b64decode(key)) != 64 or not _mixed(key):
            continue
        lo = max(0, match.start() - _CONNECTION_WINDOW)
        window = data[lo : match.end() + _CONNECTION_WINDOW]
        names = _ACCOUNT_NAME.findall(window)
        detail: dict[str, str | bool] = {}
        endpoints = _ENDPOINTS.search(window)
        if endpoints is not None:
            detail["allows_http"] = endpoints.group(1).lower() == b"http"
        out.append(Secret("azure-storage-key", protocol, direction, match.start(1),
                          clean_user(names[0]) if names else None,
                          redact(key, kind="azure-storage-key"), detail))  # fmt: skip
    return out


def _query(data: bytes, at: int) -> tuple[int, dict[str, str]]:
    """The query string around ``data[at]`` and its parameters (first value of each)."""
    start = at
    while start > 0 and data[start - 1 : start] not in (b"?", b";", b'"', b"'", b" ", b"\n"):
        if _QUERY_CHARS.fullmatch(data[start - 1 : start]) is None or at - start > 4096:
            break
        start -= 1
    end_match = _QUERY_CHARS.match(data, at, at + 4096)
    end = end_match.end() if end_match is not None else at
    params: dict[str, str] = {}
    for pair in data[start:end].split(b"&"):
        name, _, value = pair.partition(b"=")
        key = name.decode("ascii", "replace").lower()
        params.setdefault(key, unquote_plus(value.decode("ascii", "replace")))
    return start, params


def _sas(data: bytes, protocol: str, direction: Direction) -> list[Secret]:
    out = []
    seen: set[int] = set()
    for match in _SIG.finditer(data):
        if _after(data, match.start(), _ALNUM + b"_"):
            continue
        start, params = _query(data, match.start())
        if start in seen:
            continue
        sig, version = params.get("sig", ""), params.get("sv", "")
        if not _SV.fullmatch(version) or not re.fullmatch(r"[A-Za-z0-9+/]{40,88}={0,2}", sig):
            continue
        seen.add(start)
        spr = params.get("spr")
        allowed = [p.strip().lower() for p in spr.split(",")] if spr is not None else []
        detail: dict[str, str | bool] = {
            "allows_http": spr is None or "http" in allowed,
            "sv": version,
        }
        for name in ("sp", "se", "sr", "ss", "srt"):
            if name in params:
                detail[name] = clean_user(params[name][:32]) or ""
        out.append(Secret("azure-sas", protocol, direction, start, None,
                          redact(sig, kind="azure-sas"), detail))  # fmt: skip
    return out


def _cards(data: bytes, protocol: str, direction: Direction) -> list[Secret]:
    out = []
    for match in _CARD.finditer(data):
        start = match.start()
        if _after(data, start, _ALNUM + b"_.") or (
            _after(data, start, b" -") and _after(data, start - 1, b"0123456789")
        ):
            continue
        raw = match.group(1)
        separators = set(raw.translate(None, b"0123456789"))
        if len(separators) > 1:
            continue  # mixed separators: a date, phone number or table, not a card
        digits = raw.translate(None, b" -").decode()
        issuer = _issuer(digits)
        if issuer is None or not luhn_valid(digits) or len(set(digits)) < 2:
            continue
        out.append(Secret("card-number", protocol, direction, match.start(), None,
                          redact(digits, kind="card-number"), {"issuer": issuer}))  # fmt: skip
    return out


def find_secrets(data: bytes, *, protocol: str, direction: Direction) -> list[Secret]:
    """Secrets in one direction's payload: AWS access keys (with a nearby secret key),
    JWTs, private-key blocks, Azure storage account keys and SAS tokens, and card numbers.
    Sorted by offset; never raises on arbitrary bytes."""
    data = bytes(data[:_MAX_SCAN])
    out: list[Secret] = []
    if b"A" in data:
        out += _aws(data, protocol, direction)
    if b"eyJ" in data:
        out += _jwts(data, protocol, direction)
    if b"PRIVATE KEY" in data:
        out += _private_keys(data, protocol, direction)
    if b"ccountKey=" in data or b"CCOUNTKEY=" in data.upper():
        out += _azure_keys(data, protocol, direction)
    if b"sig=" in data:
        out += _sas(data, protocol, direction)
    out += _cards(data, protocol, direction)
    out.sort(key=lambda s: (s.offset, s.kind))
    return out
