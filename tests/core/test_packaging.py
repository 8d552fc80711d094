"""pyproject lists packages by hand (profiles/ ships as probe.profiles): keep the list whole."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_under_probe_is_listed() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "probe").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found | {"probe.profiles"} == listed


def test_builtin_profiles_are_in_the_shipped_folder() -> None:
    assert (ROOT / "profiles" / "__init__.py").is_file()
    assert any((ROOT / "profiles").glob("*.toml"))
