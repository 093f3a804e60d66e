"""featviz: feature visualization for Keras 3 image models.

Three orthogonal axes, wired together by gin into one compiled loop:
objectives (what to maximise), parameterizations (how the image is represented) and transforms
(what it must survive); callbacks log to TensorBoard, save images and apply between-step
operations.

>>> import featviz as fv
>>> model = fv.load_model("demo")
>>> render = fv.Visualizer(model, fv.ClassLogit("vertical_stripes"), steps=64).run()
"""

from featviz import evaluate
from featviz.callbacks import (Animation, Callback, CallbackList, HistorySaver, ImageSaver,
                               ProgressBar, Restandardize, ScheduledTransform, TensorBoard)
from featviz.images import HSVAdjust, adjust_hsv, grid, load_image, save_png
from featviz.models import VisModel, load_model
from featviz.objectives import (LOGITS, L2, Channel, ClassLogit, ClassProbability, Features,
                                FunctionObjective, Neuron, Objective, Sum, TotalVariation,
                                class_metrics, class_objectives, objective, stack, weighted_sum)
from featviz.params import Fourier, Parameterization, Pixel
from featviz.reconstruct import Reconstruction, reconstruct
from featviz.relu import redirected_relu, redirected_relu6, redirected_relus
from featviz.render import NonFiniteError, NormalizeGradient, Render, Visualizer
from featviz.transfer import (ActivationMatch, LayerActivation, StyleMatch, channel_moments,
                              gram_matrix, target_activations)
from featviz.transforms import (Downscale, GaussianBlur, Jitter, Pad, RandomRotate, RandomScale,
                                Zoom, compose, standard_transforms)

__all__ = [
    "ActivationMatch", "Animation", "Callback", "CallbackList", "Channel", "ClassLogit",
    "ClassProbability", "Downscale", "Features", "Fourier", "FunctionObjective", "GaussianBlur",
    "HSVAdjust", "HistorySaver", "ImageSaver", "Jitter", "L2", "LOGITS", "LayerActivation",
    "Neuron", "NonFiniteError", "NormalizeGradient", "Objective", "Pad", "Parameterization",
    "Pixel", "ProgressBar", "RandomRotate", "RandomScale", "Reconstruction", "Render",
    "Restandardize", "ScheduledTransform", "StyleMatch", "Sum", "TensorBoard", "TotalVariation",
    "VisModel", "Visualizer", "Zoom", "adjust_hsv", "channel_moments", "class_metrics",
    "class_objectives", "compose", "evaluate", "gram_matrix", "grid", "load_image", "load_model",
    "objective", "reconstruct", "redirected_relu", "redirected_relu6", "redirected_relus",
    "save_png", "stack", "standard_transforms", "target_activations",
    "weighted_sum",
]
__version__ = "0.1.0"
