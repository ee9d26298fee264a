"""Project settings: `[tool.v4doctor]` in pyproject.toml, or `.v4doctor.toml`, in the working directory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from v4doctor.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEYS = {"select", "ignore", "fail-on", "model", "engine"}


def load_settings(cwd: Path | None = None) -> dict[str, Any]:
    cwd = cwd or Path.cwd()
    own = cwd / ".v4doctor.toml"
    if own.is_file():
        return _validate(_read(own), own)
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        return _validate(_read(pyproject).get("tool", {}).get("v4doctor", {}), pyproject)
    return {}


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read settings from {path}: {exc}") from None


def _validate(section: dict[str, Any], path: Path) -> dict[str, Any]:
    unknown = set(section) - KEYS
    if unknown:
        raise UsageError(f"{path}: unknown v4doctor setting(s): {', '.join(sorted(unknown))}")
    for key in ("select", "ignore"):
        if key in section and not (isinstance(section[key], list) and all(isinstance(v, str) for v in section[key])):
            raise UsageError(f"{path}: '{key}' must be a list of check ids or categories")
    if section.get("fail-on", "error") not in ("error", "warning"):
        raise UsageError(f"{path}: 'fail-on' must be 'error' or 'warning'")
    return section
