"""Where the definitions live, and the precompiled catalog kept under their content hash.

Checking every definition (meta-schema validation of each input schema, every example, every
reference) is the expensive part of loading. Once a tree of definitions has passed every check, its
catalog JSON is stored under a key that hashes the manifest, every definition file on disk (path and
bytes), the runtime's own source and its declared schema vocabulary. Any change to any of them is a
new key, so a stale entry is never read: the next load checks everything again. A hit lets
``component catalog --json`` answer without loading the runtime at all and lets the runtime skip the
checks already passed.

An entry holds the catalog as ``component catalog --json`` prints it (indented), after a one-line
header naming its key and length, so a hit prints it without decoding or encoding anything.

Hashing every file's bytes is most of a warm start's own work, so the key is also remembered under
a stamp of the same files' ``stat`` (size, modification and change times, inode), as git's index
does: an unchanged stamp names the key without reading a file. A file changed within the last
seconds is not stamped (its times may not yet tell a second change apart from the first, git's
"racy" case), so such a tree is hashed until it settles.

A tree that changed is checked unit by unit: each unit of checks (a definition file; its schemas;
its examples; a connector; its connection test) is keyed by a digest of the runtime and of every
input its checks read, and the keys of the units of a tree that passed are remembered
(``checked-units``). A unit whose key is remembered is not checked again, so the first run after
editing one definition checks that one; the checks that read across files always run.

The cache lives in ``$COMPONENT_CACHE_DIR`` (``off`` disables it), else
``$XDG_CACHE_HOME/fieldservice-component`` or ``~/.cache/fieldservice-component``. A cache that
cannot be written is silently skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
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
    return [Path(path) for _, path in _definition_entries(root)]


Files = list[tuple[str, str]]
"""Files as ``(the name a key hashes them under, path)``."""


def definition_names(root: Path) -> list[str]:
    """Each of :func:`definition_files` by its name relative to ``root`` (``actions/x/y.json``)."""
    return [name for name, _ in _definition_entries(root)]


def _definition_entries(root: Path) -> Files:
    """Each of :func:`definition_files` as ``(name relative to root, path)``: strings, not paths (the
    listing is most of a warm start's own work)."""
    base = os.fspath(root)
    entries = [("manifest.json", os.path.join(base, "manifest.json"))]
    for folder in DEFINITION_FOLDERS:
        found = sorted(_json_files(os.path.join(base, folder)))
        entries.extend((path[len(base) + 1 :].replace(os.sep, "/"), path) for path in found)
    return entries


def _json_files(folder: str, seen: frozenset[str] = frozenset()) -> Iterator[str]:
    """Every ``*.json`` file under ``folder`` (none when it is missing), linked folders entered (once
    each: a link back up is not followed again), so the key covers every file a registered path can
    reach through them; ``rglob`` in a third of its time, which a warm start notices."""
    try:
        real = os.path.realpath(folder)
        entries = [] if real in seen else list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.is_dir():
            yield from _json_files(entry.path, seen | {real})
        elif entry.name.endswith(".json") and entry.is_file():
            yield entry.path


def _runtime_files() -> Files:
    """The files of the runtime that checks definitions, as ``(name it is hashed under, path)``: its
    Python source, every subpackage's too (the checks import some), and its schema vocabulary."""
    base = os.fspath(_PACKAGE)
    found: Files = []
    for folder, folders, files in os.walk(base):
        folders[:] = sorted(name for name in folders if name not in ("__pycache__", "_definitions"))
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                found.append((path[len(base) + 1 :].replace(os.sep, "/"), path))
    found.append(("\0vocabulary", os.path.join(base, "schema", "vocabulary.json")))
    return found


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError:
        return None


def _hash(digest: Any, name: str, content: bytes | None) -> None:
    """A file's name and bytes into ``digest``, each preceded by its length, so no two sets of files
    share a digest by moving bytes from one file into the next."""
    if content is None:
        digest.update(f"{len(name)}:{name}missing\0".encode())
    else:
        digest.update(f"{len(name)}:{name}{len(content)}:".encode() + content)


def runtime_digest(files: Files | None = None) -> bytes:
    """A digest of the runtime that checks definitions: its version, source and vocabulary
    (``files``: :func:`_runtime_files`, where the caller listed them)."""
    digest = hashlib.sha256(__version__.encode())
    for name, path in _runtime_files() if files is None else files:
        _hash(digest, name, _read(path))
    return digest.digest()


class Snapshot:
    """The bytes a content key was computed from: the runtime's digest and each definition file's
    bytes by its name relative to the root (a file that could not be read is absent). A load that
    checks these bytes, and no other, may store its catalog under this key. (A plain class: a warm
    start imports no dataclasses.)"""

    __slots__ = ("files", "key", "runtime")

    def __init__(self, key: str, runtime: bytes, files: dict[str, bytes]) -> None:
        self.key, self.runtime, self.files = key, runtime, files


def snapshot(root: Path, listed: tuple[Files, Files] | None = None) -> Snapshot:
    """The definitions under ``root`` read once, and their :func:`content_key` (``listed``: the
    runtime's files and the definitions, where the caller listed them)."""
    runtime_files, definitions = listed or (_runtime_files(), _definition_entries(root))
    runtime = runtime_digest(runtime_files)
    digest = hashlib.sha256(runtime)
    files: dict[str, bytes] = {}
    for name, path in definitions:
        content = _read(path)
        _hash(digest, name, content)
        if content is not None:
            files[name] = content
    return Snapshot(digest.hexdigest(), runtime, files)


def content_key(root: Path) -> str:
    """A digest of the definitions under ``root`` and of the runtime that checks them."""
    return snapshot(root).key


_TAKEN: dict[Path, Snapshot] = {}


def taken(root: Path, key: str) -> Snapshot | None:
    """The snapshot :func:`key_for` read ``root`` into to compute ``key`` in this process (once: it is
    handed over, not kept), so a load checks the very bytes the key names without reading them again."""
    held = _TAKEN.pop(root, None)
    return held if held is not None and held.key == key else None


SETTLED_NS = 2_000_000_000
"""How long ago a file must have changed for its ``stat`` to stand for its bytes (see above)."""


def _stamp(root: Path, keyed: Files) -> tuple[str, bool]:
    """A digest of the ``stat`` of the files the key covers (``keyed``: the runtime's, then the
    definitions), and whether every one of them changed long enough ago (:data:`SETTLED_NS`) for the
    digest to stand for their bytes."""
    import time

    digest = hashlib.sha256(f"{__version__}\0{root}".encode())
    newest = 0
    for name, path in keyed:
        try:
            info = os.stat(path)
        except OSError:
            digest.update(name.encode() + b"\0missing\0")
            continue
        digest.update(
            f"{name}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ctime_ns}\0{info.st_ino}\0{info.st_dev}\0".encode()
        )
        newest = max(newest, info.st_mtime_ns, info.st_ctime_ns)
    settled = time.time_ns() - newest >= SETTLED_NS
    return digest.hexdigest(), settled


def key_for(root: Path) -> str:
    """:func:`content_key` of ``root``, read from the stamp index when the files are unchanged."""
    folder = cache_dir()
    listed = _runtime_files(), _definition_entries(root)  # listed once, for the stamp and the snapshot
    stamp, settled = ("", False) if folder is None else _stamp(root, [*listed[0], *listed[1]])
    pointer = None if folder is None else folder / f"stamp-{stamp[:32]}"
    try:
        known = "" if pointer is None else pointer.read_text(encoding="ascii")
    except (OSError, UnicodeError):
        known = ""
    if len(known) == 64 and known.isalnum():
        return known
    read = _TAKEN[root] = snapshot(root, listed)
    if settled and pointer is not None:
        _store(pointer, read.key)
    return read.key


def _entry(key: str) -> Path | None:
    folder = cache_dir()
    return folder / f"catalog-{key[:32]}.json" if folder else None


SHIPPED = _PACKAGE / "_definitions" / "checked-catalog.json"
"""The catalog of the packed definitions, checked when the wheel was built (``hatch_build.py``): an
entry like the cache's, so the first run after installing needs no check. Read whatever
``$COMPONENT_CACHE_DIR`` says (it is part of the package, not of the cache), and only under its key."""


def read_text(key: str) -> str | None:
    """The catalog stored for ``key`` as ``catalog --json`` prints it (from the cache, else the one
    shipped in the wheel), or None when there is none (or the entry is not whole)."""
    for entry in (_entry(key), SHIPPED):
        text = None if entry is None else _entry_text(entry, key)
        if text is not None:
            return text
    return None


def _entry_text(entry: Path, key: str) -> str | None:
    try:
        data = entry.read_bytes()
        header, _, body = data.partition(b"\n")
        return body.decode("utf-8") if _whole(header, key, len(body)) else None
    except (OSError, ValueError):
        return None


def _whole(header: bytes, key: str, length: int) -> bool:
    """Whether an entry's header names ``key`` and the length its body has."""
    stored = json.loads(header)
    return isinstance(stored, dict) and stored.get("key") == key and stored.get("length") == length


def known(key: str) -> bool:
    """Whether a whole entry is stored for ``key`` (its header read, not its body)."""
    for entry in (_entry(key), SHIPPED):
        if entry is None:
            continue
        try:
            with entry.open("rb") as handle:
                header = handle.readline().rstrip(b"\n")
                if _whole(header, key, os.fstat(handle.fileno()).st_size - len(header) - 1):
                    return True
        except (OSError, ValueError):
            continue
    return False


def catalog_of(text: str) -> dict[str, Any] | None:
    """A stored entry's catalog as data (None when it is not a JSON object)."""
    try:
        catalog = _decode(text.encode("utf-8"))
    except ValueError:
        return None
    return catalog if isinstance(catalog, dict) else None


def _decode(data: bytes) -> Any:
    """A stored entry read back: msgspec reads it in about half of json's time; what msgspec refuses
    goes to json, which says why or reads it as before."""
    import msgspec

    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        return json.loads(data.decode("utf-8"))


def _store(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a file of this process's own, then renamed over it);
    silently skipped when the folder is not writable."""
    temporary = path.parent / f".{path.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "x", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()


def entry_text(key: str, catalog: dict[str, Any]) -> str:
    """A checked catalog as an entry holds it: a header naming its key and length, then the catalog
    as ``catalog --json`` prints it."""
    from .redact import json_text

    body = json_text(catalog, indent=2)
    header = json.dumps({"key": key, "length": len(body.encode("utf-8"))})
    return f"{header}\n{body}"


def store(key: str, catalog: dict[str, Any]) -> None:
    """Store a checked catalog under ``key``, the key of the :class:`Snapshot` checked; atomically,
    silently skipped when the cache is off or not writable."""
    entry = _entry(key)
    if entry is not None:
        _store(entry, entry_text(key, catalog))


# --- checks passed, one file at a time ------------------------------------------------------------

UNITS = "checked-units"
MAX_UNITS = 20_000
"""Most unit keys remembered (33 bytes each): a tree of 150 definitions changed a hundred times over."""


def unit_key(runtime: bytes, *parts: bytes) -> str:
    """The key of one unit of checks (a definition file, its schemas…) under the runtime ``runtime``
    (:func:`runtime_digest`): a digest of every input its checks read, each length-prefixed."""
    digest = hashlib.sha256(runtime)
    for part in parts:
        digest.update(f"{len(part)}:".encode() + part)
    return digest.hexdigest()[:32]


def checked_units() -> list[str]:
    """The unit keys whose checks passed in a tree that passed as a whole, oldest first."""
    folder = cache_dir()
    if folder is None:
        return []
    try:
        return (folder / UNITS).read_text(encoding="ascii").split()
    except (OSError, UnicodeError):
        return []


def remember_units(units: list[str], known: list[str]) -> None:
    """Remember ``units`` (of a tree that passed every check), when some were not ``known`` yet: they
    become the newest, the oldest beyond :data:`MAX_UNITS` go. What another process remembered since
    ``known`` was read is kept (the file is read again just before it is replaced); silently skipped
    when the cache is off or not writable."""
    folder = cache_dir()
    if folder is None or set(units) <= set(known):
        return
    ours = dict.fromkeys(units)
    others = [unit for unit in checked_units() if unit not in ours]
    _store(folder / UNITS, "\n".join([*others, *ours][-MAX_UNITS:]) + "\n")
