"""The TLS check: protocol versions, accepted cipher suites, server order and certificates.

Facts only; profiles judge them. How it keeps the connection count low:

* Every version is measured with raw hellos built by the codec, so the answer never depends
  on the local OpenSSL build. We read only up to ServerHelloDone and never finish a handshake.
* Suites are found by elimination (offer a chunk, note the suite the server picks, offer the
  rest again) in chunks of at most 128 suites, the size intolerant servers still accept
  (testssl.sh ``run_allciphers``). The codec orders candidates so the suites real servers
  accept fall in the first chunk. A version costs (accepted + chunks) hellos; the first hello
  of a version doubles as its support probe, and a protocol_version alert ends it at once.
* Server order: if the server enforces its own order, elimination already reveals it. For a
  version with several chunks, one more hello offers the first chunk reversed at once: a
  client-order server then picks another suite, and its suites are eliminated in parallel
  chains (candidates spread round-robin, so each chain is short: on a network a version's
  chain of one hello per accepted suite is the critical path); a server-order server picks
  the same suite and is eliminated chunk by chunk, in its order. Single-chunk versions
  (TLS 1.3) ask afterwards, with the accepted suites reversed.
* Certificates up to TLS 1.2 arrive in the clear in the same flights. Only a TLS 1.3-only
  server needs one full handshake (pyOpenSSL) to see its certificate.
* Key-exchange groups are found by elimination too, once the suites are known (see
  ``_eliminate_groups``): TLS 1.3 hellos without any key share make the server name the group
  it wants in a HelloRetryRequest (RFC 8446 4.1.4), TLS 1.2 ECDHE hellos make it name the
  curve in its ServerKeyExchange (RFC 8422 5.4). Each costs one hello per accepted group plus
  the one that is refused; the server's order comes out of the same hellos.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from probe.checks.context import CheckContext, ProbeFailed, error_result
from probe.codecs.errors import DecodeError, NotTlsError
from probe.codecs.starttls import PROTOCOLS as STARTTLS_PROTOCOLS
from probe.codecs.starttls import StartTlsDialog, StartTlsError, StartTlsOutcome
from probe.codecs.tls.constants import (
    COMPRESSION_DEFLATE,
    COMPRESSION_NULL,
    GROUP_BITS,
    GROUP_NAMES,
    TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
    VERSION_LABEL,
    AlertDescription,
    Version,
    compression_name,
    group_name,
    version_label,
)
from probe.codecs.tls.flight import (
    ServerFlight,
    ServerFlightReader,
    ServerHelloFeatures,
    Ssl2ServerHelloReader,
    server_hello_features,
)
from probe.codecs.tls.groups import (
    FFDHE_GROUPS,
    TLS12_GROUP_CANDIDATES,
    TLS13_GROUP_CANDIDATES,
    common_prime_name,
    ffdhe_group_for_prime,
    is_post_quantum,
)
from probe.codecs.tls.hello import (
    MAX_CIPHER_SUITES,
    build_client_hello,
    build_sslv2_client_hello,
)
from probe.codecs.tls.suites import SSL2_CIPHERS, SUITES, candidate_suites
from probe.model import (
    CertificateFacts,
    ErrorReason,
    KeyExchangeParams,
    StartTlsFacts,
    Status,
    Target,
    TargetResult,
    TlsExtensionFacts,
    TlsFacts,
)
from probe.net.starttls import negotiate
from probe.net.stream import Timeouts, TransportError, conversation, exchange, resolve

CHUNK_SIZE = 128
TLS_VERSIONS = (Version.SSL3, Version.TLS1_0, Version.TLS1_1, Version.TLS1_2, Version.TLS1_3)
# When no version could be measured, the target's error is the most telling transport error.
_REASON_RANK = (
    ErrorReason.DNS,
    ErrorReason.REFUSED,
    ErrorReason.UNREACHABLE,
    ErrorReason.TIMEOUT,
    ErrorReason.NOT_TLS,
    ErrorReason.RESET,
    ErrorReason.PROTOCOL_ERROR,
)


# Failures that say nothing can get through to the service (as opposed to a peer that answers
# badly): when the opening hellos end like this, the target is an error without more probes.
_NO_ROUTE = frozenset({ErrorReason.REFUSED, ErrorReason.UNREACHABLE, ErrorReason.TIMEOUT})


@dataclass
class _Endpoint:
    """One resolved endpoint and the bookkeeping shared by all probes of a target."""

    target: Target
    address: str
    ctx: CheckContext
    connections: int = 0
    chains: dict[bytes, tuple[tuple[bytes, ...], set[str]]] = field(default_factory=dict)
    key_exchange: dict[str, KeyExchangeParams] = field(default_factory=dict)
    dh_primes: dict[str, bytes] = field(default_factory=dict)  # suite name -> DHE prime seen
    # STARTTLS targets: the dialog every connection runs first, and the first outcome seen.
    starttls: str | None = None
    starttls_outcome: StartTlsOutcome | None = None

    @property
    def timeouts(self) -> Timeouts:
        t = self.ctx.options.timeout
        return Timeouts(connect=t, read=t)

    def _count(self) -> None:
        self.connections += 1

    async def send(
        self, request: bytes, reader: ServerFlightReader | Ssl2ServerHelloReader
    ) -> None:
        """One connection: send a hello, feed the answer to reader. Retries resets with backoff."""
        attempts = 1 + max(0, self.ctx.options.retries)
        counting = _Counting(reader)
        for attempt in range(attempts):
            try:
                async with self.ctx.limits.slot(self.address, self.target.port):
                    if self.starttls is None:
                        await exchange(
                            self.address,
                            self.target.port,
                            request,
                            counting,
                            timeouts=self.timeouts,
                            on_connect=self._count,
                        )
                    else:
                        await self._send_after_starttls(request, counting)
                return
            except StartTlsError as exc:
                raise StartTlsFailed(ErrorReason.PROTOCOL_ERROR, f"STARTTLS: {exc}") from None
            except TransportError as exc:
                retry = exc.reason is ErrorReason.RESET and not counting.received
                if retry and attempt + 1 < attempts:
                    await asyncio.sleep(0.2 * 3**attempt)
                    continue
                raise ProbeFailed(exc.reason, exc.message) from None
            except NotTlsError as exc:
                raise ProbeFailed(ErrorReason.NOT_TLS, f"not TLS: {exc}") from None
            except DecodeError as exc:
                raise ProbeFailed(ErrorReason.PROTOCOL_ERROR, f"bad TLS answer: {exc}") from None

    async def _send_after_starttls(self, request: bytes, reader: _Counting) -> None:
        """One connection that upgrades with the target's STARTTLS dialog, then sends request."""
        assert self.starttls is not None
        dialog = StartTlsDialog(self.starttls, self.target.server_name or self.target.host)
        async with conversation(
            self.address, self.target.port, timeouts=self.timeouts, on_connect=self._count
        ) as conv:
            try:
                outcome = await negotiate(conv, dialog)
            except TransportError as exc:
                raise TransportError(
                    exc.reason, f"STARTTLS ({self.starttls}): {exc.message}"
                ) from None
            if self.starttls_outcome is None or (outcome.upgraded and not self.upgraded):
                self.starttls_outcome = outcome
            if not outcome.upgraded:
                raise StartTlsFailed(
                    ErrorReason.PROTOCOL_ERROR, f"STARTTLS refused: {outcome.reply}"
                )
            await conv.exchange(request, reader)

    @property
    def upgraded(self) -> bool:
        return self.starttls_outcome is not None and self.starttls_outcome.upgraded

    def hello(self, version: Version, suites: Sequence[int], *, features: bool = False) -> bytes:
        """With ``features``, the hello also offers the extensions whose echo tells what the
        server supports (see ``_measure_extensions``)."""
        return build_client_hello(
            version=version,
            cipher_suites=suites,
            server_name=self.target.server_name,
            random=self.ctx.random_bytes(32),
            x25519_key_share=self.ctx.random_bytes(32) if version is Version.TLS1_3 else None,
            extended_master_secret=features,
            encrypt_then_mac=features,
            session_ticket=features,
            status_request=features,
        )

    def group_hello(self, version: Version, suites: Sequence[int], groups: Sequence[int]) -> bytes:
        """A hello offering exactly ``groups``; at TLS 1.3 with an empty key_share list."""
        return build_client_hello(
            version=version,
            cipher_suites=suites,
            server_name=self.target.server_name,
            random=self.ctx.random_bytes(32),
            groups=groups,
        )

    def note_chain(self, chain: Sequence[bytes], how: str) -> None:
        if not chain:
            return
        leaf = chain[0]
        if leaf not in self.chains:
            self.chains[leaf] = (tuple(chain), set())
        self.chains[leaf][1].add(how)


