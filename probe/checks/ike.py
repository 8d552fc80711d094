"""The IKE check: IKEv2 and IKEv1 responders on UDP 500, and NAT-T on UDP 4500.

The enumeration logic lives in probe.checks.ike_plan (pure); this module is the edge that
turns each offer into a real message (real key-exchange values: responders reject random
bytes for EC groups), sends it over one connected UDP socket, retransmits with backoff,
answers COOKIE challenges as an initiator must (RFC 7296 2.6), and paces accepted offers so
the responder's half-open SA limit is never hit. Then, beside the enumerations:

* IKEv1 Aggressive Mode with PSK: a reply that carries HASH_R can be cracked offline;
* NAT-T: one IKEv2 offer on the NAT-T port behind the non-ESP marker (RFC 3948 2.2).

Silence is "no answer", an ICMP port unreachable is "refused", and an answer naming nothing
we offered is "answered, nothing acceptable": three different results.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
import time
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from probe.checks.context import CheckContext, error_result
from probe.checks.ike_plan import (
    AEAD_IDS,
    V1_AUTH_PSK,
    V1_AUTH_XAUTH_PSK,
    V1_ENCRYPTION,
    V1_HASH,
    Answer,
    Chosen,
    Encryption,
    Outcome,
    V1Offer,
    V1Result,
    V1Transform,
    V2Offer,
    V2Result,
    ikev1_plan,
    ikev2_plan,
    v1_transforms,
)
from probe.checks.ike_plan import record_v1 as _record_v1
from probe.codecs import ike
from probe.codecs.errors import DecodeError
from probe.codecs.ike_constants import (
    V1_AUTH_NAMES,
    NotifyType,
    TransformType,
    encryption_name,
    known_vendor_id,
    notify_name,
    transform_name,
)
from probe.codecs.ike_groups import private_bytes_needed, public_value
from probe.model import (
    ErrorInfo,
    ErrorReason,
    IkeAlgorithms,
    IkeFacts,
    IkeSuite,
    Status,
    Target,
    TargetResult,
)
from probe.net.stream import TransportError, resolve
from probe.net.udp import UdpChannel

# Retransmission (RFC 7296 2.1 leaves the schedule to the initiator): the first wait, and the
# factor by which each next wait grows, within the user's --timeout for the whole exchange.
FIRST_WAIT = 0.5
BACKOFF = 1.5
# Datagrams that are not the answer to our request (wrong SPI, garbage) tolerated per request.
MAX_STRAY = 256
# RFC 7296 2.10: nonces of at least 128 bits and half the PRF key size; 32 bytes fits all.
NONCE_BYTES = 32
# Notifies an initiator sends so that the responder reveals its support in the answer.
SIGNATURE_HASHES = struct.pack("!4H", 2, 3, 4, 5)  # RFC 7427 4: SHA1, SHA2-256/384/512
V1_NOTIFY_NO_PROPOSAL = 14  # RFC 2408 3.14.1 NO-PROPOSAL-CHOSEN
V1_EXCHANGE_MAIN, V1_EXCHANGE_AGGRESSIVE = 2, 4
ISAKMP_HASH = 8  # RFC 2408 3.11: HASH payload

T = TypeVar("T")


class _Silent(Exception):
    """No answer to a request after every retransmission."""


@dataclass(frozen=True)
class _AggressiveAnswer:
    hash_returned: bool | None  # None: no answer
    evidence: str
    chosen: Chosen | None = None


@dataclass
class _Session:
    """One responder endpoint: the socket, the pace, and what the answers told beside the SA."""

    target: Target
    address: str
    port: int
    nat_t: bool
    ctx: CheckContext
    channel: UdpChannel | None = None
    notifies: set[str] = field(default_factory=set)
    vendor_ids: dict[bytes, None] = field(default_factory=dict)
    certificate_requests: bool = False
    cookie_challenge: bool = False
    probes: int = 0
    datagrams: int = 0
    strays: int = 0  # datagrams that answered nothing we sent (garbage, wrong SPI, late)

    # -- transport --------------------------------------------------------------------------

    async def open(self) -> None:
        self.channel = await UdpChannel.open(self.address, self.port)

    def close(self) -> None:
        if self.channel is not None:
            self.datagrams += self.channel.sent
            self.channel.close()
            self.channel = None

    @property
    def accepted_at(self) -> deque[float]:
        return self.ctx.limits.half_open_log(self.address)

    async def _pace(self) -> None:
        """Wait while as many accepted offers as the responder tolerates are still half-open."""
        window = self.ctx.options.ike_half_open_seconds
        budget = max(1, self.ctx.options.ike_half_open)
        log = self.accepted_at
        while True:
            while log and time.monotonic() - log[0] >= window:
                log.popleft()
            if len(log) < budget:
                return
            await asyncio.sleep(max(0.01, log[0] + window - time.monotonic()))

    def note_half_open(self) -> None:
        self.accepted_at.append(time.monotonic())

    async def roundtrip(self, request: bytes, match: Callable[[bytes], T | None]) -> T:
        """Send ``request`` until ``match`` accepts a reply; raise _Silent after every wait."""
        assert self.channel is not None
        await self._pace()
        self.probes += 1
        waits = _waits(self.ctx.options.timeout, 1 + max(0, self.ctx.options.retries))
        stray = 0
        async with self.ctx.limits.slot(self.address, self.port):
            self.channel.discard_pending()
            for wait in waits:
                self.channel.send(request)
                deadline = time.monotonic() + wait
                while (left := deadline - time.monotonic()) > 0:
                    data = await self.channel.receive(left)
                    if data is None:
                        break
                    answer = match(data)
                    if answer is not None:
                        return answer
                    stray += 1
                    self.strays += 1
                    if stray > MAX_STRAY:
                        raise TransportError(
                            ErrorReason.PROTOCOL_ERROR,
                            f"more than {MAX_STRAY} datagrams that answer nothing we sent",
                        )
        raise _Silent()

    # -- IKEv2 ------------------------------------------------------------------------------

    def _ikev2_request(self, offer: V2Offer, spi: bytes, cookie: bytes | None) -> bytes:
        ctx = self.ctx
        private = ctx.random_bytes(private_bytes_needed(offer.ke_group))
        notifies = [
            (NotifyType.NAT_DETECTION_SOURCE_IP, b"\x00" * 20),  # filled below
            (NotifyType.NAT_DETECTION_DESTINATION_IP, b"\x00" * 20),
            (NotifyType.IKEV2_FRAGMENTATION_SUPPORTED, b""),  # RFC 7383 2.3
            (NotifyType.SIGNATURE_HASH_ALGORITHMS, SIGNATURE_HASHES),  # RFC 7427 4
            # Responders echo these only to an initiator that sends them: IKE_INTERMEDIATE
            # (RFC 9242 3, the carrier of post-quantum additional key exchanges, RFC 9370)
            # and post-quantum preshared keys (RFC 8784 3).
            (NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED, b""),
            (NotifyType.USE_PPK, b""),
            (NotifyType.CHILDLESS_IKEV2_SUPPORTED, b""),  # RFC 6023 3
        ]
        # RFC 7296 2.23: SHA-1(SPIi | SPIr | IP | port); the source is unknown before sending,
        # so it hashes an unspecified address (the responder then reports NAT, harmlessly).
        notifies[0] = (notifies[0][0], _nat_hash(spi, "0.0.0.0", 0))
        notifies[1] = (notifies[1][0], _nat_hash(spi, self.address, self.port))
        return ike.build_ikev2_sa_init(
            spi_i=spi,
            proposals=_v2_proposals(offer),
            dh_group=offer.ke_group,
            key_exchange=public_value(offer.ke_group, private),
            nonce=ctx.random_bytes(NONCE_BYTES),
            cookie=cookie,
            notifies=[(int(t), d) for t, d in notifies],
            nat_t=self.nat_t,
        )

    async def ikev2_offer(self, offer: V2Offer) -> Outcome:
        spi = self.ctx.random_bytes(8)
        nat_t = self.nat_t

        def match(data: bytes) -> ike.Ikev2Message | None:
            try:
                if ike.ike_major_version(data, nat_t=nat_t) != 2:
                    return None
                message = ike.parse_ikev2(data, nat_t=nat_t)
            except DecodeError:
                return None
            if message.spi_i != spi or not message.is_response:
                return None
            return message

        try:
            answer = await self.roundtrip(self._ikev2_request(offer, spi, None), match)
            if answer.cookie is not None:  # RFC 7296 2.6: repeat with the cookie, once
                self.cookie_challenge = True
                cookie = answer.cookie[:64]
                answer = await self.roundtrip(self._ikev2_request(offer, spi, cookie), match)
        except _Silent:
            return Outcome(Answer.NO_ANSWER)
        return self._v2_outcome(answer)

    def _v2_outcome(self, message: ike.Ikev2Message) -> Outcome:
        self._note_extras(message.vendor_ids)
        if message.certificate_requests:
            self.certificate_requests = True
        for notify in message.notifies:
            if notify.notify_type >= 16384 and notify.notify_type != NotifyType.COOKIE:
                self.notifies.add(notify_name(notify.notify_type))
        errors = message.error_notifies
        if message.invalid_ke_group is not None:
            return Outcome(Answer.INVALID_KE, group=message.invalid_ke_group)
        if NotifyType.NO_PROPOSAL_CHOSEN in errors:
            return Outcome(Answer.NO_PROPOSAL)
        if errors:
            return Outcome(Answer.OTHER, detail=", ".join(notify_name(e) for e in errors))
        chosen = _v2_chosen(message)
        if chosen is None:
            return Outcome(Answer.OTHER, detail="an answer without a usable SA payload")
        self.note_half_open()
        return Outcome(Answer.CHOSEN, chosen=chosen)

    async def run_plan(self, plan: Generator[Any, Outcome, T], send: Any) -> T:
        try:
            offer = next(plan)
            while True:
                offer = plan.send(await send(offer))
        except StopIteration as stop:
            result: T = stop.value
            return result

    # -- IKEv1 ------------------------------------------------------------------------------

    async def _ikev1_exchange(self, request: bytes, cookie: bytes) -> ike.Ikev1Message:
        nat_t = self.nat_t

        def match(data: bytes) -> ike.Ikev1Message | None:
            try:
                if ike.ike_major_version(data, nat_t=nat_t) != 1:
                    return None
                message = ike.parse_ikev1(data, nat_t=nat_t)
            except DecodeError:
                return None
            return message if message.cookie_i == cookie else None

        return await self.roundtrip(request, match)

    async def ikev1_offer(self, offer: V1Offer) -> Outcome:
        cookie = self.ctx.random_bytes(8)
        request = ike.build_ikev1_main_mode(
            cookie_i=cookie, transforms=[_v1_codec(t) for t in offer.transforms], nat_t=self.nat_t
        )
        try:
            answer = await self._ikev1_exchange(request, cookie)
        except _Silent:
            return Outcome(Answer.NO_ANSWER)
        return self._v1_outcome(answer)

    def _v1_outcome(self, message: ike.Ikev1Message) -> Outcome:
        self._note_extras(message.vendor_ids)
        if message.transforms:
            t = message.transforms[0]
            self.note_half_open()
            chosen = Chosen((t.encryption, t.key_length), None, None, t.group, t.hash, t.auth)
            return Outcome(Answer.CHOSEN, chosen=chosen)
        if V1_NOTIFY_NO_PROPOSAL in message.notify_types:
            return Outcome(Answer.NO_PROPOSAL)
        detail = ", ".join(f"notify {n}" for n in message.notify_types) or "no SA payload"
        return Outcome(Answer.OTHER, detail=detail)

    async def aggressive_mode(self, group: int, auth: int) -> _AggressiveAnswer:
        """Offer Aggressive Mode in ``group`` with one authentication method (PSK or
        XAUTH-PSK: libreswan ignores an offer that mixes them); True when HASH_R comes back."""
        cookie = self.ctx.random_bytes(8)
        transforms = v1_transforms(V1_ENCRYPTION, V1_HASH, (auth,), (group,))
        private = self.ctx.random_bytes(private_bytes_needed(group))
        request = ike.build_ikev1_aggressive(
            cookie_i=cookie,
            transforms=[_v1_codec(t) for t in transforms],
            key_exchange=public_value(group, private),
            nonce=self.ctx.random_bytes(NONCE_BYTES),
            identity=self.ctx.options.ike_identity.encode("utf-8", "replace")[:255],
            nat_t=self.nat_t,
        )
        method = V1_AUTH_NAMES.get(auth, str(auth))
        where = f"{method} in {transform_name(4, group)}"
        try:
            answer = await self._ikev1_exchange(request, cookie)
        except _Silent:
            return _AggressiveAnswer(None, f"no answer to Aggressive Mode {where}")
        outcome = self._v1_outcome(answer)
        if answer.has_hash:
            chosen = outcome.chosen
            what = _v1_suite(chosen) if chosen else None
            suite = f" ({_suite_text(what)})" if what else ""
            length = f"{answer.hash_length}-byte " if answer.hash_length else ""
            evidence = f"Aggressive Mode {method} reply with a {length}HASH_R{suite}"
            return _AggressiveAnswer(True, evidence, chosen)
        if outcome.answer is Answer.NO_PROPOSAL:
            return _AggressiveAnswer(False, f"Aggressive Mode {where} refused (NO-PROPOSAL-CHOSEN)")
        detail = f"Aggressive Mode {where} answered without a hash ({outcome.detail})"
        return _AggressiveAnswer(False, detail)

    def _note_extras(self, vendor_ids: tuple[bytes, ...]) -> None:
        for vid in vendor_ids[:32]:
            self.vendor_ids.setdefault(vid[:64], None)


def _waits(total: float, attempts: int) -> list[float]:
    """Retransmission waits: FIRST_WAIT growing by BACKOFF, fitted into ``total`` seconds."""
    waits: list[float] = []
    wait = min(FIRST_WAIT, total)
    while len(waits) < attempts and sum(waits) + wait <= total + 1e-9:
        waits.append(wait)
        wait *= BACKOFF
    if not waits:
        waits.append(total)
    leftover = total - sum(waits)
    waits[-1] += max(0.0, leftover)  # the last attempt waits out the rest of the budget
    return waits


def _nat_hash(spi: bytes, address: str, port: int) -> bytes:
    return ike.nat_detection_hash(spi, b"\x00" * 8, ipaddress.ip_address(address).packed, port)


def _v2_proposals(offer: V2Offer) -> list[ike.Proposal]:
    def transforms(kind: TransformType, ids: tuple[int, ...]) -> list[ike.Transform]:
        return [ike.Transform(int(kind), i) for i in ids]

    def ciphers(encs: tuple[Encryption, ...]) -> list[ike.Transform]:
        return [ike.Transform(int(TransformType.ENCR), e, k) for e, k in encs]

    common = transforms(TransformType.PRF, offer.prf) + transforms(
        TransformType.DH, offer.dh_groups
    )
    aead = tuple(e for e in offer.encryption if e[0] in AEAD_IDS)
    cbc = tuple(e for e in offer.encryption if e[0] not in AEAD_IDS)
    proposals = []
    if aead:
        proposals.append(ike.Proposal(tuple(ciphers(aead) + common)))
    if cbc and offer.integrity:
        integ = transforms(TransformType.INTEG, offer.integrity)
        proposals.append(ike.Proposal(tuple(ciphers(cbc) + integ + common)))
    return proposals


def _v2_chosen(message: ike.Ikev2Message) -> Chosen | None:
    if len(message.proposals) != 1:
        return None
    picked: dict[int, ike.Transform] = {}
    for transform in message.proposals[0].transforms:
        picked.setdefault(transform.type, transform)
    enc, prf, dh = (picked.get(int(t)) for t in (TransformType.ENCR, TransformType.PRF,
                                                  TransformType.DH))  # fmt: skip
    if enc is None or prf is None or dh is None:
        return None
    integ = picked.get(int(TransformType.INTEG))
    integrity = integ.id if integ is not None and integ.id != 0 else None
    return Chosen((enc.id, enc.key_length), prf.id, integrity, dh.id)


def _v1_codec(t: V1Transform) -> ike.Ikev1Transform:
    return ike.Ikev1Transform(
        encryption=t.encryption[0],
        key_length=t.encryption[1],
        hash=t.hash,
        auth=t.auth,
        group=t.group,
    )


# -- facts ------------------------------------------------------------------------------------

# IKEv1 encryption values (RFC 2409 Appendix A) -> IKEv2 transform ids, so both versions
# report the same names: 1 DES, 5 3DES, 7 AES-CBC.
_V1_TO_V2_ENCRYPTION = {1: 2, 5: 3, 7: 12}
# IKEv1 hash -> the IKEv2 integrity and PRF it amounts to (HMAC with that hash).
_V1_HASH_TO_INTEG = {1: 1, 2: 2, 4: 12, 5: 13, 6: 14}
_V1_HASH_TO_PRF = {1: 1, 2: 2, 4: 5, 5: 6, 6: 7}


def _enc_name(encryption: Encryption, v1: bool = False) -> str:
    enc_id, key = encryption
    if v1:
        v2_id = _V1_TO_V2_ENCRYPTION.get(enc_id)
        if v2_id is None:
            return f"IKEV1-ENCR-{enc_id}"
        enc_id = v2_id
    return encryption_name(enc_id, key)


def _v2_suite(chosen: Chosen | None) -> IkeSuite | None:
    if chosen is None:
        return None
    return IkeSuite(
        encryption=_enc_name(chosen.encryption),
        prf=None if chosen.prf is None else transform_name(2, chosen.prf),
        integrity=None if chosen.integrity is None else transform_name(3, chosen.integrity),
        dh_group=transform_name(4, chosen.group),
    )


def _v1_suite(chosen: Chosen | None) -> IkeSuite | None:
    """An IKEv1 transform set, its hash named as the PRF and integrity it amounts to (HMAC),
    so that both versions read alike."""
    if chosen is None:
        return None
    hash_id = chosen.hash or 0
    return IkeSuite(
        encryption=_enc_name(chosen.encryption, v1=True),
        prf=transform_name(2, _V1_HASH_TO_PRF.get(hash_id, 0)),
        integrity=transform_name(3, _V1_HASH_TO_INTEG.get(hash_id, 0)),
        dh_group=transform_name(4, chosen.group),
        auth=V1_AUTH_NAMES.get(chosen.auth or 0, f"AUTH-{chosen.auth}"),
    )


def _suite_text(suite: IkeSuite | None) -> str:
    if suite is None:
        return ""
    parts = [suite.encryption, suite.prf, suite.integrity, suite.dh_group, suite.auth]
    return "/".join(p for p in parts if p)


def _v2_algorithms(result: V2Result) -> IkeAlgorithms:
    return IkeAlgorithms(
        encryption=tuple(_enc_name(e) for e in result.encryption),
        prf=tuple(transform_name(2, p) for p in result.prf),
        integrity=tuple(transform_name(3, i) for i in result.integrity),
        dh_groups=tuple(transform_name(4, g) for g in result.dh_groups),
    )


def _v1_algorithms(result: V1Result) -> IkeAlgorithms:
    return IkeAlgorithms(
        encryption=tuple(_enc_name(e, v1=True) for e in result.encryption),
        prf=tuple(transform_name(2, _V1_HASH_TO_PRF.get(h, 0)) for h in result.hash),
        integrity=tuple(transform_name(3, _V1_HASH_TO_INTEG.get(h, 0)) for h in result.hash),
        dh_groups=tuple(transform_name(4, g) for g in result.groups),
    )


def _union(*sets: IkeAlgorithms) -> IkeAlgorithms:
    def merged(kind: str) -> tuple[str, ...]:
        out: dict[str, None] = {}
        for s in sets:
            out.update(dict.fromkeys(getattr(s, kind)))
        return tuple(out)

    return IkeAlgorithms(*(merged(k) for k in ("encryption", "prf", "integrity", "dh_groups")))


# -- the check --------------------------------------------------------------------------------


async def run(target: Target, ctx: CheckContext) -> TargetResult:
    started = time.monotonic()
    options = ctx.options
    try:
        address = await resolve(target.host, target.port, options.timeout)
    except TransportError as exc:
        return error_result(target, exc.reason, exc.message, started)
    nat_t_port = options.ike_nat_t_port
    session = _Session(target, address, target.port, target.port == nat_t_port, ctx)
    incomplete: dict[str, str] = {}
    v2 = V2Result()
    v1 = V1Result()
    aggressive = _AggressiveAnswer(None, "not tried: no IKE answer")
    error: TransportError | None = None
    try:
        await session.open()
        v2 = await session.run_plan(ikev2_plan(), session.ikev2_offer)
        v1 = await session.run_plan(ikev1_plan(), session.ikev1_offer)
        if v2.answered or v1.answered:  # a responder silent to both is not asked again
            aggressive = await _aggressive(session, v1)
    except TransportError as exc:
        error = exc
    finally:
        session.close()
    incomplete.update(v2.incomplete)
    incomplete.update(v1.incomplete)
    nat_t: bool | None = None
    if error is None and not session.nat_t and (v2.answered or v1.answered):
        nat_t = await _nat_t(target, address, nat_t_port, ctx, session)
    if aggressive.chosen is not None:  # the suite an Aggressive Mode answer accepted
        _record_v1(v1, aggressive.chosen)
    if "ikev1" in v1.incomplete and not v1.answered and v2.answered:
        # Silence to IKEv1 from a responder that answers IKEv2: it does not serve IKEv1
        # (libreswan and others drop it without a word), not a measurement that failed.
        del incomplete["ikev1"]

    v2_algorithms, v1_algorithms = _v2_algorithms(v2), _v1_algorithms(v1)
    vendor_ids = tuple(session.vendor_ids)
    facts = IkeFacts(
        ikev2=v2.answered if error is None or v2.answered else None,
        ikev1=(bool(v1.transforms) or aggressive.hash_returned is True)
        if v1.answered or aggressive.hash_returned is not None or v2.answered
        else (False if error is None else None),
        aggressive_mode_psk=aggressive.hash_returned,
        aggressive_mode_evidence=aggressive.evidence,
        accepted=_union(v2_algorithms, v1_algorithms),
        ikev2_accepted=v2_algorithms,
        ikev1_accepted=v1_algorithms,
        ikev1_transforms=tuple(s for s in map(_v1_suite, v1.transforms) if s is not None),
        ikev2_preferred=_v2_suite(v2.preferred),
        ikev1_preferred=_v1_suite(v1.preferred),
        notifies=tuple(sorted(session.notifies)),
        vendor_ids=tuple(v.hex() for v in vendor_ids),
        vendors=tuple(n for n in (known_vendor_id(v) for v in vendor_ids) if n),
        certificate_requests=session.certificate_requests,
        cookie_challenge=session.cookie_challenge,
        nat_t=nat_t,
        probes=session.probes,
        datagrams=session.datagrams,
        incomplete=incomplete,
        ikev2_offers=v2.offers,
    )
    status, info = Status.COMPLETED, None
    if error is not None:
        status, info = Status.ERROR, ErrorInfo(error.reason, error.message)
    elif not v2.answered and not v1.answered and session.strays:
        status = Status.ERROR
        message = f"{session.strays} datagrams came back, none an answer to our IKE requests"
        info = ErrorInfo(ErrorReason.PROTOCOL_ERROR, message)
    elif not v2.answered and not v1.answered:
        status = Status.ERROR
        info = ErrorInfo(ErrorReason.NO_ANSWER, "no answer to IKEv2 or IKEv1 offers")
    return TargetResult(
        target=target,
        status=status,
        error=info,
        tls=None,
        duration_seconds=time.monotonic() - started,
        ike=facts,
    )


async def _aggressive(session: _Session, v1: V1Result) -> _AggressiveAnswer:
    """Aggressive Mode, in the groups Main Mode accepted (else the common MODP-1024 and
    MODP-2048), with PSK, then with XAUTH-PSK if PSK drew no hash. The offers of one method go
    out at once, each on its own socket, so that a silent responder costs one timeout per
    method, not one per group."""
    groups = list(dict.fromkeys([*v1.groups, 2, 14]))[:3] if v1.groups else [2, 14]

    async def one(group: int, auth: int) -> _AggressiveAnswer:
        probe = _Session(session.target, session.address, session.port, session.nat_t,
                         session.ctx)  # fmt: skip
        try:
            await probe.open()
            return await probe.aggressive_mode(group, auth)
        finally:
            probe.close()
            session.probes += probe.probes
            session.datagrams += probe.datagrams
            session.vendor_ids.update(probe.vendor_ids)

    answers: list[_AggressiveAnswer] = []
    for auth in (V1_AUTH_PSK, V1_AUTH_XAUTH_PSK):
        answers += await asyncio.gather(*(one(g, auth) for g in groups))
        for answer in answers:
            if answer.hash_returned:
                return answer
    refused = [a for a in answers if a.hash_returned is False]
    if refused:
        return refused[0]
    # Silence: some responders (libreswan) ignore an Aggressive Mode offer whose ID they do
    # not know, so silence proves nothing either way.
    return _AggressiveAnswer(
        None,
        f"no answer to Aggressive Mode (ID {session.ctx.options.ike_identity}); a responder"
        " may ignore identities it does not know: try --ike-id with a group name",
    )


async def _nat_t(
    target: Target, address: str, port: int, ctx: CheckContext, main: _Session
) -> bool | None:
    """One IKEv2 offer of everything on the NAT-T port, behind the non-ESP marker."""
    session = _Session(target, address, port, True, ctx)
    plan = ikev2_plan()
    offer = next(plan)
    try:
        await session.open()
        outcome = await session.ikev2_offer(offer)
    except TransportError:
        return False
    finally:
        session.close()
        main.probes += session.probes
        main.datagrams += session.datagrams
    return outcome.answer is not Answer.NO_ANSWER
