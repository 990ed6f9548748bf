"""Wheel build hook: check the definitions once, when the wheel is built, and ship their catalog.

Every definition is checked before the runtime trusts it (meta-schemas, examples, references), which
costs several times the runtime's own start. The definitions packed into a wheel cannot change, so
they are checked here, once, and the checked catalog goes into the wheel beside them
(``component/_definitions/checked-catalog.json``, stored under the same content key the runtime
computes for the installed tree): the first run after installing starts as a warm cache would. A
tree with problems is packed without it (the runtime then checks it, and says what is wrong).
Editable installs are skipped: they read the checkout, which changes.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CheckedCatalogHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        sys.path.insert(0, str(root))
        try:
            from component import catalog, catalog_cache

            if Path(catalog.__file__).resolve().parent != root.resolve() / "component":
                self.app.display_warning(
                    f"component was imported from {catalog.__file__}, not from the tree being built: "
                    "the wheel is built without a checked catalog"
                )
                return
            loader = catalog._Loader(root)
            checked = loader.load()
            if loader.problems or checked is None:
                self.app.display_warning(
                    f"{len(loader.problems)} problem(s) in the definitions: "
                    "the wheel is built without a checked catalog (run 'component validate')"
                )
                return
            text = catalog_cache.entry_text(catalog_cache.content_key(root), checked.to_json())
        finally:
            sys.path.remove(str(root))
        self._folder = tempfile.mkdtemp(prefix="checked-catalog-")
        shipped = Path(self._folder) / catalog_cache.SHIPPED.name
        shipped.write_text(text, encoding="utf-8")
        build_data["force_include"][str(shipped)] = f"component/_definitions/{catalog_cache.SHIPPED.name}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        folder = getattr(self, "_folder", None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
