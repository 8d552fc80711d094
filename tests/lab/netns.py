"""Run a server that can only listen on every interface inside a private network namespace.

gnutls-serv has no option to choose its listen address: it binds 0.0.0.0 and [::]. The lab may
only use loopback, so it runs in a fresh network namespace (``unshare --net``; root or
unprivileged user namespaces needed) whose only interface is its own ``lo``. This module is
also the helper that runs inside that namespace: it brings ``lo`` up, starts the server, waits
until it accepts, then relays every connection made to a Unix socket (Unix sockets live in the
file system, which both namespaces share) to the server's TCP port. In the test process a
``TcpToUnixRelay`` listens on 127.0.0.1 with a kernel-picked port and forwards to that socket.

Usage inside the namespace (servers.py builds this):
    unshare --net -- python3 netns.py UNIX_PATH INNER_PORT -- server-command args...
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def bring_loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | _IFF_UP))


def _copy(src: socket.socket, dst: socket.socket) -> None:
    """Copy bytes until EOF, then half-close ``dst``; on a reset, reset ``dst`` too."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)
                return
            dst.sendall(data)
    except OSError:
        with contextlib.suppress(OSError):
            dst.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)


def pipe_sockets(a: socket.socket, b: socket.socket) -> None:
    """Relay both directions between two connected sockets, then close both."""
    back = threading.Thread(target=_copy, args=(b, a), daemon=True)
    back.start()
    _copy(a, b)
    back.join()
    a.close()
    b.close()


class TcpToUnixRelay:
    """Listens on ``host`` with a kernel-picked port; relays each connection to a Unix socket."""

    def __init__(self, unix_path: str, host: str = "127.0.0.1") -> None:
        self.unix_path = unix_path
        self._listener = socket.create_server((host, 0), backlog=512)
        self.host, self.port = self._listener.getsockname()[:2]
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="tcp-unix-relay", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(self.unix_path)
        except OSError:
            upstream.close()
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            return
        pipe_sockets(client, upstream)

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=5)


def _wait_tcp(port: int, child: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if child.poll() is not None:
            sys.exit(f"netns helper: server exited with status {child.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"netns helper: server did not accept on port {port} in {timeout} s")
            time.sleep(0.05)


def main(argv: list[str]) -> None:
    if len(argv) < 4 or argv[2] != "--":
        sys.exit("usage: netns.py UNIX_PATH INNER_PORT -- command...")
    unix_path, port, command = argv[0], int(argv[1]), argv[3:]
    bring_loopback_up()
    child = subprocess.Popen(command)

    def stop(*_: object) -> None:
        with contextlib.suppress(OSError):
            child.terminate()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def watch() -> None:  # the relay is useless once the server is gone
        child.wait()
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()
    _wait_tcp(port, child, timeout=20)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(unix_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(unix_path)
    listener.listen(512)
    print("netns helper: ready", flush=True)
    while True:
        conn, _ = listener.accept()

        def relay(conn: socket.socket = conn) -> None:
            try:
                upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
                upstream.settimeout(None)
            except OSError:
                conn.close()
                return
            pipe_sockets(conn, upstream)

        threading.Thread(target=relay, daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1:])
