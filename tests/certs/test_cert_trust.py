"""verify_chain against a temporary CA file and the system trust store."""

from __future__ import annotations

import concurrent.futures
from datetime import timedelta
from pathlib import Path

import pytest

from probe.trust import TrustStoreError, clear_store_cache, verify_chain

from .certgen import NOW, issue, key, pki, write_pem


@pytest.fixture(scope="module")
def chain_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[bytes], Path, Path]:
    chain = pki(leaf_not_after=NOW + timedelta(days=60))
    folder = tmp_path_factory.mktemp("trust")
    root_file = write_pem(folder / "root.pem", chain.root)
    inter_file = write_pem(folder / "inter.pem", chain.intermediate)
    return [chain.leaf.der, chain.intermediate.der], root_file, inter_file


def test_chain_to_ca_file_is_trusted(chain_files: tuple[list[bytes], Path, Path]) -> None:
    served, root_file, _ = chain_files
    assert verify_chain(served, now=NOW, ca_file=str(root_file)) == (True, None)


def test_intermediates_in_any_order(chain_files: tuple[list[bytes], Path, Path]) -> None:
    served, root_file, _ = chain_files
    junk = issue("junk", subject_key=key("p256")).der
    shuffled = [served[0], junk, served[1]]
    assert verify_chain(shuffled, now=NOW, ca_file=str(root_file)) == (True, None)


def test_missing_intermediate(chain_files: tuple[list[bytes], Path, Path]) -> None:
    served, root_file, _ = chain_files
    assert verify_chain(served[:1], now=NOW, ca_file=str(root_file)) == (
        False,
        "unable to get local issuer certificate",
    )


def test_ca_file_holding_an_intermediate_is_an_anchor(
    chain_files: tuple[list[bytes], Path, Path],
) -> None:
    served, _, inter_file = chain_files
    assert verify_chain(served[:1], now=NOW, ca_file=str(inter_file)) == (True, None)


def test_expired_and_not_yet_valid_at_injected_now(
    chain_files: tuple[list[bytes], Path, Path],
) -> None:
    served, root_file, _ = chain_files
    ca = str(root_file)
    assert verify_chain(served, now=NOW + timedelta(days=61), ca_file=ca) == (
        False,
        "certificate has expired",
    )
    assert verify_chain(served, now=NOW - timedelta(days=31), ca_file=ca) == (
        False,
        "certificate is not yet valid",
    )
    # The same cached store must honour each call's own time.
    assert verify_chain(served, now=NOW, ca_file=ca) == (True, None)


def test_naive_now_is_utc(chain_files: tuple[list[bytes], Path, Path]) -> None:
    served, root_file, _ = chain_files
    expiry = NOW + timedelta(days=60)
    naive = expiry.replace(tzinfo=None)
    assert verify_chain(served, now=naive - timedelta(minutes=1), ca_file=str(root_file))[0]
    assert not verify_chain(served, now=naive + timedelta(minutes=1), ca_file=str(root_file))[0]


def test_self_signed_is_untrusted(chain_files: tuple[list[bytes], Path, Path]) -> None:
    _, root_file, _ = chain_files
    self_signed = issue("me.example", subject_key=key("p256"))
    assert verify_chain([self_signed.der], now=NOW, ca_file=str(root_file)) == (
        False,
        "self-signed certificate",
    )


def test_self_signed_in_ca_file_is_trusted(tmp_path: Path) -> None:
    self_signed = issue("pinned.example", subject_key=key("p256"))
    ca = write_pem(tmp_path / "pinned.pem", self_signed)
    assert verify_chain([self_signed.der], now=NOW, ca_file=str(ca)) == (True, None)


def test_unknown_root_in_chain(tmp_path: Path) -> None:
    other = write_pem(tmp_path / "other.pem", issue("Other Root", ca=True))
    chain = pki()
    ok, reason = verify_chain(
        [chain.leaf.der, chain.intermediate.der, chain.root.der], now=NOW, ca_file=str(other)
    )
    assert not ok
    assert reason == "self-signed certificate in certificate chain"


def test_system_store_rejects_unknown_self_signed() -> None:
    cert = issue("unknown.example")
    assert verify_chain([cert.der], now=NOW) == (False, "self-signed certificate")


def test_system_store_rejects_unknown_chain(chain_files: tuple[list[bytes], Path, Path]) -> None:
    served, _, _ = chain_files
    assert verify_chain(served, now=NOW) == (False, "unable to get local issuer certificate")


def test_garbage_and_empty() -> None:
    assert verify_chain([], now=NOW) == (False, "no certificate")
    assert verify_chain([b"\x30\x00"], now=NOW) == (False, "unparsable certificate")


def test_garbage_intermediate_ignored(chain_files: tuple[list[bytes], Path, Path]) -> None:
    served, root_file, _ = chain_files
    chain = [served[0], b"garbage", served[1]]
    assert verify_chain(chain, now=NOW, ca_file=str(root_file)) == (True, None)


def test_bad_ca_file(tmp_path: Path) -> None:
    with pytest.raises(TrustStoreError):
        verify_chain([issue("x").der], now=NOW, ca_file=str(tmp_path / "missing.pem"))
    empty = tmp_path / "empty.pem"
    empty.write_text("nothing here\n")
    with pytest.raises(TrustStoreError):
        verify_chain([issue("x").der], now=NOW, ca_file=str(empty))


def test_concurrent_calls_with_different_times(
    chain_files: tuple[list[bytes], Path, Path],
) -> None:
    served, root_file, _ = chain_files
    clear_store_cache()
    moments = [NOW + timedelta(days=d) for d in (0, 61, -31, 10) * 25]
    expected = [(m - NOW).days in range(-30, 60) for m in moments]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda m: verify_chain(served, now=m, ca_file=str(root_file))[0], moments)
        )
    assert results == expected
