"""An aiosmtpd SMTP server for the STARTTLS lab (tests/lab/starttls.py starts it).

``python smtp_server.py HOST PORT [CERT KEY]``: with a certificate and key, EHLO offers
STARTTLS with them; without, no STARTTLS. Messages are accepted and dropped.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


class DropHandler:
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 OK"


async def serve(host: str, port: int, context: ssl.SSLContext | None) -> None:
    loop = asyncio.get_running_loop()

    def factory() -> Any:
        return SMTP(DropHandler(), hostname="localhost", tls_context=context)

    server = await loop.create_server(factory, host, port)
    print(f"listening on {host}:{port} starttls={context is not None}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> None:
    host, port = argv[0], int(argv[1])
    context: ssl.SSLContext | None = None
    if len(argv) >= 4:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(argv[2], argv[3])
    asyncio.run(serve(host, port, context))


if __name__ == "__main__":
    main(sys.argv[1:])
