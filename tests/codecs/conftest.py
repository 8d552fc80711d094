"""Fixtures for the codec tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tls_helpers import FEEDERS, Feedable, load_record_module


@pytest.fixture(params=sorted(FEEDERS))
def feed(request: pytest.FixtureRequest) -> Callable[[Feedable, bytes], None]:
    return FEEDERS[request.param]


@pytest.fixture(scope="session")
def lab_pki() -> Iterator[Path]:
    """A CA, leaf and DH parameters for loopback servers (see captures/tls/record.py)."""
    # A missing openssl fails loudly (scripts/install-test-deps.sh installs it), never skips.
    from tests.lab.servers import require_binary

    require_binary("openssl")
    record = load_record_module()
    with record.pki() as directory:
        yield directory
