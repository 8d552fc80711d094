"""Helpers for the codec tests: the recorded captures and the three ways to feed them (h11's
whole / one byte at a time / with trailing data)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Protocol

CAPTURES = Path(__file__).resolve().parents[2] / "captures" / "tls"


def load_capture(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


class Feedable(Protocol):
    @property
    def done(self) -> bool: ...

    def feed(self, data: bytes) -> None: ...


def feed_whole(reader: Feedable, data: bytes) -> None:
    reader.feed(data)


def feed_bytewise(reader: Feedable, data: bytes) -> None:
    for i in range(len(data)):
        reader.feed(data[i : i + 1])


def feed_with_trailing(reader: Feedable, data: bytes) -> None:
    reader.feed(data + b"\x16\x03\x03\xff\xfftrailing garbage that must be ignored")
    reader.feed(b"HTTP/1.1 400 Bad Request\r\n")


FEEDERS: dict[str, Callable[[Feedable, bytes], None]] = {
    "whole": feed_whole,
    "bytewise": feed_bytewise,
    "trailing": feed_with_trailing,
}


def load_record_module() -> ModuleType:
    """captures/tls/record.py, which knows how to start the loopback servers."""
    name = "probe_captures_tls_record"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, CAPTURES / "record.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
