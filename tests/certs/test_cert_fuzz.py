"""Hostile input: certificate_facts and verify_chain on random and mutated DER."""

from __future__ import annotations

import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.codecs.x509 import CertificateDecodeError, certificate_facts
from probe.trust import verify_chain

from .certgen import NOW, issue, key, pki


@functools.cache
def sample_ders() -> tuple[bytes, ...]:
    chain = pki(san_dns=("a.example", "*.b.example"), san_ips=("192.0.2.1",))
    return (
        chain.leaf.der,
        chain.intermediate.der,
        issue("ec", subject_key=key("p256")).der,
        issue("ed", subject_key=key("ed25519")).der,
    )


def check(chain: list[bytes]) -> None:
    try:
        facts = certificate_facts(
            chain,
            server_name="a.example",
            now=NOW,
            trusted=False,
            trust_error=None,
            served_with=(),
        )
    except CertificateDecodeError:
        return
    assert facts.chain_length == len(chain)
    assert len(facts.sha256_fingerprint) == 64


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=4))
def test_random_bytes(chain: list[bytes]) -> None:
    check(chain)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    der = bytearray(draw(st.sampled_from(sample_ders())))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(der) - 1))
        action = draw(st.sampled_from(["flip", "set", "cut", "insert"]))
        if action == "flip":
            der[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "set":
            der[position] = draw(st.integers(0, 255))
        elif action == "cut":
            del der[position : position + draw(st.integers(1, 16))]
        else:
            der[position:position] = draw(st.binary(min_size=1, max_size=8))
        if not der:
            break
    return bytes(der)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.lists(mutated(), max_size=2))
def test_mutated_certificates(leaf: bytes, rest: list[bytes]) -> None:
    check([leaf, *rest])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.lists(mutated(), max_size=2))
def test_verify_chain_never_raises(leaf: bytes, rest: list[bytes]) -> None:
    ok, reason = verify_chain([leaf, *rest], now=NOW)
    assert ok is False
    assert reason
