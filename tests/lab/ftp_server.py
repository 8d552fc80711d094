"""A pyftpdlib FTP server for the STARTTLS lab (tests/lab/starttls.py starts it).

``python ftp_server.py HOST PORT ROOT [CERT KEY]``: with a certificate and key it is a
``TLS_FTPHandler`` (AUTH TLS / PROT P, TLS optional); without, a plain ``FTPHandler``, which
answers AUTH with 500. Anonymous read-only access to ROOT.
"""

from __future__ import annotations

import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer


def main(argv: list[str]) -> None:
    host, port, root = argv[0], int(argv[1]), argv[2]
    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(root)
    handler: type[FTPHandler]
    if len(argv) >= 5:
        handler = TLS_FTPHandler
        TLS_FTPHandler.certfile = argv[3]
        TLS_FTPHandler.keyfile = argv[4]
    else:
        handler = FTPHandler
    handler.authorizer = authorizer
    handler.banner = "probe lab FTP ready."
    server = FTPServer((host, port), handler)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
