"""Offline capture analysis: capture files in, facts out (issue 5).

For each capture, :class:`Analyzer` reads the file in chunks (gzip-compressed captures are
detected by their magic ``1f 8b`` and inflated as a stream), feeds
:class:`~probe.codecs.pcap.CaptureReader`, decodes each frame
(:func:`~probe.codecs.packet.decode`) and accounts it in one
:class:`~probe.pcap.flows.FlowTable` shared by all the captures (several files are usually one
capture cut in pieces). Flows the table evicts are analysed as soon as they leave it, so memory
stays bounded by the table's limits plus the small facts kept per flow. Each flow is classified
(:func:`~probe.pcap.classify.classify`) and scanned for credentials and secrets
(:func:`~probe.pcap.credentials.scan_flow`).

This module states facts only (what was seen, how much of it, what could not be read); the
profile's rules (:mod:`probe.grading.pcap_rules`) judge them. Reading the files it is given is
its only I/O. A damaged, truncated or random capture never raises: the damage is recorded in
:attr:`CaptureInfo.damage` and whatever could be read is analysed.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from probe.codecs.errors import DecodeError
from probe.codecs.packet import IPPROTO_TCP, IPPROTO_UDP, decode_fields, is_macsec
from probe.codecs.pcap import CaptureReader, Damage
from probe.pcap.certificate import LeafCertificate, leaf_certificate
from probe.pcap.classify import Classification, classify
from probe.pcap.credentials import scan_flow
from probe.pcap.flows import Flow, FlowTable
from probe.pcap.fragments import FragmentStats, Reassembler
from probe.pcap.redact import Secret, revealing
from probe.pcap.starttls import StartTls

__all__ = [
    "Analysis",
    "Analyzer",
    "CaptureInfo",
    "FlowFacts",
    "FlowRef",
    "Ignored",
    "ProtocolTotals",
    "SecretFound",
    "Summary",
    "analyze",
    "unreadable",
]

CHUNK = 1 << 20  # bytes read from a file at a time
MAX_INFLATE = 4 << 20  # bytes taken out of a gzip stream per step: a gzip bomb stays bounded
MAX_SECRETS = 10_000  # distinct secrets kept; more are counted in Summary.secrets_dropped
MAX_DETAIL = 255  # characters kept of a classification fact (SNI, banners come off the wire)
MAX_HOSTS = 8  # HTTP Host values kept per flow
_GZIP_MAGIC = b"\x1f\x8b"
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_PCAP_MAGICS = frozenset(
    {b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1"}
)
# RFC 9110 7.2: the Host header field of a request; the port is not part of the name.
_HOST = re.compile(rb"(?im)^Host:[ \t]*([^\r\n]{1,300}?)[ \t]*\r?$")


def _clean(value: str, limit: int = MAX_DETAIL) -> str:
    """A value read off the wire as kept in facts: no control or format characters (terminal
    escapes, bidi overrides), at most ``limit`` characters."""
    if value.isprintable():  # no character of categories C* or Z* other than the space
        return value[:limit]
    kept = "".join(c for c in value if unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    return kept[:limit]


# --- facts -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlowRef:
    """Where a finding was seen: the flow's client and server endpoints."""

    src: str
    sport: int
    dst: str
    dport: int


@dataclass(frozen=True, slots=True)
class FlowFacts:
    """One flow as seen: the client (``src``) sent the first SYN, else the first packet.

    ``encrypted`` is None when the protocol was not recognised. ``bytes_*`` count transport
    payload bytes as captured, retransmissions included. The TLS fields come from the
    handshake in the clear (``tls_version`` and ``tls_cipher_suite`` are the server's choice,
    None when its ServerHello was not captured). ``detail`` holds every short fact the
    classifier found (e.g. ``client_version``, ``offered_versions``, ``server_banner``).
    ``handshake_seen`` is False for a TCP flow captured mid-stream; ``gaps`` counts
    out-of-order bytes the reassembly could not keep."""

    src: str
    sport: int
    dst: str
    dport: int
    transport: str
    protocol: str
    encrypted: bool | None
    packets: int
    packets_to_server: int
    packets_to_client: int
    bytes_to_server: int
    bytes_to_client: int
    first_ns: int
    last_ns: int
    handshake_seen: bool
    closed: bool
    gaps: int
    tls_version: str | None
    tls_cipher_suite: str | None
    sni: str | None
    starttls: StartTls | None  # the upgrade facts of SMTP, IMAP, ... flows (probe.pcap.starttls)
    http_hosts: tuple[str, ...]
    detail: Mapping[str, str] = field(default_factory=dict, hash=False)
    ja3: str | None = None  # TLS client fingerprints of the ClientHello (probe.pcap.fingerprint)
    ja4: str | None = None
    ja3s: str | None = None  # of the ServerHello
    certificate: LeafCertificate | None = None  # the server's leaf, in the clear up to TLS 1.2

    @property
    def bytes(self) -> int:
        return self.bytes_to_server + self.bytes_to_client

    @property
    def ref(self) -> FlowRef:
        return FlowRef(self.src, self.sport, self.dst, self.dport)


