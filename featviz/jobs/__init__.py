"""Jobs: what `featviz run` runs, each turning a config into renders and written results.

Every job follows one pattern (`featviz.jobs.base`): `job(run, **settings)`, where `run`
(a `Run`, or a directory) gives the output directory and the stop request, the job builds its
renders with `Visualizer`s that share that request, and every file and TensorBoard summary
goes through `run.outputs`. The jobs: `visualize` (one run, the default), `channel_sweep`
(channels of several layers), `neuron_fields` (neurons and their receptive fields),
`activation_grids` (a layer's activation maps on an image), `reconstruct` (an image from
each layer's features), and from photographs `deepdream` (with octaves), `caricature` and
`accentuate` (feature accentuation over a folder). A new job is a gin-registered function of this shape in a module here.
Jobs that render many batches as resumable work items (`sweep`, `activation_atlas`) live one
layer up, in `featviz.sweep`.
"""

from featviz.jobs.activations import Activations, activation_grid, activation_grids, activation_maps
from featviz.jobs.base import Outputs, Run, as_run, experiment, save_operative_config, visualize
from featviz.jobs.channels import LayerRender, channel_sweep, layers_figure, visualize_channels
from featviz.jobs.lucid import (Accentuation, Caricature, Dream, accentuate, caricature,
                                deepdream, octave_sizes)
from featviz.jobs.neurons import NeuronField, neuron_fields, neurons_figure, visualize_neurons
from featviz.jobs.reconstruct import PLAIN, TRICKS, Reconstruction, Variant, reconstruct

__all__ = [
    "Accentuation", "Caricature", "Dream", "accentuate", "caricature", "deepdream", "octave_sizes",
    "PLAIN", "TRICKS", "Activations", "LayerRender", "NeuronField", "Outputs", "Reconstruction",
    "Run", "Variant", "activation_grid", "activation_grids", "activation_maps", "as_run",
    "channel_sweep", "experiment", "layers_figure", "neuron_fields", "neurons_figure",
    "reconstruct", "save_operative_config", "visualize", "visualize_channels",
    "visualize_neurons",
]
