"""Key-exchange group enumeration: the elimination against model servers (every order and
subset), a stand-in server for the post-quantum hybrids, and the connection budget against
real servers (openssl s_server -groups, nginx ssl_ecdh_curve, gnutls-serv)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.checks import tls
from probe.checks.context import CheckContext, ProbeFailed, ScanOptions
from probe.codecs.buffer import Reader, Writer
from probe.codecs.tls.constants import (
    GROUP_NAMES,
    HELLO_RETRY_REQUEST_RANDOM,
    ExtensionType,
    Version,
)
from probe.codecs.tls.groups import (
    FFDHE_GROUPS,
    TLS12_GROUP_CANDIDATES,
    TLS13_GROUP_CANDIDATES,
)
from probe.model import ErrorReason, Status, Target, TargetResult
from probe.net.limits import Limits
from tests.checks.test_tls_check import _scan, _target
from tests.lab.servers import S_SERVER_CONFIGS, nginx_tls

BY_NAME = {name: code for code, name in GROUP_NAMES.items()}
X25519, SECP256R1, SECP384R1, SECP521R1, X448 = 29, 23, 24, 25, 30
X25519MLKEM768, X25519KYBER = 0x11EC, 0x6399
OPENSSL_ORDER = [X25519, SECP256R1, X448, SECP521R1, SECP384R1]


# --- the elimination against model servers ------------------------------------------------


class ModelServer:
    """Accepts ``accepted``; picks by its own order (``accepted`` as listed) or the client's."""

    def __init__(self, accepted: list[int], *, server_order: bool) -> None:
        self.accepted = accepted
        self.server_order = server_order
        self.offers: list[list[int]] = []

    async def ask(self, offer: list[int]) -> int | None:
        self.offers.append(list(offer))
        pool = self.accepted if self.server_order else offer
        other = offer if self.server_order else self.accepted
        return next((g for g in pool if g in other), None)


def eliminate(server: ModelServer, candidates: tuple[int, ...], client: bool) -> tls._GroupOutcome:
    return asyncio.run(tls._eliminate_groups(server.ask, candidates, expect_client_order=client))


@pytest.mark.parametrize("client", [True, False])
def test_a_server_order_unlike_the_offer_costs_one_hello_per_group_plus_one(client: bool) -> None:
    server = ModelServer(OPENSSL_ORDER, server_order=True)
    out = eliminate(server, TLS12_GROUP_CANDIDATES, client)
    assert out.found == OPENSSL_ORDER
    assert out.preference is True
    assert len(server.offers) == len(OPENSSL_ORDER) + 1
    assert server.offers[0] == list(TLS12_GROUP_CANDIDATES)  # the first offer has everything


def test_client_order_costs_one_hello_per_group_plus_one_when_expected() -> None:
    server = ModelServer(OPENSSL_ORDER, server_order=False)
    out = eliminate(server, TLS12_GROUP_CANDIDATES, True)
    assert out.found == [g for g in TLS12_GROUP_CANDIDATES if g in OPENSSL_ORDER]
    assert out.preference is False
    assert len(server.offers) == len(OPENSSL_ORDER) + 1
    # the last offer carried the found groups newest first and ended the elimination
    assert server.offers[-1][-len(OPENSSL_ORDER) :] == out.found[::-1]


def test_client_order_costs_one_more_hello_when_not_expected() -> None:
    server = ModelServer(OPENSSL_ORDER, server_order=False)
    out = eliminate(server, TLS13_GROUP_CANDIDATES, False)
    assert out.preference is False
    assert len(server.offers) == len(OPENSSL_ORDER) + 2  # + the reversed offer
    assert server.offers[-1] == out.found[::-1]


@pytest.mark.parametrize("client", [True, False])
def test_a_server_order_equal_to_the_offer_costs_one_more_hello(client: bool) -> None:
    accepted = [SECP384R1, SECP256R1, X25519]  # the order of TLS12_GROUP_CANDIDATES
    server = ModelServer(accepted, server_order=True)
    out = eliminate(server, TLS12_GROUP_CANDIDATES, client)
    assert out.found == accepted and out.preference is True
    assert len(server.offers) == len(accepted) + 2


