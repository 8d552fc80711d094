"""Real servers accept the hellos the codec builds (openssl s_server on loopback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tls_helpers import load_record_module

from probe.codecs.tls.constants import Version
from probe.codecs.tls.flight import ServerFlightReader
from probe.codecs.tls.suites import candidate_suites

pytestmark = pytest.mark.lab


@pytest.mark.parametrize(
    "version, server_options",
    [
        (Version.TLS1_0, ("-tls1", "-cipher", "ALL:@SECLEVEL=0")),
        (Version.TLS1_2, ("-tls1_2",)),
        (Version.TLS1_3, ("-tls1_3",)),
    ],
)
def test_openssl_accepts_our_hello(
    lab_pki: Path, version: Version, server_options: tuple[str, ...]
) -> None:
    record = load_record_module()
    hello = record.tls_hello(version, candidate_suites(version)[:128])
    with record.openssl_server(lab_pki, *server_options) as port:
        answer = record.exchange(port, hello, linger=0)
    reader = ServerFlightReader(want_certificate=True, want_key_exchange=True)
    reader.feed(answer)
    flight = reader.result()
    assert reader.done and flight.alert is None
    assert flight.server_hello is not None
    assert flight.server_hello.version == version
    if version < Version.TLS1_3:
        assert flight.server_hello_done and flight.certificate_chain
        assert flight.key_exchange is not None


def test_openssl_answers_hrr_to_an_empty_key_share(lab_pki: Path) -> None:
    record = load_record_module()
    hello = record.tls_hello(Version.TLS1_3, candidate_suites(Version.TLS1_3), key_share=False)
    with record.openssl_server(lab_pki, "-tls1_3", "-groups", "P-384:X25519") as port:
        answer = record.exchange(port, hello, linger=0)
    reader = ServerFlightReader()
    reader.feed(answer)
    hello_retry = reader.result().server_hello
    assert hello_retry is not None and hello_retry.is_hello_retry_request
    assert hello_retry.selected_group == 24  # the server's own first choice
