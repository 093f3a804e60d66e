"""featviz: feature visualization for Keras 3 image models.

Three orthogonal axes, wired together by gin into one compiled loop: objectives (what to
maximise), parameterizations (how the image is represented) and transforms (what it must
survive); between-step operations change the images between steps, callbacks observe (log to
TensorBoard, save images), and jobs turn a config into renders and written results.

The layers, from the top (each imports only from below it; `lint-imports` checks this):
`cli` -> `sweep` -> `jobs` -> `render` (the loop) -> `callbacks`, `recipes`, `operations` ->
`analysis`, `collection` -> `objectives`, `params`, `transforms` -> `models` -> `atlas` ->
`io`, `demo`.

>>> import featviz as fv
>>> model = fv.load_model("demo")
>>> render = fv.Visualizer(model, fv.ClassLogit("vertical_stripes"), steps=64).run()
"""

from featviz import configs, recipes
from featviz.analysis import evaluate
from featviz.analysis.receptive_field import (ReceptiveField, center_position,
                                              effective_receptive_field, effective_region,
                                              receptive_field, receptive_fields)
from featviz.callbacks import (Animation, Callback, CallbackList, GradientMagnitude, HistorySaver,
                               ImageSaver, ProgressBar, TensorBoard)
from featviz.collection import Collection, DemoImages, ImageFolder, collect_activations
from featviz.collection.layout import bin_layout, umap_layout
from featviz.io import HSVAdjust, adjust_hsv, grid, load_image, rows_figure, save_png
from featviz.jobs import (Accentuation, Caricature, Dream, accentuate, caricature, deepdream,
                          Activations, LayerRender, NeuronField, Outputs, Reconstruction, Run,
                          Variant, activation_grid, activation_grids, activation_maps,
                          channel_sweep, layers_figure, neuron_fields, neurons_figure,
                          reconstruct, visualize_channels, visualize_neurons)
from featviz.models import LOGITS, VisModel, load_model, redirected_relu, redirected_relu6
from featviz.objectives import (L2, ActivationDot, ActivationMatch, Alignment, Channel, ChannelInterpolate,
                                Diversity, Opacity, frame_distances, gram_similarity, ClassLogit, ClassProbability,
                                Direction, Features, FunctionObjective, LayerActivation, Neuron,
                                Objective, StyleMatch, Sum, TotalVariation, channel_moments,
                                channel_objectives, class_metrics, class_objectives, gram_matrix,
                                objective, stack, target_activations, weighted_sum)
from featviz.operations import BetweenSteps, NormalizeGradient, Restandardize, ScheduledTransform
from featviz.params import (CPPN, Fourier, Maco, Parameterization, Pixel, SharedLowRes,
                            Transparent, natural_spectrum)
from featviz.recipes import default_transforms
from featviz.render import NonFiniteError, Render, StopToken, Visualizer
from featviz.sweep import (Atlas, ItemResult, LocalExecutor, Manifest, RayExecutor, WorkItem,
                           activation_atlas, channel_items, render_items)
from featviz.transforms import (CentreWindow, CompositeRandomBackground, Downscale, GaussianBlur, Jitter, Pad,
                                RandomAffine, RandomBlur, RandomCrop, RandomRotate, RandomScale, Resize,
                                Zoom,
                                compose, standard_transforms)

__all__ = [
    "Accentuation", "ActivationDot", "Caricature", "Dream", "accentuate", "caricature", "deepdream",
    "CPPN", "Alignment", "CentreWindow", "ChannelInterpolate", "CompositeRandomBackground", "Diversity",
    "GradientMagnitude", "Maco", "Opacity", "RandomCrop", "SharedLowRes", "Transparent",
    "frame_distances", "gram_similarity", "natural_spectrum",
    "ActivationMatch", "Activations", "ItemResult", "LocalExecutor", "Manifest", "RayExecutor",
    "WorkItem", "channel_items", "render_items", "Animation", "BetweenSteps", "Callback", "CallbackList",
    "Atlas", "Collection", "DemoImages", "ImageFolder",
    "Channel", "ClassLogit", "ClassProbability", "Direction", "Downscale", "Features", "Fourier",
    "FunctionObjective", "GaussianBlur", "HSVAdjust", "HistorySaver", "ImageSaver", "Jitter",
    "L2", "LOGITS", "LayerActivation", "LayerRender", "Neuron", "NeuronField", "NonFiniteError",
    "NormalizeGradient", "Objective", "Outputs", "Pad", "Parameterization", "Pixel",
    "ProgressBar", "RandomAffine", "RandomBlur", "RandomRotate", "RandomScale", "ReceptiveField",
    "Reconstruction", "Render", "Resize", "Restandardize", "Run", "ScheduledTransform", "StopToken",
    "StyleMatch", "Sum", "TensorBoard", "TotalVariation", "Variant", "VisModel", "Visualizer",
    "Zoom", "activation_atlas", "activation_grid", "activation_grids", "activation_maps",
    "adjust_hsv",
    "bin_layout", "collect_activations", "umap_layout",
    "center_position", "channel_moments", "channel_objectives", "channel_sweep", "class_metrics",
    "class_objectives", "compose", "configs", "default_transforms", "effective_receptive_field",
    "effective_region", "evaluate", "gram_matrix", "grid", "layers_figure", "load_image",
    "load_model", "neuron_fields", "neurons_figure", "objective", "receptive_field",
    "receptive_fields", "recipes", "reconstruct", "redirected_relu", "redirected_relu6",
    "rows_figure", "save_png", "stack", "standard_transforms", "target_activations",
    "visualize_channels", "visualize_neurons", "weighted_sum",
]
__version__ = "0.1.0"