@pytest.mark.parametrize("server_order", [True, False])
@pytest.mark.parametrize("client", [True, False])
def test_one_or_no_group(server_order: bool, client: bool) -> None:
    one = ModelServer([SECP521R1], server_order=server_order)
    out = eliminate(one, TLS13_GROUP_CANDIDATES, client)
    assert (out.found, out.preference, len(one.offers)) == ([SECP521R1], None, 2)
    none = ModelServer([], server_order=server_order)
    out = eliminate(none, TLS13_GROUP_CANDIDATES, client)
    assert (out.found, out.preference, len(none.offers)) == ([], None, 1)


@settings(max_examples=300, deadline=None)
@given(
    accepted=st.lists(st.sampled_from(TLS12_GROUP_CANDIDATES), unique=True, max_size=12),
    server_order=st.booleans(),
    client=st.booleans(),
)
def test_elimination_finds_every_group_and_never_misjudges_the_order(
    accepted: list[int], server_order: bool, client: bool
) -> None:
    server = ModelServer(accepted, server_order=server_order)
    out = eliminate(server, TLS12_GROUP_CANDIDATES, client)
    assert sorted(out.found) == sorted(accepted)
    if server_order:
        assert out.found == accepted  # the server's order
    if len(accepted) >= 2:
        assert out.preference is server_order
    else:
        assert out.preference is None
    assert len(server.offers) <= len(accepted) + 2
    assert all(set(o) <= set(TLS12_GROUP_CANDIDATES) for o in server.offers)


def test_a_failure_keeps_what_was_found() -> None:
    calls = 0

    async def ask(offer: list[int]) -> int | None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise ProbeFailed(ErrorReason.RESET, "reset")
        return next(g for g in OPENSSL_ORDER if g in offer)

    out = asyncio.run(tls._eliminate_groups(ask, TLS12_GROUP_CANDIDATES, expect_client_order=True))
    assert out.found == OPENSSL_ORDER[:2]
    assert out.failure is not None and out.failure.reason is ErrorReason.RESET


def test_a_pick_outside_the_offer_ends_the_elimination() -> None:
    async def ask(offer: list[int]) -> int | None:
        return X25519  # e.g. a server that ignores the list

    out = asyncio.run(tls._eliminate_groups(ask, FFDHE_GROUPS, expect_client_order=True))
    assert out.found == []


def test_candidate_lists() -> None:
    for candidates in (TLS13_GROUP_CANDIDATES, TLS12_GROUP_CANDIDATES):
        assert len(set(candidates)) == len(candidates)
        assert all(g in GROUP_NAMES for g in candidates)
    # TLS 1.3: the hybrids and their draft code points, no curve RFC 8446 4.2.7 dropped
    assert {0x11EB, 0x11EC, 0x11ED, 0x6399} <= set(TLS13_GROUP_CANDIDATES)
    assert not {*range(1, 23), 26, 27, 28} & set(TLS13_GROUP_CANDIDATES)
    assert set(FFDHE_GROUPS) <= set(TLS13_GROUP_CANDIDATES)
    # TLS 1.2 ECDHE: every named curve of RFC 8422 / RFC 7027 plus x25519 / x448
    assert set(TLS12_GROUP_CANDIDATES) == {*range(1, 31)}


# --- a stand-in TLS 1.3 server for the post-quantum hybrids --------------------------------