class StartTlsFailed(ProbeFailed):
    """The STARTTLS dialog before the hello failed or was refused: no TLS was spoken."""


class _Counting:
    """Wraps a reader to remember whether the server sent anything at all."""

    def __init__(self, inner: ServerFlightReader | Ssl2ServerHelloReader) -> None:
        self.inner = inner
        self.received = 0

    def feed(self, data: bytes) -> None:
        self.received += len(data)
        self.inner.feed(data)

    @property
    def done(self) -> bool:
        return self.inner.done


@dataclass
class _VersionOutcome:
    accepted: list[int] = field(default_factory=list)  # in the order the server picked them
    # Elimination runs per chunk; each chunk's list is in server order if the server has one.
    per_chunk: list[list[int]] = field(default_factory=list)
    preference: bool | None = None
    failure: ProbeFailed | None = None  # set when the version could not be measured
    answered: bool = False  # the server sent a TLS answer (alert or hello), not just a close


async def _offer(
    ep: _Endpoint, version: Version, suites: Sequence[int], *, features: bool = False
) -> ServerFlight:
    reader = ServerFlightReader(want_certificate=True, want_key_exchange=True)
    try:
        await ep.send(ep.hello(version, suites, features=features), reader)
    except ProbeFailed:
        flight = reader.result()
        if flight.server_hello is None:
            raise
        return flight  # the ServerHello is what we needed; a broken tail does not undo it
    return reader.result()


def _picked(flight: ServerFlight, version: Version, offered: Sequence[int]) -> int | None:
    """The suite the server chose at this version, or None when it declined."""
    hello = flight.server_hello
    if hello is None or hello.version != version:
        return None
    if hello.cipher_suite not in offered:
        # RFC 5246 7.4.1.3: the server must pick from our list. Treat it as declining.
        return None
    return hello.cipher_suite


def _record_flight(ep: _Endpoint, version: Version, suite: int, flight: ServerFlight) -> None:
    info = SUITES.get(suite)
    name = info.name if info else f"0x{suite:04X}"
    label = VERSION_LABEL[version]
    if flight.certificate_chain:
        auth = info.auth if info else "?"
        ep.note_chain(flight.certificate_chain, f"{label} {auth}")
    kx = flight.key_exchange
    if kx is not None and name not in ep.key_exchange:
        group_label = kx.group_name
        if kx.kind == "DHE" and kx.prime is not None:
            ep.dh_primes[name] = kx.prime
            ffdhe = ffdhe_group_for_prime(kx.prime)  # a fixed prime may still be RFC 7919's
            if group_label is None and ffdhe is not None:
                group_label = group_name(ffdhe)
        ep.key_exchange[name] = KeyExchangeParams(kind=kx.kind, group=group_label, bits=kx.bits)
    hello = flight.server_hello
    if version is Version.TLS1_3 and hello is not None and hello.selected_group is not None:
        group = GROUP_NAMES.get(hello.selected_group, f"0x{hello.selected_group:04X}")
        ep.key_exchange.setdefault(
            name,
            KeyExchangeParams(
                kind="ECDHE" if "ffdhe" not in group else "DHE",
                group=group,
                bits=GROUP_BITS.get(hello.selected_group, 0),
            ),
        )


