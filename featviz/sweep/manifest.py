"""The manifest: which work items of a sweep directory are finished, for which model and config.

`manifest.json` holds the model name, the hash of the sweep's config and one entry per finished
item (its key, files, final objective values, and failures). An item's files are written first,
each atomically, and its entry last, by an atomic rewrite of the whole manifest: a process
killed at any point leaves either a complete entry or none, and files without an entry are
written again by the next run. Only the process that runs the sweep writes here (workers return
their renders to it), so there is one writer.

The config hash covers every gin binding except those that say where and which units to run
(`WHERE_TO_RUN`, or the `ignore` prefixes a job gives): a rerun with more layers, channels or
seeds extends a sweep, another recipe is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from featviz.io import atomic_write

MANIFEST = "manifest.json"
# Bindings that choose which units to render and where, not how: excluded from the hash.
WHERE_TO_RUN = ("sweep.layers", "sweep.channels", "sweep.seeds", "sweep.examples",
                "sweep.examples_k", "sweep.examples_batch", "RayExecutor.", "LocalExecutor.")


class ConfigMismatchError(ValueError):
    """A sweep directory holds results of another model or config."""


def _bindings(config: str) -> list[str]:
    """The bindings of a `gin.config_str()` text, each with its continuation lines."""
    bindings: list[list[str]] = []
    for line in config.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace() and bindings:
            bindings[-1].append(line)
        else:
            bindings.append([line])
    return ["\n".join(lines) for lines in bindings]


def config_hash(config: str, ignore: tuple[str, ...] = WHERE_TO_RUN) -> str:
    """A digest of a gin config text (`gin.config_str()`), without the bindings whose selector
    starts with one of `ignore` (by default `WHERE_TO_RUN`)."""
    kept = [b for b in _bindings(config) if not b.split("=")[0].strip().startswith(ignore)]
    return hashlib.sha256("\n".join(sorted(kept)).encode()).hexdigest()[:16]


class Manifest:
    """The finished items of one sweep directory.

    Args:
        directory: the sweep directory.
        model: the model's name.
        config: the sweep's gin config text (`gin.config_str()`).
        ignore: selector prefixes of the bindings the config hash leaves out.

    Raises:
        ConfigMismatchError: the directory's manifest was written for another model or
            config hash; the message names both and how to proceed.
    """

    def __init__(self, directory: str | os.PathLike, model: str, config: str,
                 ignore: tuple[str, ...] = WHERE_TO_RUN) -> None:
        self.path = Path(directory) / MANIFEST
        self.model = model
        self.config_hash = config_hash(config, ignore)
        self._data: dict[str, Any] = {"model": model, "config_hash": self.config_hash, "items": {}}
        if self.path.exists():
            stored = json.loads(self.path.read_text())
            if (stored.get("model"), stored.get("config_hash")) != (model, self.config_hash):
                raise ConfigMismatchError(
                    f"{str(self.path.parent)!r} holds a sweep of model {stored.get('model')!r} with "
                    f"config hash {stored.get('config_hash')!r}; this run is model {model!r} with "
                    f"config hash {self.config_hash!r}, and results of two configs are never mixed. "
                    f"Use another --logdir, or --overwrite to start this directory afresh"
                )
            self._data = stored

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        """Finished items: {item id: entry}, in the order they finished."""
        return self._data["items"]

    def __contains__(self, item_id: str) -> bool:
        return item_id in self.items

    def record(self, item_id: str, entry: dict[str, Any]) -> None:
        """Marks an item finished (its files already written), rewriting the manifest atomically."""
        self.items[item_id] = entry
        self._save()

    def set_extra(self, name: str, value: Any) -> None:
        """Stores sweep-wide data (the dataset examples' index) under `name`, atomically."""
        self._data[name] = value
        self._save()

    def _save(self) -> None:
        text = json.dumps(self._data, indent=1)
        atomic_write(self.path, lambda tmp: Path(tmp).write_text(text))

    def extra(self, name: str, default: Any = None) -> Any:
        """Sweep-wide data stored by `set_extra`."""
        return self._data.get(name, default)