def client_hello_groups(record: bytes) -> tuple[bytes, list[int], list[int]]:
    """(session id, suites, supported_groups) of one of our ClientHello records."""
    r = Reader(record)
    r.u8(), r.u16()
    body = Reader(r.vector(2))
    body.u8(), body.u24(), body.u16(), body.bytes(32)
    session_id = body.vector(1)
    raw = body.vector(2)
    suites = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    body.vector(1)
    block = body.sub(2)
    groups: list[int] = []
    while not block.eof:
        ext_type, data = block.u16(), block.vector(2)
        if ext_type == ExtensionType.SUPPORTED_GROUPS:
            inner = Reader(data).sub(2)
            groups = [inner.u16() for _ in range(inner.remaining // 2)]
    return session_id, suites, groups


def hello_retry_request(session_id: bytes, suite: int, group: int) -> bytes:
    """RFC 8446 4.1.4: a ServerHello with the HelloRetryRequest random, supported_versions and
    a key_share holding only the selected group."""
    extensions = Writer()
    extensions.u16(ExtensionType.SUPPORTED_VERSIONS)
    extensions.vector(2, (0x0304).to_bytes(2, "big"))
    extensions.u16(ExtensionType.KEY_SHARE)
    extensions.vector(2, group.to_bytes(2, "big"))
    body = Writer()
    body.u16(0x0303)
    body.bytes(HELLO_RETRY_REQUEST_RANDOM)
    body.vector(1, session_id)
    body.u16(suite)
    body.u8(0)
    body.vector(2, extensions.getvalue())
    handshake = Writer()
    handshake.u8(2)
    handshake.vector(3, body.getvalue())
    record = Writer()
    record.u8(22)
    record.u16(0x0303)
    record.vector(2, handshake.getvalue())
    return record.getvalue()


HANDSHAKE_FAILURE = bytes([21, 3, 3, 0, 2, 2, 40])


class HrrServer:
    """Answers every TLS 1.3 hello with a HelloRetryRequest for the first group of its own list
    that the hello offers, or a handshake_failure alert. A stand-in, named as such: Debian 12's
    OpenSSL 3.0 has no ML-KEM, so no real server here can name X25519MLKEM768."""

    def __init__(self, groups: list[int]) -> None:
        self.groups = groups
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readexactly(5)
            record = head + await reader.readexactly(int.from_bytes(head[3:5], "big"))
            session_id, suites, offered = client_hello_groups(record)
            group = next((g for g in self.groups if g in offered), None)
            if group is None:
                writer.write(HANDSHAKE_FAILURE)
            else:
                writer.write(hello_retry_request(session_id, suites[0], group))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def measure_groups_against(handler: HrrServer) -> tuple[Any, int]:
    async def go() -> tuple[Any, int]:
        server = await asyncio.start_server(handler.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            target = Target(given="pq", host="127.0.0.1", port=port, check="tls")
            ctx = CheckContext(
                options=ScanOptions(timeout=2.0), limits=Limits(concurrency=8, per_host=5)
            )
            ep = tls._Endpoint(target=target, address="127.0.0.1", ctx=ctx)
            facts = await tls._measure_groups(ep, {Version.TLS1_3: [0x1301, 0x1302]})
            return facts, ep.connections

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("server_groups", "preferred"),
    [
        ([X25519MLKEM768, X25519, SECP256R1], "X25519MLKEM768"),
        ([X25519KYBER, X25519], "X25519Kyber768Draft00"),
        ([0x11ED, 0x11EB, X25519MLKEM768, SECP384R1], "SecP384r1MLKEM1024"),
    ],
)
def test_post_quantum_hybrids_from_hello_retry_requests(
    server_groups: list[int], preferred: str
) -> None:
    handler = HrrServer(server_groups)
    facts, connections = measure_groups_against(handler)
    assert facts.by_version == {"TLSv1.3": tuple(GROUP_NAMES[g] for g in server_groups)}
    assert facts.preferred == preferred
    assert facts.post_quantum is True
    assert facts.incomplete == {}
    # one hello per group plus the refused one, plus the order check only when the server's
    # order coincides with probe's own (the last case: strongest first, as probe offers)
    coincides = [g for g in TLS13_GROUP_CANDIDATES if g in server_groups] == server_groups
    assert connections == handler.connections == len(server_groups) + 1 + coincides
    assert facts.preference == {"TLSv1.3": True}


def test_a_classical_favourite_is_not_a_post_quantum_preference() -> None:
    facts, _ = measure_groups_against(HrrServer([X25519, X25519MLKEM768]))
    assert facts.preferred == "x25519" and facts.post_quantum is False
    assert facts.by_version["TLSv1.3"] == ("x25519", "X25519MLKEM768")


def test_no_hello_retry_request_is_reported_as_incomplete() -> None:
    facts, connections = measure_groups_against(HrrServer([]))
    assert facts.by_version == {"TLSv1.3": ()}
    assert facts.post_quantum is None
    assert "handshake_failure" in facts.incomplete["TLSv1.3 groups"]
    assert connections == 1


# --- real servers: what they accept and what it costs --------------------------------------

# Configurations whose own order equals probe's offer order, so the order check costs one
# hello more per version (see _eliminate_groups); every other costs accepted + 1 per version.
ORDER_COINCIDES = {"groups_p384_x25519_serverpref": 2}


@pytest.fixture
def group_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The connections each tls.run spent in _measure_groups (it runs alone at that point)."""
    spent: list[int] = []
    real = tls._measure_groups

    async def spy(ep: tls._Endpoint, accepted: dict[Version, list[int]]) -> tls._GroupFacts:
        before = ep.connections
        out = await real(ep, accepted)
        spent.append(ep.connections - before)
        return out

    monkeypatch.setattr(tls, "_measure_groups", spy)
    yield spent


def group_budget(result: TargetResult) -> int:
    """One hello per accepted group plus one per elimination that ran (TLS 1.3; ECDHE and
    RFC 7919 FFDHE for the older version)."""
    facts = result.tls
    assert facts is not None
    budget = 0
    for label, groups in facts.groups.items():
        if label == "TLSv1.3":
            budget += len(groups) + 1
            continue
        curves = [g for g in groups if BY_NAME[g] not in FFDHE_GROUPS]
        if any("ECDHE" in s for s in facts.cipher_suites[label]):
            budget += len(curves) + 1
        if any(
            kx.kind == "DHE" and (kx.group or "").startswith("ffdhe")
            for kx in facts.key_exchange.values()
        ):
            budget += len(groups) - len(curves) + 1
    return budget


@pytest.mark.parametrize("name", list(S_SERVER_CONFIGS))
def test_group_connections_stay_at_accepted_plus_one_per_version(
    name: str, lab_servers: Any, lab_ca_file: str, group_connections: list[int]
) -> None:
    server = lab_servers[name]
    result = _scan(_target(server.host, server.port), ca_file=lab_ca_file)
    assert result.status is Status.COMPLETED and result.tls is not None
    assert result.tls.incomplete == {}
    [spent] = group_connections
    assert spent == group_budget(result) + ORDER_COINCIDES.get(name, 0), dict(result.tls.groups)


@pytest.mark.parametrize(
    ("curves", "expected", "preference"),
    [
        ("X25519:secp521r1", ("x25519", "secp521r1"), True),
        ("secp384r1", ("secp384r1",), None),
    ],
)
def test_nginx_ssl_ecdh_curve(
    curves: str,
    expected: tuple[str, ...],
    preference: bool | None,
    lab_certs: Any,
    tmp_path: Path,
    group_connections: list[int],
) -> None:
    """nginx sets SSL_OP_CIPHER_SERVER_PREFERENCE (ssl_prefer_server_ciphers on), so its
    ssl_ecdh_curve order is the server's order in both versions."""
    with nginx_tls(lab_certs, tmp_path, ecdh_curve=curves) as server:
        result = _scan(_target(server.host, server.ports[0]))
    assert result.tls is not None and result.tls.incomplete == {}
    assert dict(result.tls.groups) == {"TLSv1.2": expected, "TLSv1.3": expected}
    assert dict(result.tls.groups_server_preference) == {
        "TLSv1.2": preference,
        "TLSv1.3": preference,
    }
    assert result.tls.preferred_group == expected[0]
    assert group_connections == [group_budget(result)]


def test_gnutls_negotiates_rfc7919_groups_in_tls12(
    gnutls_server: Any, group_connections: list[int]
) -> None:
    """gnutls-serv (priority NORMAL) follows the client's order for groups and implements RFC
    7919 in TLS 1.2: every ffdhe group is found with DHE suites, one hello each."""
    result = _scan(_target(gnutls_server.host, gnutls_server.port))
    facts = result.tls
    assert facts is not None and facts.incomplete == {}
    ffdhe = {GROUP_NAMES[g] for g in FFDHE_GROUPS}
    assert ffdhe <= set(facts.groups["TLSv1.2"])
    assert {"x25519", "secp256r1", "secp384r1"} <= set(facts.groups["TLSv1.2"])
    assert facts.groups_server_preference["TLSv1.2"] is False
    assert facts.dh_common_prime == "ffdhe2048"
    # client order in TLS 1.3 costs the one reversed offer that tells it apart
    assert group_connections == [group_budget(result) + 1]


def test_a_fixed_rfc7919_prime_is_named_in_key_exchange(lab_servers: Any, lab_ca_file: str) -> None:
    """s_server -dhparam ffdhe3072: the TLS 1.2 DHE suites' prime is recognised as the group."""
    server = lab_servers["ffdhe3072"]
    result = _scan(_target(server.host, server.port), ca_file=lab_ca_file)
    assert result.tls is not None
    dhe = {s: kx for s, kx in result.tls.key_exchange.items() if "_DHE_" in s}
    assert dhe and {(kx.group, kx.bits) for kx in dhe.values()} == {("ffdhe3072", 3072)}
    assert result.tls.dh_common_prime == "ffdhe3072"
