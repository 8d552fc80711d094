"""Differential: probe's SMB facts against nmap's smb-protocols / smb2-security-mode on every
Samba lab configuration, where the two tools overlap (dialects, SMB1, highest dialect, signing
required)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from probe.checks import smb
from probe.checks.context import CheckContext, ScanOptions
from probe.model import Status, Target
from probe.net.limits import Limits
from tests.lab.samba import SAMBA_CONFIGS, nmap_smb_facts

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("name", list(SAMBA_CONFIGS))
def test_probe_agrees_with_nmap(samba_servers: Any, name: str) -> None:
    server = samba_servers[name]

    async def scan() -> Any:
        ctx = CheckContext(
            options=ScanOptions(timeout=5), limits=Limits(concurrency=16, per_host=5)
        )
        return await smb.run(
            Target(given=name, host=server.host, port=server.port, check="smb"), ctx
        )

    result = asyncio.run(scan())
    nmap = nmap_smb_facts(server)
    assert result.status is Status.COMPLETED and result.smb is not None
    assert list(result.smb.dialects) == nmap["dialects"], nmap["output"]
    assert result.smb.smb1 is nmap["smb1"], nmap["output"]
    assert result.smb.preferred_dialect == nmap["highest"], nmap["output"]
    assert result.smb.signing_required is nmap["signing_required"], nmap["output"]
