"""Sweeps: many batches of objectives as resumable work items, locally or on a Ray cluster.

The API is built so that any batch of objectives can be swept, not only channels:

* `WorkItem(group, units, seed, objectives, bindings=(), gin=())` is one batch, one image per
  objective, rendered by one `Visualizer` run (`featviz.sweep.items`). `channel_items` cuts the
  channels of layers into blocks of `block_size`; the activation atlas makes one item per block
  of `Direction` objectives, with the layer as `group` and its cell indices as `units`.
* An executor (`LocalExecutor`, `RayExecutor`; `featviz.sweep.executors`) renders items with
  workers that parse the sweep's gin config and load the model once, and yields an
  `ItemResult` per item (images, objective curves, the item's own failures).
* A `Manifest` (`featviz.sweep.manifest`) records finished items atomically, for one model and
  one config hash, so a rerun renders only what is missing and another config is refused.
* `render_items(run, items, executor, manifest, config)` ties them together with one progress
  bar; `sweep(run, layers, ...)` (`featviz sweep CONFIG`) adds dataset examples
  (`featviz.sweep.examples`), TensorBoard grids and HParams, and the atlas (`featviz.atlas`).
* `activation_atlas(run, ...)` (`featviz.sweep.activation_atlas`, `featviz atlas CONFIG`) is the
  activation atlas of a layer over a folder of images (Carter et al. 2019), whose icons are
  rendered by `render_icons` through `render_items`.
"""

from featviz.sweep.activation_atlas import COLLECTION, Atlas, Icons, activation_atlas, render_icons
from featviz.sweep.atlas_outputs import ICONS, atlas_canvas
from featviz.sweep.examples import Example, top_examples
from featviz.sweep.executors import (Executor, ItemRenderer, ItemResult, LocalExecutor,
                                     LostItemError, RayExecutor)
from featviz.sweep.items import WorkItem, blocks, channel_items, parse_grid
from featviz.sweep.job import ATLAS, render_items, sweep, write_result
from featviz.sweep.manifest import MANIFEST, ConfigMismatchError, Manifest, config_hash

__all__ = [
    "ATLAS", "COLLECTION", "ICONS", "MANIFEST", "Atlas", "ConfigMismatchError", "Example", "Executor", "Icons",
    "ItemRenderer", "ItemResult", "LocalExecutor", "LostItemError", "Manifest", "RayExecutor",
    "WorkItem", "activation_atlas", "atlas_canvas", "blocks", "channel_items", "config_hash",
    "parse_grid", "render_icons", "render_items", "sweep", "top_examples", "write_result",
]
