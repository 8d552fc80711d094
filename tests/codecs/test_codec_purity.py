"""probe.codecs is sans-I/O: no module in it may import I/O, clocks or randomness."""

from __future__ import annotations

import ast
from pathlib import Path

import probe.codecs

FORBIDDEN = {"asyncio", "socket", "ssl", "time", "random", "secrets", "os", "subprocess", "select"}
CODECS = Path(probe.codecs.__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_codecs_import_no_io_modules() -> None:
    sources = sorted(CODECS.rglob("*.py"))
    assert len(sources) >= 7
    offenders = {
        str(path.relative_to(CODECS)): sorted(imported_modules(path) & FORBIDDEN)
        for path in sources
        if imported_modules(path) & FORBIDDEN
    }
    assert offenders == {}
