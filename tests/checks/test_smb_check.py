"""The SMB check against real Samba smbd configurations, and hostile peers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from probe.checks import smb
from probe.checks.context import CheckContext, ScanOptions
from probe.model import ErrorReason, Status, Target, TargetResult
from probe.net.limits import Limits
from tests.lab.samba import SAMBA_CONFIGS


def _scan(host: str, port: int, timeout: float = 5.0) -> TargetResult:
    async def go() -> TargetResult:
        options = ScanOptions(timeout=timeout)
        ctx = CheckContext(options=options, limits=Limits(concurrency=16, per_host=5))
        return await smb.run(
            Target(given=f"smb://{host}:{port}", host=host, port=port, check="smb"), ctx
        )

    return asyncio.run(go())


@pytest.fixture(scope="module")
def samba_results(samba_servers: Any) -> dict[str, tuple[Any, TargetResult]]:
    return {
        name: (samba_servers[name], _scan(samba_servers[name].host, samba_servers[name].port))
        for name in SAMBA_CONFIGS
    }


@pytest.mark.parametrize("name", list(SAMBA_CONFIGS))
def test_samba_configuration_facts(
    name: str, samba_results: dict[str, tuple[Any, TargetResult]]
) -> None:
    server, result = samba_results[name]
    expected = server.expected
    assert result.status is Status.COMPLETED, result.error
    facts = result.smb
    assert facts is not None
    assert facts.incomplete == {}
    assert facts.smb1 is expected["smb1"]
    assert list(facts.dialects) == expected["dialects"]
    assert facts.preferred_dialect == expected["preferred_dialect"]
    assert list(facts.ciphers) == expected["ciphers"]
    assert facts.signing_required is expected["signing_required"]
    assert facts.encryption_required is expected["encryption_required"]
    if expected["ciphers"]:
        assert facts.preferred_cipher == expected["preferred_cipher"]
    if "3.0" in expected["dialects"]:  # CAP_ENCRYPTION on the 3.0/3.0.2 offers that ask for it
        assert facts.encryption_capability is expected["encryption_capability"]
    else:
        assert facts.encryption_capability is None
    if expected.get("cipher_context_absent"):
        assert facts.encryption_context == "no_context"
    if "3.1.1" in expected["dialects"]:  # Samba 4.17 accepts all three, one offer each
        assert facts.signing_algorithms == ("HMAC-SHA256", "AES-CMAC", "AES-GMAC")
        assert facts.signing_algorithm == "AES-GMAC"
    # a full no-credential grade: 12 connections, plus one for each 3.0/3.0.2 offer whose
    # request for encryption the server refused (then re-asked without it)
    assert facts.connections == 12 + 2 * (expected["encryption_cap_rejected"] != []), (
        facts.connections
    )


def test_default_profile_grades_samba(samba_results: dict[str, tuple[Any, TargetResult]]) -> None:
    from datetime import UTC, datetime

    from probe.grading.profile import load_profile
    from probe.grading.rules import evaluate

    profile = load_profile("azure-transit")
    graded = {
        name: {f.id for f in evaluate(profile, result, now=datetime.now(UTC)).findings}
        for name, (_, result) in samba_results.items()
    }
    assert "SMB-NO-SMB1" in graded["smb1_on"] and "SMB-NO-SMB1" not in graded["default"]
    assert "SMB-MIN-DIALECT" in graded["max_smb2_10"]
    assert "SMB-ENCRYPTION-REQUIRED" in graded["default"]
    assert "SMB-ENCRYPTION-REQUIRED" not in graded["encrypt_required"]
    assert "SMB-SIGNING-REQUIRED" not in graded["signing_mandatory"]
    assert "SMB-GCM-CIPHER" in graded["encrypt_off"]


@pytest.mark.parametrize(
    ("fixture", "reasons"),
    [
        ("garbage_server", {ErrorReason.NOT_SMB, ErrorReason.PROTOCOL_ERROR}),
        ("silent_server", {ErrorReason.TIMEOUT}),
        ("eof_server", {ErrorReason.PROTOCOL_ERROR}),
        ("trickle_server", {ErrorReason.TIMEOUT, ErrorReason.NOT_SMB}),
    ],
)
def test_hostile_peers_give_clean_errors(
    fixture: str, reasons: set[ErrorReason], request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue(fixture)
    started = time.monotonic()
    result = _scan(server.host, server.port, timeout=1.0)
    assert result.status is Status.ERROR
    assert result.error is not None and result.error.reason in reasons, result.error
    assert time.monotonic() - started < 3.0


def test_a_16mb_nbss_length_is_rejected_at_once() -> None:
    """A peer whose NBSS header announces 16 MB: refused after 4 bytes, nothing buffered."""

    async def go() -> TargetResult:
        async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(4096)
            writer.write(b"\x00\xff\xff\xff" + b"\xfeSMB" + b"\x00" * 60)
            await writer.drain()
            await asyncio.sleep(2)

        server = await asyncio.start_server(huge, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            options = ScanOptions(timeout=1.0)
            ctx = CheckContext(options=options, limits=Limits(concurrency=4, per_host=4))
            target = Target(given="x", host="127.0.0.1", port=port, check="smb")
            return await smb.run(target, ctx)

    result = asyncio.run(go())
    assert result.error is not None and result.error.reason is ErrorReason.PROTOCOL_ERROR


def test_port_139_speaks_netbios_session_service_first(tmp_path: Any) -> None:
    """On 139 (a fixed port below the ephemeral range) probe sends an RFC 1002 session request
    before SMB. Samba would also take direct SMB there, so what this proves is that the request
    is well formed: a negative session response would make the scan an error."""
    from tests.lab.samba import SambaServer

    with SambaServer("default", tmp_path, port=139) as server:
        result = _scan(server.host, 139)
    assert result.status is Status.COMPLETED, result.error
    assert result.smb is not None
    assert result.smb.preferred_dialect == "3.1.1"
    assert list(result.smb.dialects) == server.expected["dialects"]


def test_guest_access_is_measured_without_credentials(
    samba_results: dict[str, tuple[Any, TargetResult]],
) -> None:
    for name, (server, result) in samba_results.items():
        assert result.smb is not None
        assert result.smb.guest_access is server.expected["guest_session"], name
        assert result.smb.auth is None  # no credentials given


def test_cli_with_credentials_reports_share_encryption_and_hides_the_password(
    samba_servers: Any,
) -> None:
    import json
    import os
    import subprocess
    import sys

    server = samba_servers["default"]
    env = {**os.environ, "PROBE_SMB_PASSWORD": server.password}
    run = subprocess.run(
        [sys.executable, "-m", "probe", "scan", f"smb://{server.host}:{server.port}",
         "--smb-user", server.user, "--smb-share", "secret", "--json", "-"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert server.password not in run.stdout + run.stderr
    doc = json.loads(run.stdout)
    _validate_against_schema(doc)
    auth = doc["targets"][0]["smb"]["auth"]
    assert auth["authenticated"] is True and auth["session_is_guest"] is False
    assert auth["shares"] == {"secret": {"encrypt_data": True, "accessible": True, "error": None}}
    ids = {f["id"] for f in doc["targets"][0]["findings"]}
    # the share the user named is encrypted by demand, so encryption counts as required there
    assert "SMB-ENCRYPTION-REQUIRED" not in ids
    assert "SMB-NO-GUEST" in ids  # the default configuration maps unknown users to guest


def test_a_truncated_nbss_message_is_a_clean_error() -> None:
    """A peer whose NBSS header promises 200 bytes, sends 20 and closes."""

    async def go() -> TargetResult:
        async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(4096)
            writer.write(b"\x00\x00\x00\xc8" + b"\xfeSMB" + b"\x00" * 16)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(short, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            ctx = CheckContext(
                options=ScanOptions(timeout=1.0), limits=Limits(concurrency=4, per_host=4)
            )
            return await smb.run(Target(given="x", host="127.0.0.1", port=port, check="smb"), ctx)

    result = asyncio.run(go())
    assert result.status is Status.ERROR
    assert result.error is not None and result.error.reason is ErrorReason.PROTOCOL_ERROR


def _validate_against_schema(doc: dict[str, Any]) -> None:
    import json
    from pathlib import Path

    import jsonschema

    schema_path = Path(__file__).resolve().parents[2] / "docs" / "json-output.schema.json"
    jsonschema.Draft202012Validator(json.loads(schema_path.read_text())).validate(doc)
