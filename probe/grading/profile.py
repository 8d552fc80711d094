"""Profiles: grading policy as data (TOML), loaded and validated strictly.

A profile is a list of requirements, each naming a rule from `probe.grading.rules.RULES` with
its params. Everything is checked at load time, so that a typo in a profile is a usage error
before a scan starts, never a crash (or a silently skipped requirement) after it.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from probe.grading.rules import RULES, SEVERITIES, ParamError, ParamValue, check_param

_PACKAGE = "probe.profiles"
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_TOP_KEYS = ("name", "description", "version", "fail_on", "requirement")
_REQUIREMENT_KEYS = ("id", "severity", "rule", "params", "rationale", "reference", "applies_to")
DEFAULT_FAIL_ON = "medium"


class ProfileError(Exception):
    """A profile could not be found, read or validated. The message names the file and key."""

    def __init__(self, source: str, key: str | None, detail: str) -> None:
        self.source = source
        self.key = key
        self.detail = detail
        where = f"{key}: " if key else ""
        super().__init__(f"profile {source}: {where}{detail}")


@dataclass(frozen=True)
class Requirement:
    id: str
    severity: str  # one of rules.SEVERITIES
    rule: str  # a key of rules.RULES
    params: Mapping[str, ParamValue]  # validated, with defaults filled in
    rationale: str
    reference: str
    applies_to: str = "tls"


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    version: str
    fail_on: str  # the lowest severity that makes a target fail
    requirements: tuple[Requirement, ...]
    source: str  # where it was loaded from: a file path or "<name>.toml" for built-ins


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped with probe, sorted."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in _builtin_dir().iterdir()
        if entry.name.endswith(".toml") and entry.is_file()
    )


def load_profile(name_or_path: str) -> Profile:
    """Load a built-in profile by name ("azure-transit") or a profile file by path.

    A value ending in ".toml" or containing a path separator is a file; anything else is the
    name of a built-in profile. Raises ProfileError on any problem.
    """
    if name_or_path.endswith(".toml") or "/" in name_or_path or "\\" in name_or_path:
        source = name_or_path
        try:
            text = Path(name_or_path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(source, None, f"cannot read: {_os_error_text(exc)}") from None
    else:
        source = f"{name_or_path}.toml"
        entry = _builtin_dir() / source
        if not _is_valid_builtin_name(name_or_path) or not entry.is_file():
            known = ", ".join(builtin_profiles())
            raise ProfileError(
                name_or_path, None, f"no built-in profile of that name (built-in: {known})"
            )
        text = entry.read_text(encoding="utf-8")
    return parse_profile(text, source=source)


def parse_profile(text: str, *, source: str) -> Profile:
    """Validate a profile's TOML text. `source` only names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(source, None, f"invalid TOML: {exc}") from None
    return _Validator(source).profile(data)


def _builtin_dir() -> Path:
    # The package's own folder, found through its __file__ rather than importlib.resources
    # (which pulls in zipfile and inspect, about 10 ms of every start here).
    # probe never ships zipped, so a real directory is always there.
    try:
        package = importlib.import_module(_PACKAGE)
    except ModuleNotFoundError:
        # A source checkout that was not installed: probe.profiles maps to ./profiles only
        # once installed (see pyproject.toml), so look beside the package.
        return Path(__file__).resolve().parents[2] / "profiles"
    return Path(str(package.__file__)).parent


def _is_valid_builtin_name(name: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name))