async def _eliminate(
    ep: _Endpoint, version: Version, chunk: list[int], first: ServerFlight | None
) -> list[int]:
    """Offer the chunk again and again, removing each suite the server picks."""
    remaining = list(chunk)
    picked: list[int] = []
    flight = first
    while remaining:
        if flight is None:
            flight = await _offer(ep, version, remaining)
        suite = _picked(flight, version, remaining)
        if suite is None:
            break
        _record_flight(ep, version, suite, flight)
        picked.append(suite)
        remaining.remove(suite)
        flight = None
    return picked


def _declines_version(flight: ServerFlight, version: Version) -> bool:
    """True when the answer rules the version out, not just this set of suites."""
    hello = flight.server_hello
    if hello is not None:
        return hello.version != version
    alert = flight.alert
    return alert is not None and alert.description == AlertDescription.PROTOCOL_VERSION


def _chunks(version: Version) -> list[list[int]]:
    candidates = candidate_suites(version)
    return [candidates[i : i + CHUNK_SIZE] for i in range(0, len(candidates), CHUNK_SIZE)]


async def _first_offer(
    ep: _Endpoint, version: Version, *, features: bool = False
) -> ServerFlight | ProbeFailed:
    """The first hello of a version: its support probe and the start of its elimination."""
    try:
        return await _offer(ep, version, _chunks(version)[0], features=features)
    except ProbeFailed as exc:
        return exc


async def _measure_version(
    ep: _Endpoint, version: Version, first: ServerFlight | ProbeFailed | None = None
) -> _VersionOutcome:
    outcome = _VersionOutcome()
    chunks = _chunks(version)
    if first is None:
        first = await _first_offer(ep, version)
    if isinstance(first, ProbeFailed):
        outcome.failure = first
        return outcome
    outcome.answered = first.server_hello is not None or first.alert is not None
    if _declines_version(first, version):
        return outcome
    try:
        order = await _order_probe(ep, version, chunks, first)
        if order.client_order:
            # Order does not matter: spread the candidates over parallel elimination chains
            # (round-robin keeps the likely suites apart), as many as there are chunks.
            chains = _spread(version, len(chunks), exclude=order.found)
            results = [order.found, *await asyncio.gather(*(
                _eliminate(ep, version, chain, None) for chain in chains
            ))]  # fmt: skip
        else:
            results = await asyncio.gather(
                _eliminate(ep, version, chunks[0], first),
                *(_eliminate(ep, version, chunk, None) for chunk in chunks[1:]),
            )
    except ProbeFailed as exc:
        outcome.failure = exc
        return outcome
    outcome.per_chunk = [r for r in results if r]
    outcome.accepted = [s for r in results for s in r]
    if len(outcome.accepted) < 2:
        return outcome
    if order.client_order:
        outcome.preference = False
        return outcome
    try:
        if order.server_order and len(results[0]) >= 2:
            # The reversed first chunk drew the same pick although the chunk holds two
            # accepted suites: the server's order, measured already; only merging is left.
            outcome.preference, outcome.accepted = True, await _merged(ep, version, results)
        else:
            outcome.preference, outcome.accepted = await _server_order(
                ep, version, outcome.per_chunk
            )
    except ProbeFailed as exc:
        outcome.failure = exc  # the suites are known; only the order is not
    return outcome


@dataclass
class _OrderProbe:
    client_order: bool = False  # the reversed chunk drew another pick: the client's order
    server_order: bool = False  # it drew the same pick
    found: list[int] = field(default_factory=list)  # accepted suites both hellos revealed


async def _order_probe(
    ep: _Endpoint, version: Version, chunks: list[list[int]], first: ServerFlight
) -> _OrderProbe:
    """For versions with several chunks: offer the first chunk reversed. A client-order server
    then picks another suite, and elimination can run in parallel chains (on a network a
    version's chain of one hello per accepted suite is the scan's critical path); a
    server-order server picks the same one, and the later order check is saved."""
    probe = _OrderProbe()
    forward = _picked(first, version, chunks[0])
    if len(chunks) < 2 or forward is None:
        return probe
    reversed_offer = list(reversed(chunks[0]))
    flight = await _offer(ep, version, reversed_offer)
    backward = _picked(flight, version, reversed_offer)
    if backward is None or backward == forward:
        probe.server_order = backward is not None
        return probe
    _record_flight(ep, version, forward, first)
    _record_flight(ep, version, backward, flight)
    probe.client_order, probe.found = True, [forward, backward]
    return probe


def _spread(version: Version, count: int, *, exclude: Sequence[int]) -> list[list[int]]:
    candidates = [s for s in candidate_suites(version) if s not in exclude]
    return [candidates[i::count] for i in range(count)]


async def _server_order(
    ep: _Endpoint, version: Version, per_chunk: list[list[int]]
) -> tuple[bool | None, list[int]]:
    """Does the server enforce its own order? If so, return the accepted suites in that order."""
    found = [s for chunk in per_chunk for s in chunk]
    reversed_offer = list(reversed(found))
    flight = await _offer(ep, version, reversed_offer)
    choice = _picked(flight, version, reversed_offer)
    if choice is None:
        return None, found  # it declined suites it accepted before: cannot tell
    if choice == reversed_offer[0]:
        return False, found  # it took our first choice: client order
    return True, await _merged(ep, version, per_chunk)


