"""The TLS check: protocol versions, accepted cipher suites, server order and certificates.

Facts only; profiles judge them. How it keeps the connection count low:

* Every version is measured with raw hellos built by the codec, so the answer never depends
  on the local OpenSSL build. We read only up to ServerHelloDone and never finish a handshake.
* Suites are found by elimination (offer a chunk, note the suite the server picks, offer the
  rest again) in chunks of at most 128 suites, the size intolerant servers still accept
  (testssl.sh ``run_allciphers``). The codec orders candidates so the suites real servers
  accept fall in the first chunk. A version costs (accepted + chunks) hellos; the first hello
  of a version doubles as its support probe, and a protocol_version alert ends it at once.
* Server order: if the server enforces its own order, elimination already reveals it. One
  more hello offering the accepted suites reversed tells whether it does.
* Certificates up to TLS 1.2 arrive in the clear in the same flights. Only a TLS 1.3-only
  server needs one full handshake (pyOpenSSL) to see its certificate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from probe.checks.context import CheckContext, ProbeFailed, error_result
from probe.codecs.errors import DecodeError, NotTlsError
from probe.codecs.tls.constants import VERSION_LABEL, AlertDescription, Version
from probe.codecs.tls.flight import (
    ServerFlight,
    ServerFlightReader,
    Ssl2ServerHelloReader,
)
from probe.codecs.tls.hello import build_client_hello, build_sslv2_client_hello
from probe.codecs.tls.suites import SSL2_CIPHERS, SUITES, candidate_suites
from probe.model import (
    CertificateFacts,
    ErrorReason,
    KeyExchangeParams,
    Status,
    Target,
    TargetResult,
    TlsFacts,
)
from probe.net.stream import Timeouts, TransportError, exchange, resolve

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
                    await exchange(
                        self.address,
                        self.target.port,
                        request,
                        counting,
                        timeouts=self.timeouts,
                        on_connect=self._count,
                    )
                return
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

    def hello(self, version: Version, suites: Sequence[int]) -> bytes:
        return build_client_hello(
            version=version,
            cipher_suites=suites,
            server_name=self.target.server_name,
            random=self.ctx.random_bytes(32),
            x25519_key_share=self.ctx.random_bytes(32) if version is Version.TLS1_3 else None,
        )

    def note_chain(self, chain: Sequence[bytes], how: str) -> None:
        if not chain:
            return
        leaf = chain[0]
        if leaf not in self.chains:
            self.chains[leaf] = (tuple(chain), set())
        self.chains[leaf][1].add(how)


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


async def _offer(ep: _Endpoint, version: Version, suites: Sequence[int]) -> ServerFlight:
    reader = ServerFlightReader(want_certificate=True, want_key_exchange=True)
    try:
        await ep.send(ep.hello(version, suites), reader)
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
        ep.key_exchange[name] = KeyExchangeParams(kind=kx.kind, group=kx.group_name, bits=kx.bits)
    hello = flight.server_hello
    if version is Version.TLS1_3 and hello is not None and hello.selected_group is not None:
        from probe.codecs.tls.constants import GROUP_BITS, GROUP_NAMES

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


async def _first_offer(ep: _Endpoint, version: Version) -> ServerFlight | ProbeFailed:
    """The first hello of a version: its support probe and the start of its elimination."""
    try:
        return await _offer(ep, version, _chunks(version)[0])
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
        results = await asyncio.gather(
            _eliminate(ep, version, chunks[0], first),
            *(_eliminate(ep, version, chunk, None) for chunk in chunks[1:]),
        )
    except ProbeFailed as exc:
        outcome.failure = exc
        return outcome
    outcome.per_chunk = [r for r in results if r]
    outcome.accepted = [s for r in results for s in r]
    if len(outcome.accepted) >= 2:
        try:
            outcome.preference, order = await _server_order(ep, version, outcome.per_chunk)
            outcome.accepted = order
        except ProbeFailed as exc:
            outcome.failure = exc  # the suites are known; only the order is not
    return outcome


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
    # Server order. Each chunk's elimination order is already the server's; merge the chunks
    # with two-suite hellos (only needed when accepted suites spread over several chunks).
    merged = per_chunk[0]
    for chunk in per_chunk[1:]:
        merged = await _merge(ep, version, merged, chunk)
    return True, merged


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
            )
    except FullHandshakeError as exc:
        return f"TLS 1.3 certificate: {exc.reason}: {exc.message}"
    ep.note_chain(result.chain_der, "TLSv1.3")
    return None


async def _certificate_facts(ep: _Endpoint) -> tuple[CertificateFacts, ...]:
    from probe.codecs.x509 import CertificateDecodeError, certificate_facts
    from probe.trust import TrustStoreError, verify_chain

    now = ep.ctx.now()
    name = ep.target.server_name or ep.target.host
    facts = []
    for chain, how in ep.chains.values():
        try:
            trusted, why = await asyncio.to_thread(
                verify_chain, chain, now=now, ca_file=ep.ctx.options.ca_file
            )
        except TrustStoreError as exc:
            trusted, why = False, f"trust store unusable: {exc}"
        try:
            facts.append(
                certificate_facts(
                    chain,
                    server_name=name,
                    now=now,
                    trusted=trusted,
                    trust_error=why,
                    served_with=tuple(sorted(how)),
                )
            )
        except CertificateDecodeError:
            continue  # an unparsable certificate is noted by the caller via incomplete
    return tuple(facts)


async def run(target: Target, ctx: CheckContext) -> TargetResult:
    """Measure one TLS endpoint. Never raises: problems become the result's status."""
    started = time.monotonic()
    try:
        address = await resolve(target.host, target.port, ctx.options.timeout)
    except TransportError as exc:
        return error_result(target, exc.reason, exc.message, started)
    ep = _Endpoint(target=target, address=address, ctx=ctx)

    # Reachability first, with hellos that also start their versions' elimination: TLS 1.2,
    # and TLS 1.0 for legacy servers that hang on modern hellos. When neither gets through,
    # the other versions would only wait out the same timeout (and hold per-host slots).
    openers = (Version.TLS1_2, Version.TLS1_0)
    opened = await asyncio.gather(*(_first_offer(ep, v) for v in openers))
    firsts = dict(zip(openers, opened, strict=True))
    failures = [f for f in firsts.values() if isinstance(f, ProbeFailed)]
    if len(failures) == len(openers) and all(f.reason in _NO_ROUTE for f in failures):
        worst = min(failures, key=lambda f: _REASON_RANK.index(f.reason))
        return error_result(target, worst.reason, worst.message, started)

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

    if versions["TLSv1.3"] and not ep.chains:
        problem = await _tls13_certificate(ep)
        if problem:
            incomplete["certificate"] = problem
    certificates = await _certificate_facts(ep)
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
    )
    return TargetResult(
        target=target,
        status=Status.COMPLETED,
        error=None,
        tls=facts,
        duration_seconds=time.monotonic() - started,
    )