def _os_error_text(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


class _Validator:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str | None, detail: str) -> ProfileError:
        return ProfileError(self.source, key, detail)

    def profile(self, data: dict[str, object]) -> Profile:
        self.unknown_keys(data, _TOP_KEYS, None)
        name = self.string(data, "name", None)
        description = self.string(data, "description", None)
        version = self.string(data, "version", None)
        fail_on = self.severity(data.get("fail_on", DEFAULT_FAIL_ON), "fail_on")
        raw = data.get("requirement")
        if raw is None:
            raise self.fail("requirement", "missing (add at least one [[requirement]] table)")
        if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
            raise self.fail("requirement", "expected an array of tables ([[requirement]])")
        if not raw:
            raise self.fail("requirement", "at least one requirement is needed")
        requirements: list[Requirement] = []
        seen: dict[str, int] = {}
        for index, table in enumerate(raw):
            req = self.requirement(table, f"requirement[{index}]")
            if req.id in seen:
                raise self.fail(
                    f"requirement[{index}].id",
                    f'duplicate id "{req.id}" (also requirement[{seen[req.id]}])',
                )
            seen[req.id] = index
            requirements.append(req)
        return Profile(name, description, version, fail_on, tuple(requirements), self.source)

    def requirement(self, table: dict[str, object], key: str) -> Requirement:
        self.unknown_keys(table, _REQUIREMENT_KEYS, key)
        req_id = self.string(table, "id", key)
        if not _ID_PATTERN.fullmatch(req_id):
            raise self.fail(
                f"{key}.id", f'"{req_id}" is not a valid id (letters, digits, ".", "_", "-")'
            )
        severity = self.severity(table.get("severity"), f"{key}.severity")
        rule_name = self.string(table, "rule", key)
        rule = RULES.get(rule_name)
        if rule is None:
            raise self.fail(
                f"{key}.rule", f'unknown rule "{rule_name}" (known: {", ".join(sorted(RULES))})'
            )
        rationale = self.string(table, "rationale", key)
        reference = self.string(table, "reference", key)
        applies_to = table.get("applies_to", "tls")
        if not isinstance(applies_to, str):
            raise self.fail(f"{key}.applies_to", "expected a string")
        if applies_to not in rule.applies_to:
            raise self.fail(
                f"{key}.applies_to",
                f'rule "{rule_name}" does not apply to "{applies_to}" '
                f"(it applies to: {', '.join(rule.applies_to)})",
            )
        raw_params = table.get("params", {})
        if not isinstance(raw_params, dict):
            raise self.fail(f"{key}.params", "expected a table, e.g. params = { min = 2048 }")
        params: dict[str, ParamValue] = {}
        for param_name in raw_params:
            if param_name not in rule.params:
                known = ", ".join(rule.params) or "none"
                raise self.fail(
                    f"{key}.params.{param_name}",
                    f'unknown param for rule "{rule_name}" (its params: {known})',
                )
        for param_name, param in rule.params.items():
            where = f"{key}.params.{param_name}"
            if param_name in raw_params:
                try:
                    params[param_name] = check_param(param, raw_params[param_name])
                except ParamError as exc:
                    raise self.fail(where + exc.suffix, str(exc)) from None
            elif param.default is not None:
                params[param_name] = param.default
            else:
                raise self.fail(where, f'missing (rule "{rule_name}" requires it)')
        return Requirement(
            id=req_id,
            severity=severity,
            rule=rule_name,
            params=MappingProxyType(params),
            rationale=rationale,
            reference=reference,
            applies_to=applies_to,
        )

    def unknown_keys(
        self, table: dict[str, object], known: tuple[str, ...], key: str | None
    ) -> None:
        for name in table:
            if name not in known:
                where = f"{key}.{name}" if key else name
                raise self.fail(where, f"unknown key (known keys: {', '.join(known)})")

    def string(self, table: dict[str, object], name: str, key: str | None) -> str:
        where = f"{key}.{name}" if key else name
        if name not in table:
            raise self.fail(where, "missing")
        value = table[name]
        if not isinstance(value, str):
            raise self.fail(where, f"expected a string, got {type(value).__name__}")
        if not value.strip():
            raise self.fail(where, "must not be empty")
        return value

    def severity(self, value: object, where: str) -> str:
        if value is None:
            raise self.fail(where, "missing")
        if not isinstance(value, str):
            raise self.fail(where, f"expected a string, got {type(value).__name__}")
        if value not in SEVERITIES:
            raise self.fail(where, f'unknown severity "{value}" (known: {", ".join(SEVERITIES)})')
        return value
