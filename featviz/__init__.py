"""featviz: feature visualization for Keras 3 image models.

Three orthogonal axes, wired together by gin into one compiled loop:
objectives (what to maximise), parameterizations (how the image is represented) and transforms
(what it must survive); callbacks log to TensorBoard, save images and apply between-step
operations.

>>> import featviz as fv
>>> model = fv.load_model("demo")
>>> render = fv.Visualizer(model, fv.ClassLogit("vertical_stripes"), steps=64).run()
"""

from featviz import evaluate, recipes
from featviz.activations import Activations, activation_grid, activation_grids, activation_maps
from featviz.callbacks import (Animation, Callback, CallbackList, HistorySaver, ImageSaver,
                               ProgressBar, Restandardize, ScheduledTransform, TensorBoard)
from featviz.channels import LayerRender, channel_sweep, layers_figure, visualize_channels
from featviz.images import HSVAdjust, adjust_hsv, grid, load_image, rows_figure, save_png
from featviz.models import VisModel, load_model
from featviz.neurons import NeuronField, neuron_fields, neurons_figure, visualize_neurons
from featviz.objectives import (LOGITS, L2, Channel, ClassLogit, ClassProbability, Direction,
                                Features, FunctionObjective, Neuron, Objective, Sum, TotalVariation,
                                channel_objectives, class_metrics, class_objectives, objective,
                                stack, weighted_sum)
from featviz.params import Fourier, Parameterization, Pixel
from featviz.receptive_field import (ReceptiveField, center_position, effective_receptive_field,
                                     effective_region, receptive_field, receptive_fields)
from featviz.recipes import default_transforms
from featviz.reconstruct import Reconstruction, reconstruct
from featviz.relu import redirected_relu, redirected_relu6, redirected_relus
from featviz.render import NonFiniteError, NormalizeGradient, Render, Visualizer
from featviz.transfer import (ActivationMatch, LayerActivation, StyleMatch, channel_moments,
                              gram_matrix, target_activations)
from featviz.transforms import (Downscale, GaussianBlur, Jitter, Pad, RandomAffine, RandomRotate,
                                RandomScale, Resize, Zoom, compose, standard_transforms)

__all__ = [
    "ActivationMatch", "Activations", "Animation", "Callback", "CallbackList", "Channel",
    "ClassLogit", "ClassProbability", "Direction", "Downscale", "Features", "Fourier",
    "FunctionObjective", "GaussianBlur", "HSVAdjust", "HistorySaver", "ImageSaver", "Jitter",
    "L2", "LOGITS", "LayerActivation", "LayerRender", "Neuron", "NeuronField", "NonFiniteError",
    "NormalizeGradient", "Objective", "Pad", "Parameterization", "Pixel", "ProgressBar",
    "RandomAffine", "RandomRotate", "RandomScale", "ReceptiveField", "Reconstruction", "Render", "Resize",
    "Restandardize", "ScheduledTransform", "StyleMatch", "Sum", "TensorBoard", "TotalVariation",
    "VisModel", "Visualizer", "Zoom", "activation_grid", "activation_grids", "activation_maps",
    "adjust_hsv", "center_position", "channel_moments", "channel_objectives", "channel_sweep",
    "class_metrics", "class_objectives", "compose", "default_transforms",
    "effective_receptive_field", "effective_region", "evaluate", "gram_matrix", "grid",
    "layers_figure", "load_image", "load_model", "neuron_fields", "neurons_figure", "objective",
    "receptive_field", "receptive_fields", "recipes", "reconstruct", "redirected_relu",
    "redirected_relu6", "redirected_relus", "rows_figure", "save_png", "stack",
    "standard_transforms", "target_activations", "visualize_channels", "visualize_neurons",
    "weighted_sum",
]
__version__ = "0.1.0"
