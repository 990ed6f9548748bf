"""Where the definitions live, and the precompiled catalog kept under their content hash.

Checking every definition (meta-schema validation of each input schema, every example, every
reference) is the expensive part of loading. Once a tree of definitions has passed every check, its
catalog JSON is stored under a key that hashes the manifest, every definition file on disk (path and
bytes), the runtime's own source and its declared schema vocabulary. Any change to any of them is a
new key, so a stale entry is never read: the next load checks everything again. A hit lets
``component catalog --json`` answer without loading the runtime at all and lets the runtime skip the
checks already passed.

The cache lives in ``$COMPONENT_CACHE_DIR`` (``off`` disables it), else
``$XDG_CACHE_HOME/fieldservice-component`` or ``~/.cache/fieldservice-component``. A cache that
cannot be written is silently skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .version import __version__

ROOT_ENV = "COMPONENT_ROOT"
CACHE_ENV = "COMPONENT_CACHE_DIR"
DEFINITION_FOLDERS = ("actions", "datasources", "triggers")
_PACKAGE = Path(__file__).resolve().parent


def default_root() -> Path:
    """Where the definitions live: $COMPONENT_ROOT, the checkout, or the copy packed into the wheel."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV])
    for candidate in (_PACKAGE / "_definitions", _PACKAGE.parent):
        if (candidate / "manifest.json").is_file():
            return candidate
    return _PACKAGE.parent


def checkout_root(start: Path) -> Path | None:
    """The checkout ``start`` is in: the nearest folder, ``start`` or above, holding ``manifest.json``
    and an ``actions/`` folder; None outside one."""
    for folder in (start, *start.parents):
        if (folder / "manifest.json").is_file() and (folder / "actions").is_dir():
            return folder
    return None


def cache_dir() -> Path | None:
    configured = os.environ.get(CACHE_ENV)
    if configured == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fieldservice-component"


def definition_files(root: Path) -> list[Path]:
    """The manifest and every JSON file in the definition folders, registered or not."""
    files = [root / "manifest.json"]
    for folder in DEFINITION_FOLDERS:
        if (root / folder).is_dir():
            files.extend(sorted((root / folder).rglob("*.json")))
    return files


def content_key(root: Path) -> str:
    """A digest of the definitions under ``root`` and of the runtime that checks them."""
    digest = hashlib.sha256(__version__.encode())
    for source in sorted(_PACKAGE.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    vocabulary = _PACKAGE / "schema" / "vocabulary.json"
    digest.update(vocabulary.read_bytes() if vocabulary.is_file() else b"\0missing")
    for file in definition_files(root):
        try:
            content = file.read_bytes()
        except OSError:
            content = b"\0missing"
        digest.update(file.relative_to(root).as_posix().encode() + b"\0" + content + b"\0")
    return digest.hexdigest()


def _entry(key: str) -> Path | None:
    folder = cache_dir()
    return folder / f"catalog-{key[:32]}.json" if folder else None


def read(key: str) -> dict[str, Any] | None:
    """The catalog JSON stored for ``key``, or None when there is none (or it is unreadable)."""
    entry = _entry(key)
    if entry is None:
        return None
    try:
        stored = _decode(entry.read_bytes())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(stored, dict)
        or stored.get("key") != key
        or not isinstance(stored.get("catalog"), dict)
    ):
        return None
    catalog: dict[str, Any] = stored["catalog"]
    return catalog


def _decode(data: bytes) -> Any:
    """A stored entry read back: msgspec reads it in about half of json's time; what msgspec refuses
    (an entry cut short, not JSON) goes to json, which says why or reads it as before."""
    import msgspec

    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        return json.loads(data.decode("utf-8"))


def write(key: str, catalog: dict[str, Any]) -> None:
    """Store a checked catalog's JSON under ``key`` (atomically; silently skipped when not writable)."""
    entry = _entry(key)
    if entry is None:
        return
    import tempfile

    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=entry.parent, prefix=".catalog-", suffix=".tmp", delete=False
        ) as handle:
            json.dump({"key": key, "catalog": catalog}, handle)
        os.replace(handle.name, entry)
    except OSError:
        return


def cached_catalog(root: Path | None = None) -> dict[str, Any] | None:
    """The catalog JSON of the definitions under ``root`` if they were checked unchanged before."""
    return read(content_key((root or default_root()).resolve()))