async def _merged(ep: _Endpoint, version: Version, per_chunk: Sequence[list[int]]) -> list[int]:
    """Server order: each chunk's elimination order is already the server's; merge the chunks
    with two-suite hellos (only needed when accepted suites spread over several chunks)."""
    chunks = [c for c in per_chunk if c]
    merged = chunks[0] if chunks else []
    for chunk in chunks[1:]:
        merged = await _merge(ep, version, merged, chunk)
    return merged


async def _merge(ep: _Endpoint, version: Version, left: list[int], right: list[int]) -> list[int]:
    out: list[int] = []
    i = j = 0
    while i < len(left) and j < len(right):
        flight = await _offer(ep, version, [right[j], left[i]])
        if _picked(flight, version, [left[i], right[j]]) == right[j]:
            out.append(right[j])
            j += 1
        else:
            out.append(left[i])
            i += 1
    return out + left[i:] + right[j:]


# --- key-exchange groups ------------------------------------------------------------------
#
# What a server does with a hello that names groups but carries no key share (measured in
# tests/checks/test_tls_groups.py): OpenSSL 3.0 answers the TLS 1.3 HelloRetryRequest with the
# first group of *its own* list that the client offers, with or without -serverpref
# (SSL_OP_CIPHER_SERVER_PREFERENCE); in TLS 1.2 it takes the client's first curve unless
# -serverpref is set. So the order is measured per version, never assumed.

_Ask = Callable[[list[int]], Awaitable[int | None]]


@dataclass
class _GroupOutcome:
    found: list[int] = field(default_factory=list)  # in the order the server picked them
    preference: bool | None = None  # True: the server's order; False: the client's
    failure: ProbeFailed | None = None
    last: ServerFlight | None = None  # the answer that ended the elimination


async def _eliminate_groups(
    ask: _Ask, candidates: Sequence[int], *, expect_client_order: bool
) -> _GroupOutcome:
    """Offer every candidate, drop the group the server picks, offer the rest again.

    ``ask(offer)`` sends one hello and returns the group the server picked (None when it
    declined): one hello per accepted group plus the refused one. The server's order mostly
    comes free with them:

    * a server following the client's order picks groups in ``candidates`` order, so a pick
      that comes earlier in ``candidates`` than one picked before proves the server's own
      order (and the picks are that order). ``candidates`` is ordered unlike common server
      lists (secp256r1 before x25519, for one) so that this usually shows within two picks;
    * with ``expect_client_order``, while the picks still fit the client's order, the groups
      found so far are appended to each offer from the third on, newest first. A client-order
      server then picks from the rest while it accepts any, and else the newest found group:
      that answer ends the elimination in place of the refused hello. A server-order server
      picks its favourite, the first group found, costing one hello;
    * otherwise, when the picks fit both orders at the end, one more hello offers the found
      groups reversed: the server's order keeps the first, the client's takes the last.
    """
    rank = {g: i for i, g in enumerate(candidates)}
    remaining = list(candidates)
    out = _GroupOutcome()
    found = out.found
    order: bool | None = None
    settled = False  # the order is known, or the picks fit neither order: stop testing

    def judge(pick: int) -> bool | None:
        """An offer ended with found groups, newest first, was answered with ``pick``."""
        if pick == found[-1]:
            return False
        return True if pick == found[0] else None

    try:
        while True:
            testing = expect_client_order and not settled and len(found) >= 2
            offer = remaining + (found[::-1] if testing else [])
            if not offer:
                break
            pick = await ask(offer)
            if pick is None or pick not in offer:
                break
            if pick in remaining:
                if not settled and found and rank[pick] < rank[found[-1]]:
                    order, settled = True, True
                found.append(pick)
                remaining.remove(pick)
                continue
            # It preferred a group found before to the rest of the offer.
            order, settled = judge(pick), True
            if order is False:
                break  # the client's order, and nothing left in the offer that it accepts
        if not settled and len(found) >= 2:
            pick = await ask(found[::-1])
            order = None if pick is None else judge(pick)
    except ProbeFailed as exc:
        out.failure = exc
    out.preference = order if len(found) >= 2 else None
    return out


async def _group_offer(
    ep: _Endpoint, version: Version, suites: Sequence[int], groups: Sequence[int]
) -> ServerFlight:
    tls13 = version is Version.TLS1_3
    reader = ServerFlightReader(want_key_exchange=not tls13)
    try:
        await ep.send(ep.group_hello(version, suites, groups), reader)
    except ProbeFailed:
        flight = reader.result()
        if flight.server_hello is None or (not tls13 and flight.key_exchange is None):
            raise
        return flight  # what we needed arrived; a broken tail does not undo it
    return reader.result()


async def _groups_tls13(ep: _Endpoint, suites: Sequence[int]) -> _GroupOutcome:
    """TLS 1.3: a hello with an empty key_share list gets a HelloRetryRequest naming the group
    the server wants (RFC 8446 4.1.4, 4.2.8); no key is computed on either side."""
    last: list[ServerFlight] = []

    async def ask(offer: list[int]) -> int | None:
        flight = await _group_offer(ep, Version.TLS1_3, suites, offer)
        last[:] = [flight]
        hello = flight.server_hello
        if hello is None or hello.version != Version.TLS1_3:
            return None
        return hello.selected_group

    # HelloRetryRequests follow the server's list in OpenSSL (with or without -serverpref) and
    # in Go's crypto/tls: no bet on the client's order here.
    outcome = await _eliminate_groups(ask, TLS13_GROUP_CANDIDATES, expect_client_order=False)
    outcome.last = last[0] if last else None
    return outcome


