"""HTTP Digest and NTLM credentials in a cleartext HTTP client stream (issue 5).

- Digest (RFC 7616 3.4): ``Authorization: Digest username="...", realm="...", ...,
  response="<hex>"``. The user name is reported; the ``response`` is a hash of the password,
  the nonce and the request that can be attacked offline, so it is redacted like a password.
  ``username*`` (RFC 7616 3.4.4, RFC 8187 ext-value) is decoded; with ``userhash=true`` the
  user name is itself a hash and is reported as such.
- NTLM ([MS-NLMP] 2.2.1.3 AUTHENTICATE_MESSAGE) in ``Authorization: NTLM <b64>`` or
  ``Negotiate <b64>`` (RFC 4559; a SPNEGO token may wrap it, so the NTLMSSP signature is looked
  for inside the decoded token). The user, domain and workstation are reported; the NT
  response is the secret. An NT response of 24 bytes is NTLMv1 ([MS-NLMP] 3.3.1: DES of the
  NT hash, crackable to the hash itself whatever the password), longer is NTLMv2 (3.3.2: an
  HMAC-MD5 NTProofStr, crackable offline like a salted hash). An anonymous AUTHENTICATE (no
  user, empty NT response, [MS-NLMP] 3.2.5.1.2) is not a credential.

Every length and offset in an NTLM message is checked against the message; anything that does
not fit gives no credential, never an exception.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from probe.pcap.redact import Secret, clean_user, redact

__all__ = [
    "NtlmAuthenticate",
    "digest_credentials",
    "ntlm_credentials",
    "parse_ntlm_authenticate",
]

MAX_HEADER = 8192  # bytes of one Authorization value considered
MAX_B64 = 16384  # base64 characters of an NTLM/Negotiate token considered

# RFC 9110 11.6.2 / RFC 7235: the credentials of an Authorization or Proxy-Authorization field.
_DIGEST = re.compile(rb"(?im)^(?:Proxy-)?Authorization:[ \t]*Digest[ \t]+([^\r\n]{1,8192})")
_NTLM = re.compile(
    rb"(?im)^(?:Proxy-)?Authorization:[ \t]*(NTLM|Negotiate)[ \t]+([A-Za-z0-9+/]{1,16384}=*)"
)
# RFC 9110 5.6.6 auth-param: token BWS "=" BWS ( token / quoted-string ).
_PARAM = re.compile(
    rb'[ \t]*([A-Za-z0-9!#$%&\'*+.^_`|~-]+)[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|[^,\s]*)'
)

_SIGNATURE = b"NTLMSSP\x00"
_AUTHENTICATE = 3
_NEGOTIATE_UNICODE = 0x00000001  # [MS-NLMP] 2.2.2.5 flag A
_NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000  # flag P
_FIELDS = struct.Struct("<HHI")  # [MS-NLMP] 2.2.1.3: Len, MaxLen, BufferOffset
_MIN_AUTHENTICATE = 64  # through NegotiateFlags


def _unquote(value: bytes) -> bytes:
    if len(value) >= 2 and value[:1] == b'"' and value[-1:] == b'"':
        return re.sub(rb"\\(.)", rb"\1", value[1:-1])
    return value


def _params(text: bytes) -> dict[bytes, bytes]:
    params: dict[bytes, bytes] = {}
    pos = 0
    for _ in range(64):
        match = _PARAM.match(text, pos)
        if match is None:
            break
        params.setdefault(match.group(1).lower(), _unquote(match.group(2)))
        pos = match.end()
        comma = text.find(b",", pos)
        if comma < 0:
            break
        pos = comma + 1
    return params


def digest_credentials(data: bytes) -> list[Secret]:
    """Each Digest ``Authorization`` with a ``response`` in ``data``."""
    out = []
    for match in _DIGEST.finditer(data):
        params = _params(match.group(1)[:MAX_HEADER])
        response = params.get(b"response")
        if not response:
            continue
        user = params.get(b"username")
        extended = params.get(b"username*")
        if user is None and extended is not None:
            # RFC 8187 3.2.1 ext-value: charset'language'pct-encoded.
            parts = extended.split(b"'", 2)
            user = unquote_to_bytes(parts[2]) if len(parts) == 3 else extended
        detail: dict[str, str | bool] = {
            "algorithm": clean_user(params.get(b"algorithm", b"MD5")) or "MD5",
        }
        realm = params.get(b"realm")
        if realm is not None:
            detail["realm"] = clean_user(realm) or ""
        if params.get(b"userhash", b"").lower() == b"true":
            detail["userhash"] = True
        secret = Secret(
            "http-digest",
            "http",
            "client",
            match.start(1),
            clean_user(user),
            redact(response, kind="http-digest"),
            detail,
        )
        out.append(secret)
    return out


@dataclass(frozen=True, slots=True)
class NtlmAuthenticate:
    """The parts of an AUTHENTICATE_MESSAGE that matter here (raw: redact before keeping)."""

    user: str
    domain: str
    workstation: str
    nt_response: bytes
    lm_response: bytes
    flags: int

    @property
    def version(self) -> str:
        """``v1`` (24-byte NT response), ``v2`` (longer) or ``anonymous`` (empty)."""
        if not self.nt_response:
            return "anonymous"
        return "v1" if len(self.nt_response) == 24 else "v2"


def parse_ntlm_authenticate(message: bytes) -> NtlmAuthenticate | None:
    """[MS-NLMP] 2.2.1.3 AUTHENTICATE_MESSAGE at the start of ``message``, or None when it is
    not one or a field does not fit inside it."""
    if len(message) < _MIN_AUTHENTICATE or message[:8] != _SIGNATURE:
        return None
    if struct.unpack_from("<I", message, 8)[0] != _AUTHENTICATE:
        return None
    buffers = []
    for at in (12, 20, 28, 36, 44):  # LM, NT, DomainName, UserName, Workstation
        length, _max, offset = _FIELDS.unpack_from(message, at)
        if length and (offset < _MIN_AUTHENTICATE or offset + length > len(message)):
            return None  # a buffer outside the message's payload: not trusted
        buffers.append(message[offset : offset + length] if length else b"")
    (flags,) = struct.unpack_from("<I", message, 60)
    lm, nt, domain, user, workstation = buffers
    unicode = bool(flags & _NEGOTIATE_UNICODE)

    def text(raw: bytes) -> str:
        # [MS-NLMP] 2.2.1.3: UTF-16LE with NTLMSSP_NEGOTIATE_UNICODE, else the OEM code page.
        return raw.decode("utf-16-le", "replace") if unicode else raw.decode("cp437")

    return NtlmAuthenticate(text(user), text(domain), text(workstation), nt, lm, flags)


def _ntlm_message(token: bytes) -> NtlmAuthenticate | None:
    decoded = _b64(token[:MAX_B64])
    if decoded is None:
        return None
    start = decoded.find(_SIGNATURE + b"\x03\x00\x00\x00")  # raw, or inside a SPNEGO token
    if start < 0:
        return None
    return parse_ntlm_authenticate(decoded[start:])


def _b64(text: bytes) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def ntlm_credentials(data: bytes) -> list[Secret]:
    """Each NTLM AUTHENTICATE_MESSAGE sent in an ``Authorization`` header of ``data``."""
    out = []
    for match in _NTLM.finditer(data):
        auth = _ntlm_message(match.group(2))
        if auth is None or auth.version == "anonymous":
            continue
        kind = "http-ntlmv1" if auth.version == "v1" else "http-ntlmv2"
        detail: dict[str, str | bool] = {"workstation": clean_user(auth.workstation) or ""}
        if auth.version == "v1":
            # [MS-NLMP] 3.3.1: with extended session security the LM field holds the client
            # challenge; either way the response is DES under the NT hash.
            ess = bool(auth.flags & _NEGOTIATE_EXTENDED_SESSIONSECURITY)
            detail["extended_session_security"] = ess
        user = f"{auth.domain}\\{auth.user}" if auth.domain else auth.user
        out.append(
            Secret(
                kind,
                "http",
                "client",
                match.start(2),
                clean_user(user),
                # Hex: the response is binary, and --show-secrets must show it faithfully.
                redact(auth.nt_response.hex(), kind=kind),
                detail,
            )
        )
    return out
