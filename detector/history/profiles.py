"""Named threshold profiles on disk, and a compact form for URLs.

A profile is a complete :class:`~detector.layers.heuristics.Thresholds` in JSON. Named
profiles live in ``data_dir()/profiles/<name>.json``. For links, :func:`to_query`
packs only the numbers that differ from the defaults (JSON, zlib, URL-safe base64),
so a shared URL reproduces the profile without any file.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import zlib
from dataclasses import asdict
from pathlib import Path

from ..config import data_dir
from ..files import atomic_write_text
from ..layers.heuristics import ProfileError, Thresholds

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
MAX_QUERY_CHARS = 4000


def check_name(name: str) -> str:
    """Return ``name`` stripped, or raise :class:`ProfileError` when it can't be a file name."""
    name = (name or "").strip()
    if not _NAME.match(name) or name.endswith("."):
        raise ProfileError(
            "A profile name is 1 to 64 letters, digits, spaces, dots, dashes or underscores, "
            f"starting with a letter or digit (not {name!r})."
        )
    return name


class ProfileLibrary:
    """The named profiles in one folder (default ``data_dir()/profiles``)."""

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder is not None else data_dir() / "profiles"

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json") if _NAME.match(p.stem))

    def path(self, name: str) -> Path:
        return self.folder / f"{check_name(name)}.json"

    def save(self, name: str, thresholds: Thresholds) -> Path:
        """Write (or overwrite) a profile atomically and return its path."""
        path = self.path(name)
        text = thresholds.validate().to_json() + "\n"
        return atomic_write_text(path, text)

    def load(self, name: str) -> Thresholds:
        path = self.path(name)
        if not path.is_file():
            raise ProfileError(f"There is no saved profile called {name!r}.")
        return Thresholds.load(path)

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)


def _diff(data: dict, default: dict) -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            sub = {k: v for k, v in value.items() if v != default[key][k]}
            if sub:
                out[key] = sub
        elif value != default[key]:
            out[key] = value
    return out


def to_query(thresholds: Thresholds) -> str | None:
    """A short URL-safe token for ``thresholds``; ``None`` for the defaults."""
    changed = _diff(asdict(thresholds), asdict(Thresholds()))
    if not changed:
        return None
    raw = json.dumps(changed, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def from_query(token: str) -> Thresholds:
    """Rebuild thresholds from :func:`to_query`'s token, validating every number."""
    if not token or len(token) > MAX_QUERY_CHARS:
        raise ProfileError("The profile in this link is empty or too long.")
    try:
        raw = zlib.decompressobj().decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)), 64_000)
        changed = json.loads(raw)
    except (binascii.Error, zlib.error, ValueError):
        raise ProfileError("The profile in this link is damaged; the default thresholds are used instead.") from None
    if not isinstance(changed, dict):
        raise ProfileError("The profile in this link is not a set of thresholds.")
    data = asdict(Thresholds())
    for key, value in changed.items():
        if key not in data:
            raise ProfileError(f"Unknown key in the link's profile: {key}.")
        if isinstance(data[key], dict):
            if not isinstance(value, dict):
                raise ProfileError(f"{key} in the link's profile must be an object.")
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return Thresholds.from_dict(data)


__all__ = ["MAX_QUERY_CHARS", "ProfileLibrary", "check_name", "from_query", "to_query"]