async def _groups_tls12(
    ep: _Endpoint, version: Version, suites: Sequence[int], kind: str, candidates: Sequence[int]
) -> _GroupOutcome:
    """TLS 1.0-1.2: offer only the accepted suites of ``kind`` ("ECDHE" or "DHE") and read
    the group from the ServerKeyExchange: the named curve (RFC 8422 5.4), or the RFC 7919
    group whose prime the server sent (RFC 7919 4). OpenSSL picks curves by the client's
    order unless -serverpref is set, hence the bet on the client's order.

    Known gap: an ECDSA certificate's own curve must be in supported_groups too (RFC 8422
    5.1.1; OpenSSL checks it), so a server whose only ECDHE suites are ECDHE_ECDSA refuses as
    soon as that curve has been eliminated, and curves it would pick after it are not seen.
    Its ECDHE_RSA suites, when it has them, keep it answering."""
    last: list[ServerFlight] = []

    async def ask(offer: list[int]) -> int | None:
        flight = await _group_offer(ep, version, suites, offer)
        last[:] = [flight]
        hello, kx = flight.server_hello, flight.key_exchange
        if hello is None or hello.version != version or hello.cipher_suite not in suites:
            return None
        if kx is None or kx.kind != kind:
            return None
        if kind == "DHE":
            return None if kx.prime is None else ffdhe_group_for_prime(kx.prime)
        return kx.group  # None for an explicit curve: nothing to eliminate

    outcome = await _eliminate_groups(ask, candidates, expect_client_order=True)
    outcome.last = last[0] if last else None
    return outcome


def _suites_of_kind(accepted: Sequence[int], kind: str) -> list[int]:
    chosen = [s for s in accepted if s in SUITES and SUITES[s].kx == kind]
    return chosen[:MAX_CIPHER_SUITES]


@dataclass
class _GroupFacts:
    by_version: dict[str, tuple[str, ...]] = field(default_factory=dict)
    preference: dict[str, bool | None] = field(default_factory=dict)
    preferred: str | None = None
    post_quantum: bool | None = None
    incomplete: dict[str, str] = field(default_factory=dict)


def _names(groups: Sequence[int]) -> tuple[str, ...]:
    return tuple(group_name(g) for g in groups)


def _declined(flight: ServerFlight | None) -> str:
    """Why the first group hello found nothing, for ``incomplete``."""
    if flight is None:
        return "no answer"
    if flight.alert is not None:
        return f"alert {flight.alert.name}"
    if flight.server_hello is not None:
        return "its answer named no group that was offered"
    return "the connection closed without an answer"


async def _measure_groups(ep: _Endpoint, accepted: dict[Version, list[int]]) -> _GroupFacts:
    """The groups of TLS 1.3 and of the newest older version the server accepts."""
    out = _GroupFacts()
    jobs: dict[str, Awaitable[_GroupOutcome]] = {}
    if accepted.get(Version.TLS1_3):
        jobs["TLSv1.3"] = _groups_tls13(ep, accepted[Version.TLS1_3][:MAX_CIPHER_SUITES])
    legacy = next(
        (v for v in (Version.TLS1_2, Version.TLS1_1, Version.TLS1_0) if accepted.get(v)), None
    )
    legacy_label = VERSION_LABEL[legacy] if legacy is not None else ""
    if legacy is not None:
        ecdhe = _suites_of_kind(accepted[legacy], "ECDHE")
        dhe = _suites_of_kind(accepted[legacy], "DHE")
        if ecdhe:
            jobs["ECDHE"] = _groups_tls12(ep, legacy, ecdhe, "ECDHE", TLS12_GROUP_CANDIDATES)
        # RFC 7919 in TLS 1.2 is rare (OpenSSL ignores it and sends its own prime): only ask
        # when a DHE prime seen during the suite probes (which offered every ffdhe group) was
        # an RFC 7919 one. Anything else means the server picks its prime without us.
        if dhe and any(ffdhe_group_for_prime(p) for p in ep.dh_primes.values()):
            jobs["FFDHE"] = _groups_tls12(ep, legacy, dhe, "DHE", FFDHE_GROUPS[::-1])
    results = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))

    tls13 = results.get("TLSv1.3")
    if tls13 is not None:
        out.by_version["TLSv1.3"] = _names(tls13.found)
        out.preference["TLSv1.3"] = tls13.preference
        if tls13.failure is not None:
            out.incomplete["TLSv1.3 groups"] = (
                f"{tls13.failure.reason.value}: {tls13.failure.message}"
            )
        elif not tls13.found:
            why = _declined(tls13.last)
            out.incomplete["TLSv1.3 groups"] = (
                f"no HelloRetryRequest to a hello without key shares ({why})"
            )
        if tls13.found:
            out.preferred = group_name(tls13.found[0])
            out.post_quantum = is_post_quantum(tls13.found[0])
    if legacy is not None:
        ecdhe_out, ffdhe_out = results.get("ECDHE"), results.get("FFDHE")
        found = [*(ecdhe_out.found if ecdhe_out else []), *(ffdhe_out.found if ffdhe_out else [])]
        out.by_version[legacy_label] = _names(found)
        first = ecdhe_out if ecdhe_out and ecdhe_out.found else ffdhe_out
        out.preference[legacy_label] = first.preference if first else None
        for part in (ecdhe_out, ffdhe_out):
            if part is not None and part.failure is not None:
                reason = part.failure
                out.incomplete[f"{legacy_label} groups"] = (
                    f"{reason.reason.value}: {reason.message}"
                )
        if ecdhe_out is not None and not ecdhe_out.found and ecdhe_out.failure is None:
            why = _declined(ecdhe_out.last)
            out.incomplete[f"{legacy_label} groups"] = (
                f"no ECDHE answer to a hello offering every curve ({why})"
            )
        if out.preferred is None and found:
            out.preferred = group_name(found[0])
    return out


