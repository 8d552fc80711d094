"""HTTPS enforcement, a part of the TLS check for web targets: HSTS and the plain-HTTP side.

Which targets: ``https://`` ones, and bare hosts on port 443 (a bare host means "TLS on 443",
which users mean as a web host). ``tls://`` targets and other ports without ``https://`` are
not asked anything over HTTP; SSTP listeners neither.

* The HTTPS side: one ``GET /`` over Python's TLS (no certificate verification: the TLS grade
  judges the certificate), read up to the end of the response head. The first
  Strict-Transport-Security field counts (RFC 6797 8.1). Redirects there are not followed: the
  HSTS of the host that was asked is what matters.
* The plain side: ``GET /`` over plain TCP to port 80 (``--http-port``; 0 skips it). Up to
  :data:`MAX_REDIRECTS` redirects are followed, only to http:// URLs on the same host; a
  redirect to https:// on the same host passes, a refusal (or a filtered port) passes, an
  HTTP error status (400 "HTTP not supported" as Azure Storage answers with secure transfer
  required) passes; anything else served over plain HTTP is "content". A redirect to another
  host is never followed (``redirect_other_host``).

Errors are results: a failed HTTPS request leaves the facts None and an ``https`` entry in
``incomplete``; an unusable plain-HTTP answer gives ``http_plain: "error"`` and an ``http``
entry. Every exchange is timed out and capped (probe.net.stream, probe.codecs.http).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field

from probe.checks.context import CheckContext
from probe.codecs.errors import DecodeError
from probe.codecs.http import (
    REDIRECT_STATUSES,
    HttpAnswer,
    HttpHeadReader,
    Url,
    build_request,
    hsts_from_headers,
    normalise_host,
    resolve_redirect,
    same_host,
    shown_location,
)
from probe.model import ErrorReason, HstsFacts, Target
from probe.net.stream import Timeouts, TransportError, exchange

MAX_REDIRECTS = 3
MAX_HEADER_KEPT = 256  # characters of a raw HSTS header kept for the report
MAX_ANSWER_BYTES = 1 << 18  # everything read on one connection (the head is capped lower)


def applies(target: Target) -> bool:
    """HTTPS enforcement is measured for https:// targets and bare hosts on port 443."""
    return target.expects_https


@dataclass
class HttpsOutcome:
    """What the HTTP exchanges told; TlsFacts fields of the same names."""

    https_status: int | None = None
    hsts: HstsFacts | None = None
    hsts_header: str | None = None
    hsts_problem: str | None = None
    http_plain: str | None = None
    http_redirects_to_https: bool | None = None
    http_location: str | None = None
    connections: int = 0
    incomplete: dict[str, str] = field(default_factory=dict)


def _tls_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ValueError, ssl.SSLError, NotImplementedError):
        context.set_alpn_protocols(["http/1.1"])
    with contextlib.suppress(ValueError, ssl.SSLError):
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.set_ciphers("ALL:@SECLEVEL=0")
    return context


class _Asker:
    """One GET per connection to the target's address, under the scan's limits."""

    def __init__(self, address: str, ctx: CheckContext, out: HttpsOutcome) -> None:
        self.address = address
        self.ctx = ctx
        self.out = out
        t = ctx.options.timeout
        self.timeouts = Timeouts(connect=t, read=t)

    async def get(self, url: Url, *, connected: list[bool]) -> HttpAnswer:
        """The answer head, or TransportError / DecodeError. ``connected`` gets True once the
        TCP connection is up (to tell a filtered port from a silent server)."""
        reader = HttpHeadReader()

        def on_connect() -> None:
            self.out.connections += 1
            connected.append(True)

        async with self.ctx.limits.slot(self.address, url.port):
            await exchange(
                self.address,
                url.port,
                build_request(url),
                reader,
                timeouts=self.timeouts,
                max_bytes=MAX_ANSWER_BYTES,
                on_connect=on_connect,
                tls=_tls_context() if url.scheme == "https" else None,
                server_hostname=url.host if url.scheme == "https" else None,
            )
        if reader.answer is None:
            what = "nothing" if reader.received == 0 else "part of an HTTP head"
            raise TransportError(ErrorReason.PROTOCOL_ERROR, f"closed after {what}")
        return reader.answer


