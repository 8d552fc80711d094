"""The SMB check: SMB1, SMB2/3 dialects, ciphers, signing, guest access, encryption enforcement.

Facts only, and no credentials. One connection per question, 12 in all:

* every dialect offered at once (with every cipher and signing algorithm): what the server
  prefers, its signing mode, GUID, clock and sizes;
* one offer per dialect 2.0.2, 2.1, 3.0 and 3.0.2 (the 3.0 ones ask for encryption, so the
  answer tells whether SMB 3.0 encryption is available; when the server refuses that request
  the offer is repeated without it, one more connection each), and 3.1.1 once per cipher,
  each also carrying one signing algorithm;
* one SMB1 "NT LM 0.12" negotiate;
* encryption enforcement: negotiate without offering encryption, then SESSION_SETUP with an
  NTLMSSP NEGOTIATE token and, if that goes through, an anonymous AUTHENTICATE. Windows refuses
  the first leg with ACCESS_DENIED when it rejects unencrypted access; Samba refuses the
  anonymous leg (an anonymous session has no key to encrypt with);
* guest access: a login as a random unknown user with a response no password made.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from probe.checks.context import CheckContext, ProbeFailed, error_result
from probe.codecs.errors import DecodeError
from probe.codecs.smb2 import (
    CAP_ENCRYPTION,
    CIPHER_LABEL,
    DIALECT_LABEL,
    SIGNING_LABEL,
    Cipher,
    Dialect,
    NbssReader,
    NegotiateResponse,
    NotSmbError,
    SigningAlgorithm,
    Smb2ErrorResponse,
    Status,
    build_nbss_session_request,
    build_negotiate_request,
    build_session_setup_request,
    build_smb1_negotiate_request,
    filetime_to_unix,
    ntlmssp_anonymous_blob,
    ntlmssp_authenticate_blob,
    ntlmssp_authenticate_message,
    ntlmssp_negotiate_blob,
    parse_negotiate_response,
    parse_session_setup_response,
    parse_smb1_negotiate_response,
    status_name,
)
from probe.model import ErrorReason, SmbAuthFacts, SmbFacts, Target, TargetResult
from probe.model import Status as ScanStatus
from probe.net.stream import Conversation, Timeouts, TransportError, conversation, resolve

ALL_DIALECTS = (
    Dialect.SMB2_0_2,
    Dialect.SMB2_1,
    Dialect.SMB3_0,
    Dialect.SMB3_0_2,
    Dialect.SMB3_1_1,
)
ALL_CIPHERS = (Cipher.AES_256_GCM, Cipher.AES_128_GCM, Cipher.AES_256_CCM, Cipher.AES_128_CCM)
CIPHER_CODE = {label: code for code, label in CIPHER_LABEL.items()}
ALL_SIGNING = (SigningAlgorithm.AES_GMAC, SigningAlgorithm.AES_CMAC, SigningAlgorithm.HMAC_SHA256)
# The four single-cipher 3.1.1 offers each carry one signing algorithm, so the accepted signing
# algorithms come at no extra connection ([MS-SMB2] 2.2.3.1.7: the server echoes its choice).
SIGNING_FOR_CIPHER = dict(zip(ALL_CIPHERS, (*ALL_SIGNING, SigningAlgorithm.AES_GMAC), strict=True))
NETBIOS_SESSION_PORT = 139  # RFC 1002: a session request must come first


@dataclass
class _Endpoint:
    target: Target
    address: str
    ctx: CheckContext
    connections: int = 0
    incomplete: dict[str, str] = field(default_factory=dict)

    def _count(self) -> None:
        self.connections += 1

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Callable[[bytes], Awaitable[bytes | None]]]:
        """One connection; yields ``ask(request) -> SMB message | None`` (None: the server
        closed instead of answering). Transport and decode failures become ProbeFailed."""
        t = self.ctx.options.timeout

        async def ask(request: bytes) -> bytes | None:
            reader = NbssReader()
            await conv.exchange(request, reader)
            return reader.message()

        try:
            async with self.ctx.limits.slot(self.address, self.target.port), conversation(
                self.address, self.target.port, timeouts=Timeouts(connect=t, read=t),
                on_connect=self._count,
            ) as conv:  # fmt: skip
                if self.target.port == NETBIOS_SESSION_PORT:
                    await self._netbios_session(conv)
                yield ask
        except TransportError as exc:
            raise ProbeFailed(exc.reason, exc.message) from None
        except NotSmbError as exc:
            raise ProbeFailed(ErrorReason.NOT_SMB, f"not SMB: {exc}") from None
        except DecodeError as exc:
            raise ProbeFailed(ErrorReason.PROTOCOL_ERROR, f"bad SMB answer: {exc}") from None

    async def ask_once(self, request: bytes) -> bytes | None:
        async with self.session() as ask:
            return await ask(request)

    async def _netbios_session(self, conv: Conversation) -> None:
        reader = NbssReader()
        await conv.exchange(build_nbss_session_request("*SMBSERVER", "PROBE"), reader)
        if reader.session_response != 0x82:  # RFC 1002 4.3.3 POSITIVE SESSION RESPONSE
            raise ProbeFailed(ErrorReason.PROTOCOL_ERROR, "NetBIOS session request refused")

    def negotiate_request(
        self,
        dialects: tuple[int, ...],
        ciphers: tuple[int, ...] | None,
        *,
        encryption: bool = True,
        signing: tuple[int, ...] = ALL_SIGNING,
    ) -> bytes:
        return build_negotiate_request(
            dialects=dialects,
            client_guid=self.ctx.random_bytes(16),
            salt=self.ctx.random_bytes(32),
            capabilities=CAP_ENCRYPTION if encryption else 0,
            ciphers=ciphers,
            signing_algorithms=signing,
        )


def _negotiated(message: bytes | None) -> NegotiateResponse | None:
    """A successful negotiate response, or None when the server declined the offer."""
    if message is None:
        return None
    try:
        return parse_negotiate_response(message)
    except Smb2ErrorResponse:
        return None  # e.g. STATUS_NOT_SUPPORTED: no dialect in common, the offer was declined
    except DecodeError as exc:
        raise ProbeFailed(ErrorReason.PROTOCOL_ERROR, f"bad negotiate response: {exc}") from None


async def _offer(
    ep: _Endpoint,
    dialects: tuple[int, ...],
    ciphers: tuple[int, ...] | None,
    *,
    encryption: bool = True,
    signing: tuple[int, ...] = ALL_SIGNING,
) -> NegotiateResponse | None:
    request = ep.negotiate_request(dialects, ciphers, encryption=encryption, signing=signing)
    return _negotiated(await ep.ask_once(request))


async def _offer_smb3(ep: _Endpoint, dialect: int) -> tuple[NegotiateResponse | None, bool | None]:
    """A 3.0 or 3.0.2 offer asking for encryption (CAP_ENCRYPTION): the answer's capability bit
    says whether that dialect can encrypt. Samba answers INVALID_PARAMETER when it cannot
    (AES-128-CCM disabled); only then is the offer repeated without the capability, to tell
    whether the dialect itself is accepted. Returns (response, encryption capability)."""
    message = await ep.ask_once(ep.negotiate_request((dialect,), None, encryption=True))
    if message is None:
        return None, None
    try:
        response = parse_negotiate_response(message)
    except Smb2ErrorResponse as exc:
        if exc.status != Status.INVALID_PARAMETER:
            return None, None
    except DecodeError as exc:
        raise ProbeFailed(ErrorReason.PROTOCOL_ERROR, f"bad negotiate response: {exc}") from None
    else:
        return response, response.encryption_capability
    retry = await _offer(ep, (dialect,), None, encryption=False)
    return retry, (False if retry is not None else None)


async def _smb1(ep: _Endpoint) -> bool:
    answer = await ep.ask_once(build_smb1_negotiate_request(("NT LM 0.12",)))
    if answer is None:
        return False
    try:
        return parse_smb1_negotiate_response(answer).accepted
    except DecodeError:
        return False  # an SMB2 error to an SMB1-only offer: not SMB1


async def _encryption_required(ep: _Endpoint, dialects: tuple[int, ...]) -> tuple[bool | None, str]:
    """Negotiate without offering encryption, then try to open a session.

    Windows refuses the first leg (NTLMSSP NEGOTIATE) with ACCESS_DENIED when it rejects
    unencrypted access. Samba lets the first leg through and refuses the anonymous second leg
    with ACCESS_DENIED when encryption is required (an anonymous session has no key to encrypt
    with); it accepts that leg otherwise. A server refusing every anonymous session looks the
    same, so the evidence names the step.
    """
    negotiate = ep.negotiate_request(dialects, ciphers=(), encryption=False)
    async with ep.session() as ask:
        if _negotiated(await ask(negotiate)) is None:
            return None, "the negotiate without encryption was refused"
        first = await ask(
            build_session_setup_request(security_blob=ntlmssp_negotiate_blob(), message_id=1)
        )
        if first is None:
            return None, "the server closed the connection at SESSION_SETUP"
        leg1 = parse_session_setup_response(first)
        if leg1.status == Status.ACCESS_DENIED:
            return True, "SESSION_SETUP (NTLM negotiate) without encryption: ACCESS_DENIED"
        if leg1.status != Status.MORE_PROCESSING_REQUIRED:
            return None, f"SESSION_SETUP (NTLM negotiate): {status_name(leg1.status)}"
        second = await ask(
            build_session_setup_request(
                security_blob=ntlmssp_anonymous_blob(), message_id=2, session_id=leg1.session_id
            )
        )
    if second is None:
        return None, "the server closed the connection at the anonymous SESSION_SETUP"
    leg2 = parse_session_setup_response(second)
    if leg2.status == Status.ACCESS_DENIED:
        return True, (
            "anonymous SESSION_SETUP without encryption: ACCESS_DENIED (encryption required;"
            " a server refusing all anonymous sessions would look the same)"
        )
    if leg2.status == Status.SUCCESS:
        return False, "anonymous SESSION_SETUP without encryption: SUCCESS"
    return None, f"anonymous SESSION_SETUP without encryption: {status_name(leg2.status)}"


async def _guest_access(ep: _Endpoint, dialects: tuple[int, ...]) -> tuple[bool | None, str]:
    """Log in as a random unknown user with a response no password produced. A session granted
    (SessionFlags IS_GUEST or IS_NULL) is guest access; a refusal status is none."""
    # A random 24-byte response: no password made it, and the user does not exist. (Samba
    # 4.17 answers an NTLMv2-shaped response without the server's AV pairs with
    # INVALID_PARAMETER before it looks the user up.)
    nt_response = ep.ctx.random_bytes(24)
    user = "probe-" + ep.ctx.random_bytes(6).hex()
    login = ntlmssp_authenticate_message(
        user=user, domain="", workstation="PROBE", nt_response=nt_response
    )
    async with ep.session() as ask:
        if _negotiated(await ask(ep.negotiate_request(dialects, ALL_CIPHERS))) is None:
            return None, "the negotiate was refused"
        first = await ask(
            build_session_setup_request(security_blob=ntlmssp_negotiate_blob(), message_id=1)
        )
        if first is None:
            return None, "the server closed the connection at SESSION_SETUP"
        leg1 = parse_session_setup_response(first)
        if leg1.status != Status.MORE_PROCESSING_REQUIRED:
            return None, f"SESSION_SETUP (NTLM negotiate): {status_name(leg1.status)}"
        second = await ask(
            build_session_setup_request(
                security_blob=ntlmssp_authenticate_blob(login),
                message_id=2,
                session_id=leg1.session_id,
            )
        )
    if second is None:
        return None, "the server closed the connection at the guest SESSION_SETUP"
    leg2 = parse_session_setup_response(second)
    evidence = f"login as unknown user {user}: {status_name(leg2.status)}"
    if leg2.status == Status.SUCCESS:
        return True, f"{evidence}, SessionFlags 0x{leg2.session_flags:04X}"
    if leg2.status in (Status.LOGON_FAILURE, Status.ACCESS_DENIED):
        return False, evidence
    return None, evidence


async def _logins(
    ep: _Endpoint, dialects: tuple[int, ...]
) -> tuple[bool | None, str | None, SmbAuthFacts | None]:
    """Guest access (always, with our own codec) and the credentialed probe (when credentials
    were given, through smbprotocol's NTLM); one connection each, under the same caps."""
    options = ep.ctx.options
    try:
        guest, evidence = await _guest_access(ep, dialects)
    except ProbeFailed as exc:
        guest, evidence = None, f"{exc.reason.value}: {exc.message}"
    if guest is None:
        ep.incomplete["guest_access"] = evidence
    auth = None
    if ep.target.port == NETBIOS_SESSION_PORT and options.smb_user is not None:
        # smbprotocol cannot send the NetBIOS session request that port 139 may need.
        ep.incomplete["authenticated login"] = "not made on port 139"
    elif options.smb_user is not None:
        from probe.checks.smb_auth import probe_credentials

        async with ep.ctx.limits.slot(ep.address, ep.target.port):
            ep.connections += 1
            auth = await probe_credentials(
                ep.address,
                ep.target.port,
                user=options.smb_user,
                password=options.smb_password or "",
                domain=options.smb_domain,
                share=options.smb_share,
                timeout=options.timeout,
            )
    return guest, evidence, auth


async def run(target: Target, ctx: CheckContext) -> TargetResult:
    """Measure one SMB endpoint. Never raises: problems become the result's status."""
    started = time.monotonic()
    try:
        address = await resolve(target.host, target.port, ctx.options.timeout)
    except TransportError as exc:
        return error_result(target, exc.reason, exc.message, started)
    ep = _Endpoint(target=target, address=address, ctx=ctx)

    # Everything at once first: it is the reachability probe and gives the server's choices.
    try:
        best = await _offer(ep, ALL_DIALECTS, ALL_CIPHERS)
    except ProbeFailed as exc:
        return error_result(target, exc.reason, exc.message, started)
    if best is None:
        return error_result(
            target, ErrorReason.PROTOCOL_ERROR, "no SMB2/3 negotiate answer", started
        )

    async def guarded(what: str, job: Awaitable[object]) -> object:
        try:
            return await job
        except ProbeFailed as exc:
            ep.incomplete[what] = f"{exc.reason.value}: {exc.message}"
            return None

    singles = [d for d in ALL_DIALECTS if d != Dialect.SMB3_1_1]
    smb30 = (Dialect.SMB3_0, Dialect.SMB3_0_2)
    # Single-dialect offers carry no capabilities (as nmap's do): Samba answers a 3.0 offer that
    # sets CAP_ENCRYPTION with INVALID_PARAMETER when AES-128-CCM is disabled, which would read
    # as "dialect not accepted".
    jobs = {
        # 2.x offers carry no capabilities (as nmap's do); 3.0 and 3.0.2 ask for encryption.
        **{
            f"dialect {DIALECT_LABEL[d]}": _offer_smb3(ep, d)
            if d in smb30
            else _offer(ep, (d,), None, encryption=False)
            for d in singles
        },
        **{
            f"cipher {CIPHER_LABEL[c]}": _offer(
                ep, (Dialect.SMB3_1_1,), (c,), signing=(SIGNING_FOR_CIPHER[c],)
            )
            for c in ALL_CIPHERS
        },
        "smb1": _smb1(ep),
        "encryption_required": _encryption_required(ep, (best.dialect,)),
    }
    logins = asyncio.ensure_future(
        _logins(ep, (best.dialect,))
    )  # smbprotocol works in threads meanwhile
    results = dict(
        zip(jobs, await asyncio.gather(*(guarded(k, j) for k, j in jobs.items())), strict=True)
    )

    def accepted(dialect: int) -> bool:
        answer = results[f"dialect {DIALECT_LABEL[dialect]}"]
        return bool(answer[0]) if isinstance(answer, tuple) else answer is not None

    dialects = [DIALECT_LABEL[d] for d in singles if accepted(d)]
    smb30_caps = [results[f"dialect {DIALECT_LABEL[d]}"] for d in smb30]
    capabilities = [
        cap for answer, cap in (c for c in smb30_caps if isinstance(c, tuple)) if answer
    ]
    ciphers: list[str] = []
    signing: set[str] = set()
    accepts_311 = best.dialect == Dialect.SMB3_1_1
    for c in ALL_CIPHERS:
        answer = results[f"cipher {CIPHER_LABEL[c]}"]
        if isinstance(answer, NegotiateResponse) and answer.dialect == Dialect.SMB3_1_1:
            accepts_311 = True  # each 3.1.1 offer also tells whether 3.1.1 is accepted at all
            if answer.cipher == c:
                ciphers.append(CIPHER_LABEL[c])
            if answer.signing_algorithm == SIGNING_FOR_CIPHER[c]:
                signing.add(SIGNING_LABEL[answer.signing_algorithm])
    if accepts_311:
        dialects.append(DIALECT_LABEL[Dialect.SMB3_1_1])
    guest_access, guest_evidence, auth = await logins
    enc = results["encryption_required"]
    encryption_required, evidence = enc if isinstance(enc, tuple) else (None, None)

    if best.dialect == Dialect.SMB3_1_1:
        if best.cipher:
            context = "cipher"
        else:
            context = "no_common_cipher" if best.encryption_context_present else "no_context"
    else:
        context = None
    system_time = None
    if best.system_time:
        system_time = datetime.fromtimestamp(filetime_to_unix(best.system_time), UTC).isoformat()
    facts = SmbFacts(
        smb1=results["smb1"] if isinstance(results["smb1"], bool) else None,
        dialects=tuple(dialects),  # already in protocol order
        preferred_dialect=DIALECT_LABEL.get(best.dialect),
        ciphers=tuple(sorted(ciphers, key=lambda name: CIPHER_CODE[name])),  # [MS-SMB2] order
        preferred_cipher=CIPHER_LABEL.get(best.cipher) if best.cipher else None,
        encryption_context=context,
        encryption_capability=any(capabilities) if capabilities else None,
        signing_enabled=best.signing_enabled,
        signing_required=best.signing_required,
        signing_algorithms=tuple(label for label in SIGNING_LABEL.values() if label in signing),
        signing_algorithm=SIGNING_LABEL.get(best.signing_algorithm)
        if best.signing_algorithm is not None
        else None,
        encryption_required=encryption_required,
        encryption_required_evidence=evidence,
        server_guid=best.server_guid.hex() if best.server_guid else None,
        system_time=system_time,
        max_read=best.max_read,
        max_write=best.max_write,
        max_transact=best.max_transact,
        connections=ep.connections,
        incomplete=dict(ep.incomplete),
        guest_access=guest_access,
        guest_evidence=guest_evidence,
        auth=auth,
    )
    return TargetResult(
        target=target,
        status=ScanStatus.COMPLETED,
        error=None,
        tls=None,
        smb=facts,
        duration_seconds=time.monotonic() - started,
    )