def _dh_common_prime(ep: _Endpoint) -> str | None:
    """The well-known name of the smallest DHE prime the server used (the one that decides
    its DH strength), or None when that prime is its own or no DHE suite was seen."""
    if not ep.dh_primes:
        return None
    smallest = min(ep.dh_primes.values(), key=lambda p: (len(p), p))
    return common_prime_name(smallest)


# --- optional features: renegotiation indication, EMS, ETM, tickets, OCSP, compression, ALPN

_ALPN_OFFER = (b"h2", b"http/1.1")


def _features_of(flight: ServerFlight | ProbeFailed | None) -> ServerHelloFeatures | str:
    """The features a TLS 1.0-1.2 answer announces, or why there are none."""
    if flight is None:
        return "no answer"
    if isinstance(flight, ProbeFailed):
        return f"{flight.reason.value}: {flight.message}"
    hello = flight.server_hello
    if hello is None:
        return f"alert {flight.alert.name}" if flight.alert is not None else "no ServerHello"
    try:
        return server_hello_features(flight)
    except DecodeError as exc:
        return f"bad ServerHello extensions: {exc}"


def _cbc(suite: int) -> bool:
    info = SUITES.get(suite)
    return info is not None and info.block_bits is not None and not info.aead


def _encrypt_then_mac(*answers: ServerHelloFeatures | str) -> bool | None:
    """RFC 7366 3: a server never echoes encrypt_then_mac with an AEAD or stream suite, so
    only an answer that chose a CBC suite tells; None when none did."""
    cbc = [a for a in answers if isinstance(a, ServerHelloFeatures) and _cbc(a.cipher_suite)]
    return any(a.encrypt_then_mac for a in cbc) if cbc else None


async def _measure_extensions(
    ep: _Endpoint, opener: ServerFlight | ProbeFailed | None, accepted: dict[Version, list[int]]
) -> tuple[TlsExtensionFacts | None, str | None]:
    """Optional TLS 1.0-1.2 features, at the cost of one hello.

    The TLS 1.2 opener already offered the empty renegotiation_info, extended_master_secret,
    encrypt_then_mac and SessionTicket extensions and an OCSP status_request; its ServerHello
    echoes those the server supports (RFC 5746 3.6, RFC 7627 5.2, RFC 7366 2, RFC 5077 3.2,
    RFC 6066 8) and a stapled OCSP response follows in CertificateStatus. One more hello, at
    the newest TLS 1.0-1.2 version with suites the server accepted (its CBC suites when it has
    any, for encrypt_then_mac), offers the same extensions but SessionTicket (a server that
    issues a ticket may leave the session ID empty, RFC 5077 3.4) and DEFLATE before null
    compression (RFC 3749), ALPN h2 and http/1.1 (RFC 7301 3.1) and the renegotiation SCSV in
    place of the extension (RFC 5746 3.3): compression is never offered in the hellos that
    measure suites, and a server may refuse hellos whose ALPN list it does not share.

    Not measured here: whether a session actually resumes (needs a full handshake; sslyze's
    session_resumption in a later --deep slice), 0-RTT (needs a resumed TLS 1.3 session), and
    anything TLS 1.3 sends encrypted (ALPN in EncryptedExtensions, OCSP in the Certificate
    entries): a TLS 1.3-only server gets None.
    """
    legacy = next(
        (v for v in (Version.TLS1_2, Version.TLS1_1, Version.TLS1_0) if accepted.get(v)), None
    )
    if legacy is None:
        return None, None
    problems: list[str] = []
    first = _features_of(opener)
    if isinstance(first, ServerHelloFeatures) and first.version != legacy:
        first = f"the opener was answered with {version_label(first.version)}"
    if isinstance(first, str):
        problems.append(f"feature hello: {first}")

    # RFC 7366 3: encrypt_then_mac is only echoed with a CBC suite, so offer those when any.
    offer = [s for s in accepted[legacy] if _cbc(s)] or accepted[legacy]
    suites = [*offer[: MAX_CIPHER_SUITES - 1], TLS_EMPTY_RENEGOTIATION_INFO_SCSV]
    request = build_client_hello(
        version=legacy,
        cipher_suites=suites,
        server_name=ep.target.server_name,
        random=ep.ctx.random_bytes(32),
        compression_methods=(COMPRESSION_DEFLATE, COMPRESSION_NULL),
        renegotiation_info=False,
        extended_master_secret=True,
        encrypt_then_mac=True,
        session_ticket=False,  # so that a server that can cache by session ID names one
        status_request=True,
        alpn_protocols=_ALPN_OFFER,
    )
    reader = ServerFlightReader(want_certificate=True)
    failure: ProbeFailed | None = None
    try:
        await ep.send(request, reader)
    except ProbeFailed as exc:
        failure = exc  # a broken tail after the ServerHello does not undo what it said
    flight = reader.result()
    second = _features_of(flight if flight.server_hello is not None or not failure else failure)
    if isinstance(second, ServerHelloFeatures) and second.version != legacy:
        second = f"answered with {version_label(second.version)}"
    if isinstance(second, str):
        problems.append(f"compression/ALPN hello: {second}")

    # The opener's answer is the reference; the second hello offered the same extensions and
    # stands in for it when the opener told nothing.
    base = first if isinstance(first, ServerHelloFeatures) else second
    if not isinstance(base, ServerHelloFeatures):
        return None, "; ".join(problems)
    extra = second if isinstance(second, ServerHelloFeatures) else None
    facts = TlsExtensionFacts(
        version=VERSION_LABEL[legacy],
        secure_renegotiation=(
            first.renegotiation_info is not None if isinstance(first, ServerHelloFeatures) else None
        ),
        secure_renegotiation_scsv=None if extra is None else extra.renegotiation_info is not None,
        extended_master_secret=base.extended_master_secret,
        encrypt_then_mac=_encrypt_then_mac(first, second),
        session_tickets=(first.session_ticket if isinstance(first, ServerHelloFeatures) else None),
        session_id=None if extra is None else extra.session_id_length > 0,
        ocsp_stapling=base.ocsp_response is not None,
        compression=None if extra is None else compression_name(extra.compression_method),
        alpn=(
            None
            if extra is None or extra.alpn is None
            else extra.alpn.decode("ascii", "backslashreplace")
        ),
    )
    return facts, "; ".join(problems) or None


