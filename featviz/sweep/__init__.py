"""Sweeps: many batches of objectives as resumable work items, locally or on a Ray cluster.

The API is built so that any batch of objectives can be swept, not only channels:

* `WorkItem(group, units, seed, objectives, bindings=(), gin=())` is one batch, one image per
  objective, rendered by one `Visualizer` run (`featviz.sweep.items`). `channel_items` cuts the
  channels of layers into blocks of `block_size`; an activation atlas makes one item per block
  of `Direction` objectives, with `group="atlas"` and `units` its icon indices.
* An executor (`LocalExecutor`, `RayExecutor`; `featviz.sweep.executors`) renders items with
  workers that parse the sweep's gin config and load the model once, and yields an
  `ItemResult` per item (images, objective curves, the item's own failures).
* A `Manifest` (`featviz.sweep.manifest`) records finished items atomically, for one model and
  one config hash, so a rerun renders only what is missing and another config is refused.
* `render_items(run, items, executor, manifest, config)` ties them together with one progress
  bar; `sweep(run, layers, ...)` (`featviz sweep CONFIG`) adds dataset examples
  (`featviz.sweep.examples`), TensorBoard grids and HParams, and the atlas (`featviz.atlas`).
"""

from featviz.sweep.examples import Example, top_examples
from featviz.sweep.executors import (Executor, ItemRenderer, ItemResult, LocalExecutor,
                                     LostItemError, RayExecutor)
from featviz.sweep.items import WorkItem, blocks, channel_items, parse_grid
from featviz.sweep.job import ATLAS, render_items, sweep, write_result
from featviz.sweep.manifest import MANIFEST, ConfigMismatchError, Manifest, config_hash

__all__ = [
    "ATLAS", "MANIFEST", "ConfigMismatchError", "Example", "Executor", "ItemRenderer", "ItemResult",
    "LocalExecutor", "LostItemError", "Manifest", "RayExecutor", "WorkItem", "blocks",
    "channel_items", "config_hash", "parse_grid", "render_items", "sweep", "top_examples",
    "write_result",
]