@dataclass(frozen=True, slots=True)
class SecretFound:
    """A credential or secret (redacted by :mod:`probe.pcap.redact`) and the first flow that
    carried it; ``count`` is how many times the same value went the same way to the same
    server (a token repeated on every request is one secret)."""

    secret: Secret
    flow: FlowRef
    count: int
    # Raw values by fingerprint (the secret's and its detail's), only under --show-secrets.
    raw: Mapping[str, str] | None = field(default=None, hash=False)


@dataclass(frozen=True, slots=True)
class CaptureInfo:
    """One capture file: its format (``pcap``, ``pcapng`` or ``unknown``), ``compression``
    (``gzip`` or None), bytes read from disk, frames read, link types seen, and every
    :class:`~probe.codecs.pcap.Damage` (offsets count bytes after decompression).
    ``complete`` is False when the analysis was interrupted while reading it."""

    name: str
    format: str
    compression: str | None
    size: int
    packets: int
    link_types: tuple[int, ...]
    damage: tuple[Damage, ...]
    complete: bool


@dataclass(frozen=True, slots=True)
class Ignored:
    """Packets read but not put in a flow: frames that are not IP (ARP, LLC, unsupported link
    types), IP fragments that did not end up in a reassembled datagram (dropped, duplicated or
    never completed: see :class:`~probe.pcap.fragments.FragmentStats`), IP packets (or
    reassembled datagrams) that are neither TCP nor UDP (ICMP,
    ESP, ...), and frames whose headers are malformed."""

    not_ip: int = 0
    fragments: int = 0
    not_tcp_udp: int = 0
    malformed: int = 0

    @property
    def total(self) -> int:
        return self.not_ip + self.fragments + self.not_tcp_udp + self.malformed


