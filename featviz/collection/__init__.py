"""A layer's activation vectors over a set of images, and their 2-D layout: the data side of an
activation atlas (Carter et al., "Activation Atlas", Distill 2019).

- `sources`: where the images come from (`ImageFolder`, `DemoImages`);
- `collect`: a layer's activation vectors at sampled positions of every image, with their class
  attributions, streamed to resumable shards (`collect_activations`, `Collection`);
- `layout`: the 2-D UMAP layout, its grid of cells, each cell's mean direction and labels, and
  the purity measure of a layout (pure numpy, plus `umap-learn` for the layout itself).

Rendering the icons and writing the atlas is the `activation_atlas` job's
(`featviz.sweep.activation_atlas`).
"""

from featviz.collection.collect import Collection, collect_activations, sample_positions
from featviz.collection.sources import Batch, DemoImages, ImageFolder, ImageSource, as_source

__all__ = ["Batch", "Collection", "DemoImages", "ImageFolder", "ImageSource", "as_source",
           "collect_activations", "sample_positions"]