def _problem(exc: TransportError | DecodeError) -> str:
    if isinstance(exc, TransportError):
        return f"{exc.reason.value}: {exc.message}"
    return f"{ErrorReason.PROTOCOL_ERROR.value}: not a usable HTTP answer: {exc}"


async def _https_side(asker: _Asker, url: Url) -> None:
    out = asker.out
    try:
        answer = await asker.get(url, connected=[])
    except (TransportError, DecodeError) as exc:
        out.incomplete["https"] = f"GET {shown_location(str(url))}: {_problem(exc)}"
        return
    out.https_status = answer.status
    policy, raw, problem = hsts_from_headers(answer.headers)
    if policy is not None:
        out.hsts = HstsFacts(policy.max_age, policy.include_subdomains, policy.preload)
    out.hsts_header = None if raw is None else raw[:MAX_HEADER_KEPT]
    out.hsts_problem = problem


def _location(answer: HttpAnswer) -> str | None:
    values = [v for n, v in answer.headers if n.lower() == "location"]
    return values[0] if len(values) == 1 else None  # several Locations: not a usable redirect


async def _plain_side(asker: _Asker, url: Url) -> None:
    out = asker.out
    for hop in range(MAX_REDIRECTS + 1):
        connected: list[bool] = []
        try:
            answer = await asker.get(url, connected=connected)
        except TransportError as exc:
            if hop == 0 and exc.reason is ErrorReason.REFUSED:
                out.http_plain = "refused"
            elif hop == 0 and not connected and exc.reason is ErrorReason.TIMEOUT:
                out.http_plain = "no_answer"
            else:
                out.http_plain = "error"
                out.incomplete["http"] = f"GET {shown_location(str(url))}: {_problem(exc)}"
            return
        except DecodeError as exc:
            out.http_plain = "error"
            out.incomplete["http"] = f"GET {shown_location(str(url))}: {_problem(exc)}"
            return
        if answer.status < 200:
            out.http_plain = "error"
            out.incomplete["http"] = (
                f"GET {shown_location(str(url))}: an interim {answer.status} answer"
            )
            return
        location = _location(answer)
        if answer.status in REDIRECT_STATUSES and location is not None:
            try:
                target = resolve_redirect(url, location)
            except DecodeError as exc:
                out.http_plain, out.http_redirects_to_https = "content", False
                out.http_location = shown_location(location, MAX_HEADER_KEPT)
                out.incomplete["http"] = (
                    f"GET {shown_location(str(url))}: {answer.status} to {_problem(exc)}"
                )
                return
            out.http_location = shown_location(str(target), MAX_HEADER_KEPT)
            if not same_host(target.host, url.host):
                out.http_plain = "redirect_other_host"  # never followed: not ours to judge
                return
            if target.scheme == "https":
                out.http_plain, out.http_redirects_to_https = "redirect_https", True
                return
            url = target
            continue
        out.http_redirects_to_https = False
        out.http_plain = "rejected" if answer.status >= 400 else "content"
        return
    out.http_plain = "error"
    out.incomplete["http"] = (
        f"more than {MAX_REDIRECTS} redirects over plain HTTP (last: {shown_location(str(url))})"
    )


async def measure(target: Target, address: str, ctx: CheckContext) -> HttpsOutcome | None:
    """HSTS and the plain-HTTP side of one HTTPS target; None when the target is not one.
    Never raises for what the peer does."""
    if not applies(target):
        return None
    out = HttpsOutcome()
    asker = _Asker(address, ctx, out)
    host = normalise_host(target.server_name or target.host)
    jobs = [_https_side(asker, Url("https", host, target.port, "/"))]
    if ctx.options.http_port:
        jobs.append(_plain_side(asker, Url("http", host, ctx.options.http_port, "/")))
    await asyncio.gather(*jobs)
    return out
