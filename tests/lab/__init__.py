"""The test lab: real TLS servers (openssl s_server, gnutls-serv, nginx), hostile peers and the
certificates they serve. Everything listens on 127.0.0.1 only, on ports the kernel picks.

Missing binaries are an error, never a skip: run ``scripts/install-test-deps.sh``.
"""