@dataclass(frozen=True, slots=True)
class ProtocolTotals:
    protocol: str
    encrypted: bool | None
    flows: int
    packets: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Summary:
    """Totals over every capture. ``bytes`` is the transport payload of every flow, split into
    ``encrypted_bytes``, ``cleartext_bytes`` and ``unknown_bytes`` by the flows' protocol.
    ``by_protocol`` is ordered by bytes, largest first."""

    captures: int
    packets: int
    flows: int
    bytes: int
    encrypted_bytes: int
    cleartext_bytes: int
    unknown_bytes: int
    by_protocol: tuple[ProtocolTotals, ...]
    ignored: Ignored
    first_ns: int | None
    last_ns: int | None
    secrets: int
    secrets_dropped: int
    damaged_captures: int
    fragments: FragmentStats = field(default_factory=FragmentStats)

    @property
    def encrypted_share(self) -> float | None:
        return self.encrypted_bytes / self.bytes if self.bytes else None


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything seen in the captures: flows in order of first packet, secrets in the order
    found, and the totals. ``interrupted`` is True when reading stopped early (Ctrl-C)."""

    captures: tuple[CaptureInfo, ...]
    flows: tuple[FlowFacts, ...]
    secrets: tuple[SecretFound, ...]
    summary: Summary
    interrupted: bool = False
    secrets_shown: bool = False  # raw values kept (--show-secrets): SecretFound.raw is set


# --- reading -----------------------------------------------------------------------------


def unreadable(paths: Sequence[str]) -> list[tuple[str, str]]:
    """(path, reason) for every path that cannot be opened for reading as a file."""
    problems = []
    for name in paths:
        path = Path(name)
        try:
            if path.is_dir():
                problems.append((name, "is a directory"))
                continue
            with open(path, "rb"):
                pass
        except OSError as exc:
            problems.append((name, exc.strerror or str(exc)))
    return problems


def _inflate(first: bytes, rest: Iterator[bytes], damage: list[Damage]) -> Iterator[bytes]:
    """Decompress a gzip stream (RFC 1952) of one or more members, in bounded pieces. Bad or
    truncated gzip data ends the stream with a Damage entry (its offset counts bytes out)."""
    inflater = zlib.decompressobj(wbits=31)
    pending = first
    out = 0
    while True:
        if not pending:
            pending = next(rest, b"")
            if not pending:
                if not inflater.eof and (out or inflater.unconsumed_tail):
                    damage.append(Damage(out, "truncated gzip stream"))
                return
        try:
            piece = inflater.decompress(pending, MAX_INFLATE)
        except zlib.error as exc:
            damage.append(Damage(out, f"bad gzip data: {exc}"))
            return
        out += len(piece)
        if piece:
            yield piece
        pending = inflater.unconsumed_tail
        if inflater.eof:
            # RFC 1952 2.2: members may follow one another; anything else is trailing junk.
            tail = inflater.unused_data
            if not tail:
                tail = next(rest, b"")
                if not tail:
                    return
            if tail[:2] != _GZIP_MAGIC:
                if tail.strip(b"\x00"):
                    damage.append(Damage(out, "data after the end of the gzip stream"))
                return
            inflater = zlib.decompressobj(wbits=31)
            pending = tail


def _chunks(handle: BinaryIO, on_read: Callable[[int], None]) -> Iterator[bytes]:
    while True:
        chunk = handle.read(CHUNK)
        if not chunk:
            return
        on_read(len(chunk))
        yield chunk


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _format(magic: bytes) -> str:
    if magic == _PCAPNG_MAGIC:
        return "pcapng"
    return "pcap" if magic in _PCAP_MAGICS else "unknown"


# --- analysis ----------------------------------------------------------------------------


def _http_hosts(prefix: bytes) -> tuple[str, ...]:
    hosts: list[str] = []
    for match in _HOST.finditer(prefix):
        raw = match.group(1).decode("ascii", "replace").strip().lower()
        if raw.startswith("["):  # an IPv6 literal with an optional port (RFC 3986 3.2.2)
            name = raw[1:].split("]", 1)[0]
        else:
            name = raw.rsplit(":", 1)[0] if raw.count(":") == 1 else raw
        name = _clean(name.rstrip("."))
        if name and name not in hosts:
            hosts.append(name)
            if len(hosts) >= MAX_HOSTS:
                break
    return tuple(hosts)


def flow_facts(flow: Flow, classification: Classification) -> FlowFacts:
    """The facts kept of one flow once it is classified."""
    detail = {key: _clean(str(value)) for key, value in sorted(classification.detail.items())}
    tls = classification.protocol == "tls"
    prints = {key: detail.pop(key, None) for key in ("ja3", "ja4", "ja3s")}
    return FlowFacts(
        src=flow.client[0],
        sport=flow.client[1],
        dst=flow.server[0],
        dport=flow.server[1],
        transport=flow.transport,
        protocol=classification.protocol,
        encrypted=classification.encrypted,
        packets=flow.packets,
        packets_to_server=flow.packets_to_server,
        packets_to_client=flow.packets_to_client,
        bytes_to_server=flow.bytes_to_server,
        bytes_to_client=flow.bytes_to_client,
        first_ns=flow.first_ns,
        last_ns=flow.last_ns,
        handshake_seen=flow.syn_seen or flow.transport == "udp",
        closed=flow.fin_seen or flow.rst_seen,
        gaps=flow.ooo_dropped,
        tls_version=detail.get("version") if tls else None,
        tls_cipher_suite=detail.get("cipher_suite") if tls else None,
        sni=detail.get("sni") if tls else None,
        starttls=classification.starttls,
        http_hosts=_http_hosts(flow.client_prefix) if classification.protocol == "http" else (),
        detail=detail,
        ja3=prints["ja3"] if tls else None,
        ja4=prints["ja4"] if tls else None,
        ja3s=prints["ja3s"] if tls else None,
        certificate=(
            leaf_certificate(flow.server_prefix, now_ns=flow.first_ns)
            if tls and detail.get("version") != "TLSv1.3"
            else None
        ),
    )


class Analyzer:
    """Accumulates the analysis of one or more captures; see the module docstring.

    ``read(path)`` each capture, then ``result()``. ``on_flow`` is called with each flow's
    facts and secrets as soon as the flow is analysed (flows leave the table when idle, closed,
    when it is full, or at the end), e.g. to stream them. The table's bounds are passed on to
    :class:`~probe.pcap.flows.FlowTable`.
    """

    def __init__(
        self,
        *,
        max_flows: int = 20_000,
        idle_ns: int = 300 * 10**9,
        prefix_bytes: int = 4096,
        on_flow: Callable[[FlowFacts, Sequence[SecretFound]], None] | None = None,
        show_secrets: bool = False,
    ) -> None:
        self.table = FlowTable(max_flows, idle_ns, prefix_bytes)
        self.show_secrets = show_secrets  # keep raw values: only when the user asked
        self.fragments = Reassembler()
        self.on_flow = on_flow
        self._captures: list[CaptureInfo] = []
        self._flows: list[FlowFacts] = []
        self._secrets: dict[tuple[object, ...], SecretFound] = {}
        self._secrets_dropped = 0
        self._packets = 0
        self._not_ip = self._not_tcp_udp = self._malformed = 0
        self._macsec_frames = self._macsec_bytes = 0
        self._finished = False
        self._interrupted = False

    # -- reading ------------------------------------------------------------------------

    def read(self, path: str, *, on_read: Callable[[int], None] | None = None) -> CaptureInfo:
        """Analyse one capture file. Nothing about the file raises: a read error or damaged
        bytes are recorded as damage and what came before is analysed. ``on_read`` gets the
        number of bytes read from disk after each chunk (for progress)."""
        reader = CaptureReader()
        damage: list[Damage] = []
        links: set[int] = set()
        size = 0
        kind, compression, packets, complete = "unknown", None, 0, False

        def counted(n: int) -> None:
            nonlocal size
            size += n
            if on_read is not None:
                on_read(n)

        try:
            with open(path, "rb") as handle:
                raw = _chunks(handle, counted)
                first = next(raw, b"")
                stream: Iterator[bytes]
                if first[:2] == _GZIP_MAGIC:
                    compression = "gzip"
                    stream = _inflate(first, raw, damage)
                else:
                    stream = _chain(first, raw)
                magic = b""
                for chunk in stream:
                    if len(magic) < 4:
                        magic += chunk[: 4 - len(magic)]
                        kind = _format(magic)
                    reader.feed(chunk)
                    packets += self._frames(reader, links)
                    self._drain()
                    if reader.failed:
                        break
            complete = True
        except OSError as exc:
            damage.append(Damage(size, f"cannot read: {exc.strerror or exc}"))
            complete = True  # reading is over: what came before is analysed
        finally:
            # Interrupted: the bytes left in the reader are not damage, only unread.
            damage += reader.close() if complete else reader.damage
            damage.sort(key=lambda d: d.offset)
            info = CaptureInfo(
                path,
                kind,
                compression,
                size,
                packets,
                tuple(sorted(links)),
                tuple(damage),
                complete,
            )
            self._captures.append(info)
            if not complete:
                self._interrupted = True
        return info

    def _frames(self, reader: CaptureReader, links: set[int]) -> int:
        """Decode and account every frame the reader has; the number of frames. Tuples, not
        Frame and Packet objects: this loop runs once per packet."""
        add = self.table.add_fields
        count = 0
        last_link = -1
        for timestamp_ns, link_type, data, _orig, _iface in reader.records():
            count += 1
            if link_type != last_link:
                links.add(link_type)
                last_link = link_type
            try:
                fields = decode_fields(link_type, data)
            except DecodeError:
                self._malformed += 1
                continue
            if fields is None:
                if is_macsec(link_type, data):
                    self._macsec_frames += 1
                    self._macsec_bytes += len(data)
                else:
                    self._not_ip += 1
                continue
            if fields[11]:  # an IP fragment: the datagram counts once it is whole
                try:
                    whole = self.fragments.add(fields, timestamp_ns)
                except DecodeError:
                    self._malformed += 1
                    continue
                if whole is None:
                    continue
                fields = whole
            if fields[2] != IPPROTO_TCP and fields[2] != IPPROTO_UDP:
                self._not_tcp_udp += 1
            else:
                add(fields, timestamp_ns)
        self._packets += count
        return count

    def _drain(self) -> None:
        for flow in self.table.expired():
            self._analyse(flow)

    def _analyse(self, flow: Flow) -> None:
        classification = classify(flow)
        facts = flow_facts(flow, classification)
        self._flows.append(facts)
        if self.show_secrets:
            with revealing() as raw:
                secrets = scan_flow(flow, classification)
            found = [self._secret(s, facts.ref, raw) for s in secrets]
        else:
            found = [self._secret(s, facts.ref) for s in scan_flow(flow, classification)]
        if self.on_flow is not None:
            self.on_flow(facts, [f for f in found if f is not None])

    def _secret(
        self, secret: Secret, ref: FlowRef, raw: Mapping[str, str] | None = None
    ) -> SecretFound | None:
        key = (
            secret.kind,
            secret.fingerprint,
            secret.user,
            secret.protocol,
            secret.direction,
            ref.dst,
            ref.dport,
        )
        seen = self._secrets.get(key)
        if seen is not None:
            self._secrets[key] = SecretFound(seen.secret, seen.flow, seen.count + 1, seen.raw)
            return None
        if len(self._secrets) >= MAX_SECRETS:
            self._secrets_dropped += 1
            return None
        shown = None
        if raw is not None:
            prints = [
                secret.fingerprint,
                *(v for v in secret.detail.values() if isinstance(v, str)),
            ]
            shown = {p: raw[p] for p in prints if p in raw}
        found = SecretFound(secret, ref, 1, shown)
        self._secrets[key] = found
        return found

    # -- result -------------------------------------------------------------------------

    def finish(self) -> None:
        """Analyse the flows still in the table (the end of the last capture)."""
        if self._finished:
            return
        self._finished = True
        self.fragments.finish()
        for flow in self.table.finish():
            self._analyse(flow)

    def interrupted(self) -> None:
        """Note that the analysis was cut short (Ctrl-C): the result says so."""
        self._interrupted = True

    def result(self) -> Analysis:
        """The facts gathered so far (call :meth:`finish` first for a complete analysis)."""
        flows = sorted(self._flows, key=lambda f: (f.first_ns, f.src, f.sport, f.dst, f.dport))
        return Analysis(
            captures=tuple(self._captures),
            flows=tuple(flows),
            secrets=tuple(self._secrets.values()),
            summary=self._summary(flows),
            interrupted=self._interrupted,
            secrets_shown=self.show_secrets,
        )

    def _summary(self, flows: Sequence[FlowFacts]) -> Summary:
        fragments = self.fragments.stats
        totals: dict[str, list[int]] = {}
        encrypted_of: dict[str, bool | None] = {}
        by_kind = {True: 0, False: 0, None: 0}
        for f in flows:
            row = totals.setdefault(f.protocol, [0, 0, 0])
            row[0] += 1
            row[1] += f.packets
            row[2] += f.bytes
            encrypted_of.setdefault(f.protocol, f.encrypted)
            by_kind[f.encrypted] += f.bytes
        if self._macsec_frames:
            # Encrypted at layer 2 (IEEE 802.1AE): counted as bytes, without flows, since
            # nothing inside can be seen; the bytes are whole frames.
            totals["macsec"] = [0, self._macsec_frames, self._macsec_bytes]
            encrypted_of["macsec"] = True
            by_kind[True] += self._macsec_bytes
        by_protocol = tuple(
            ProtocolTotals(name, encrypted_of[name], *row)
            for name, row in sorted(totals.items(), key=lambda item: (-item[1][2], item[0]))
        )
        return Summary(
            captures=len(self._captures),
            packets=self._packets,
            flows=len(flows),
            bytes=sum(by_kind.values()),
            encrypted_bytes=by_kind[True],
            cleartext_bytes=by_kind[False],
            unknown_bytes=by_kind[None],
            by_protocol=by_protocol,
            ignored=Ignored(self._not_ip, fragments.unused, self._not_tcp_udp, self._malformed),
            first_ns=min((f.first_ns for f in flows), default=None),
            last_ns=max((f.last_ns for f in flows), default=None),
            secrets=len(self._secrets),
            secrets_dropped=self._secrets_dropped,
            damaged_captures=sum(1 for c in self._captures if c.damage),
            fragments=fragments,
        )


def analyze(
    paths: Sequence[str],
    *,
    max_flows: int = 20_000,
    idle_ns: int = 300 * 10**9,
    prefix_bytes: int = 4096,
    show_secrets: bool = False,
) -> Analysis:
    """Analyse captures start to end (see :class:`Analyzer`)."""
    analyzer = Analyzer(
        max_flows=max_flows,
        idle_ns=idle_ns,
        prefix_bytes=prefix_bytes,
        show_secrets=show_secrets,
    )
    for path in paths:
        analyzer.read(path)
    analyzer.finish()
    return analyzer.result()