async def _measure_sslv2(ep: _Endpoint) -> tuple[list[str], ProbeFailed | None]:
    reader = Ssl2ServerHelloReader()
    request = build_sslv2_client_hello(
        cipher_specs=list(SSL2_CIPHERS), challenge=ep.ctx.random_bytes(16)
    )
    try:
        await ep.send(request, reader)
    except ProbeFailed as exc:
        # Servers without SSLv2 often just close or send a TLS alert; only a missing answer
        # to every version makes that an error for the target.
        if exc.reason in (ErrorReason.NOT_TLS, ErrorReason.PROTOCOL_ERROR, ErrorReason.RESET):
            return [], None
        return [], exc
    result = reader.result()
    if result.server_hello is None:
        return [], None
    hello = result.server_hello
    if hello.certificate:
        ep.note_chain([hello.certificate], "SSLv2")
    return [SSL2_CIPHERS.get(c, f"SSL2_0x{c:06X}") for c in hello.cipher_specs], None


async def _tls13_certificate(ep: _Endpoint) -> str | None:
    from probe.net.full_handshake import FullHandshakeError, fetch_chain

    ep.connections += 1
    try:
        async with ep.ctx.limits.slot(ep.address, ep.target.port):
            result = await fetch_chain(
                ep.address,
                ep.target.port,
                server_name=ep.target.server_name,
                timeout=ep.ctx.options.timeout,
                tls13_only=True,
                starttls=ep.starttls,
            )
    except FullHandshakeError as exc:
        return f"TLS 1.3 certificate: {exc.reason}: {exc.message}"
    ep.note_chain(result.chain_der, "TLSv1.3")
    return None


async def _certificate_facts(ep: _Endpoint) -> tuple[CertificateFacts, ...]:
    from probe.codecs.x509 import CertificateDecodeError, certificate_facts
    from probe.trust import ChainTrust, TrustStoreError, assess_chain

    now = ep.ctx.now()
    name = ep.target.server_name or ep.target.host
    facts = []
    for chain, how in ep.chains.values():
        try:
            # Every store's verdict (system, sslyze's public stores, --ca-file): issue 6.
            trust = await asyncio.to_thread(
                assess_chain, chain, now=now, ca_file=ep.ctx.options.ca_file
            )
        except TrustStoreError as exc:
            trust = ChainTrust(False, f"trust store unusable: {exc}", {}, complete=False)
        try:
            facts.append(
                certificate_facts(
                    chain,
                    server_name=name,
                    now=now,
                    trusted=trust.trusted,
                    trust_error=trust.trust_error,
                    served_with=tuple(sorted(how)),
                    trust_stores=trust.stores,
                    chain_complete=trust.complete if trust.stores else None,
                )
            )
        except CertificateDecodeError:
            continue  # an unparsable certificate is noted by the caller via incomplete
    return tuple(facts)


async def _with_https_enforcement(ep: _Endpoint, facts: TlsFacts) -> TlsFacts:
    """HTTPS targets only: HSTS and the plain-HTTP side (probe.checks.https), added to facts."""
    if not ep.target.expects_https:
        return facts  # before the import: the HTTP codecs are not needed here
    from dataclasses import replace

    from probe.checks.https import measure

    https = await measure(ep.target, ep.address, ep.ctx)
    if https is None:
        return facts
    return replace(
        facts,
        connections=facts.connections + https.connections,
        incomplete={**facts.incomplete, **https.incomplete},
        https_status=https.https_status,
        hsts=https.hsts,
        hsts_header=https.hsts_header,
        hsts_problem=https.hsts_problem,
        http_plain=https.http_plain,
        http_redirects_to_https=https.http_redirects_to_https,
        http_location=https.http_location,
    )


async def _with_deep_checks(ep: _Endpoint, facts: TlsFacts) -> TlsFacts:
    """--deep: sslyze's attack-handshake verdicts (probe.checks.tls_deep), added to facts.
    sslyze's connections are its own and not counted in ``connections``."""
    from dataclasses import replace

    from probe.checks.tls_deep import measure

    deep = await measure(ep.target, ep.address, ep.ctx)
    return replace(
        facts,
        incomplete={**facts.incomplete, **deep.incomplete},
        deep_vulnerabilities=deep.verdicts,
        resumption=deep.resumption,
    )


