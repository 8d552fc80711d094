"""Bounds-checked reading and length-prefixed writing of TLS-style wire structures.

Every read checks that the bytes are there and raises :class:`DecodeError` if not; a length
field is never trusted beyond the bytes actually present. Vectors follow the presentation
language of RFC 8446 3.4 / RFC 5246 4.3: a big-endian length of 1, 2 or 3 bytes, then the data.
"""

from __future__ import annotations

import builtins

from probe.codecs.errors import DecodeError

_WIDTHS = (1, 2, 3, 4)


class Reader:
    """Reads big-endian integers and vectors from an immutable byte string."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: builtins.bytes) -> None:
        self._data = builtins.bytes(data)
        self._pos = 0

    @property
    def offset(self) -> int:
        return self._pos

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    @property
    def eof(self) -> bool:
        return self._pos >= len(self._data)

    def _take(self, n: int) -> builtins.bytes:
        if n < 0:
            raise DecodeError(f"negative read of {n} bytes")
        if n > self.remaining:
            raise DecodeError(f"truncated: wanted {n} bytes, {self.remaining} left")
        chunk = self._data[self._pos : self._pos + n]
        self._pos += n
        return chunk

    def uint(self, width: int) -> int:
        if width not in _WIDTHS:
            raise ValueError(f"unsupported integer width {width}")
        return int.from_bytes(self._take(width), "big")

    def u8(self) -> int:
        return self.uint(1)

    def u16(self) -> int:
        return self.uint(2)

    def u24(self) -> int:
        return self.uint(3)

    def u32(self) -> int:
        return self.uint(4)

    def bytes(self, n: int) -> builtins.bytes:
        return self._take(n)

    def rest(self) -> builtins.bytes:
        return self._take(self.remaining)

    def vector(self, len_width: int, *, min_len: int = 0) -> builtins.bytes:
        """A length-prefixed byte string; the length must fit in what is left."""
        length = self.uint(len_width)
        if length < min_len:
            raise DecodeError(f"vector of {length} bytes is shorter than {min_len}")
        return self._take(length)

    def sub(self, len_width: int, *, min_len: int = 0) -> Reader:
        """A length-prefixed block, as a Reader limited to that block."""
        return Reader(self.vector(len_width, min_len=min_len))

    def expect_eof(self, what: str) -> None:
        """Fail when a structure is followed by bytes it does not define."""
        if not self.eof:
            raise DecodeError(f"{self.remaining} unexpected bytes after {what}")


class Writer:
    """Appends big-endian integers and length-prefixed vectors."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def __len__(self) -> int:
        return len(self._buf)

    def uint(self, width: int, value: int) -> None:
        if width not in _WIDTHS:
            raise ValueError(f"unsupported integer width {width}")
        if not 0 <= value < 1 << (8 * width):
            raise ValueError(f"{value} does not fit in {width} bytes")
        self._buf += value.to_bytes(width, "big")

    def u8(self, value: int) -> None:
        self.uint(1, value)

    def u16(self, value: int) -> None:
        self.uint(2, value)

    def u24(self, value: int) -> None:
        self.uint(3, value)

    def u32(self, value: int) -> None:
        self.uint(4, value)

    def bytes(self, data: builtins.bytes) -> None:
        self._buf += data

    def vector(self, len_width: int, data: builtins.bytes) -> None:
        self.uint(len_width, len(data))
        self._buf += data

    def getvalue(self) -> builtins.bytes:
        return builtins.bytes(self._buf)