async def run(target: Target, ctx: CheckContext) -> TargetResult:
    """Measure one TLS endpoint. Never raises: problems become the result's status."""
    started = time.monotonic()
    try:
        address = await resolve(target.host, target.port, ctx.options.timeout)
    except TransportError as exc:
        return error_result(target, exc.reason, exc.message, started)
    ep = _Endpoint(target=target, address=address, ctx=ctx, starttls=starttls_protocol(target))

    # Reachability first, with hellos that also start their versions' elimination: TLS 1.2,
    # and TLS 1.0 for legacy servers that hang on modern hellos. When neither gets through,
    # the other versions would only wait out the same timeout (and hold per-host slots).
    openers = (Version.TLS1_2, Version.TLS1_0)
    # The TLS 1.2 opener also offers the feature extensions: whatever TLS 1.0-1.2 version the
    # server answers it with, its ServerHello echoes them (``_measure_extensions``).
    opened = await asyncio.gather(
        *(_first_offer(ep, v, features=v is Version.TLS1_2) for v in openers)
    )
    firsts = dict(zip(openers, opened, strict=True))
    failures = [f for f in firsts.values() if isinstance(f, ProbeFailed)]
    if len(failures) == len(openers) and all(f.reason in _NO_ROUTE for f in failures):
        worst = min(failures, key=lambda f: _REASON_RANK.index(f.reason))
        return error_result(target, worst.reason, worst.message, started)
    if ep.starttls is not None and not ep.upgraded:
        return _without_starttls(ep, failures, started)

    sslv2_task = asyncio.ensure_future(_measure_sslv2(ep))
    outcomes = await asyncio.gather(*(_measure_version(ep, v, firsts.get(v)) for v in TLS_VERSIONS))
    sslv2_suites, sslv2_failure = await sslv2_task

    by_label = {VERSION_LABEL[v]: o for v, o in zip(TLS_VERSIONS, outcomes, strict=True)}
    versions: dict[str, bool] = {"SSLv2": bool(sslv2_suites)}
    suites: dict[str, tuple[str, ...]] = {}
    preference: dict[str, bool | None] = {}
    incomplete: dict[str, str] = {}
    if sslv2_suites:
        suites["SSLv2"] = tuple(sslv2_suites)
    if sslv2_failure is not None:
        incomplete["SSLv2"] = f"{sslv2_failure.reason.value}: {sslv2_failure.message}"
    for label, outcome in by_label.items():
        versions[label] = bool(outcome.accepted)
        if outcome.accepted:
            suites[label] = tuple(
                SUITES[s].name if s in SUITES else f"0x{s:04X}" for s in outcome.accepted
            )
            preference[label] = outcome.preference if len(outcome.accepted) >= 2 else None
        if outcome.failure is not None:
            incomplete[label] = f"{outcome.failure.reason.value}: {outcome.failure.message}"

    if not any(versions.values()):
        failures = [o.failure for o in outcomes if o.failure] + (
            [sslv2_failure] if sslv2_failure else []
        )
        answered = any(o.answered for o in outcomes)
        if failures and not answered:
            worst = min(
                failures,
                key=lambda f: _REASON_RANK.index(f.reason) if f.reason in _REASON_RANK else 99,
            )
            return error_result(target, worst.reason, worst.message, started)
        if not answered:
            # Every hello was met by a bare close: nothing says this is a TLS server at all.
            message = "the server closed every connection without a TLS answer"
            return error_result(target, ErrorReason.PROTOCOL_ERROR, message, started)

    accepted = {v: o.accepted for v, o in zip(TLS_VERSIONS, outcomes, strict=True)}
    # The groups and a TLS 1.3-only server's certificate are independent: measure together.
    groups_task = (
        asyncio.ensure_future(_measure_groups(ep, accepted)) if ctx.options.tls_groups else None
    )
    try:
        if versions["TLSv1.3"] and not ep.chains:
            problem = await _tls13_certificate(ep)
            if problem:
                incomplete["certificate"] = problem
    finally:
        groups = await groups_task if groups_task is not None else _GroupFacts()
    incomplete.update(groups.incomplete)
    # After the groups (whose hellos are counted on their own), beside the chain checks.
    (extensions, extensions_problem), certificates = await asyncio.gather(
        _measure_extensions(ep, firsts[Version.TLS1_2], accepted), _certificate_facts(ep)
    )
    if extensions_problem is not None:
        incomplete["extensions"] = extensions_problem
    if len(certificates) < len(ep.chains):
        incomplete["certificate"] = "a served certificate could not be parsed"

    facts = TlsFacts(
        versions=versions,
        cipher_suites=suites,
        server_preference=preference,
        certificates=certificates,
        key_exchange=dict(ep.key_exchange),
        connections=ep.connections,
        incomplete=incomplete,
        groups=groups.by_version,
        groups_server_preference=groups.preference,
        preferred_group=groups.preferred,
        prefers_post_quantum=groups.post_quantum,
        dh_common_prime=_dh_common_prime(ep),
        extensions=extensions,
    )
    facts = await _with_https_enforcement(ep, facts)
    if ctx.options.deep:
        facts = await _with_deep_checks(ep, facts)
    return TargetResult(
        target=target,
        status=Status.COMPLETED,
        error=None,
        tls=facts,
        duration_seconds=time.monotonic() - started,
        starttls=_starttls_facts(ep),
    )


def starttls_protocol(target: Target) -> str | None:
    """The STARTTLS dialog a target's scheme asks for (smtp://, imap://, ...), if any."""
    return target.scheme if target.scheme in STARTTLS_PROTOCOLS else None


def _starttls_facts(ep: _Endpoint) -> StartTlsFacts | None:
    outcome = ep.starttls_outcome
    if ep.starttls is None or outcome is None:
        return None
    protocol = "smtp" if ep.starttls == "submission" else ep.starttls
    return StartTlsFacts(
        protocol=protocol,
        offered=outcome.upgraded,
        advertised=outcome.advertised,
        reply=outcome.reply,
    )


def _without_starttls(ep: _Endpoint, failures: list[ProbeFailed], started: float) -> TargetResult:
    """A STARTTLS target whose openers never got to TLS: plaintext only (a completed result
    the profile judges), or an error when the dialog itself failed."""
    facts = _starttls_facts(ep)
    if facts is not None:  # the server answered the upgrade command, and said no
        return TargetResult(
            target=ep.target,
            status=Status.COMPLETED,
            error=None,
            tls=None,
            duration_seconds=time.monotonic() - started,
            starttls=facts,
        )
    worst = min(
        failures,
        key=lambda f: _REASON_RANK.index(f.reason) if f.reason in _REASON_RANK else 99,
    )
    return error_result(ep.target, worst.reason, worst.message, started)
