"""Reconstruction from features: how much of an image does one layer's activation pattern keep?

The `reconstruct` job (gin: `experiment.job = @reconstruct`) starts from noise and optimizes one
image per chosen layer so that the layer's activations match those of a target image
(`ActivationMatch`), as Mahendran & Vedaldi, "Understanding Deep Image Representations by
Inverting Them" (CVPR 2015). All layers run as one batch (image i matches layer i), once per
*variant*: a `Variant` names a way of running the optimization, e.g. `plain` (no tricks) and
`tricks` (gradient normalisation, scheduled blur and zoom, as for class visualization, the
default `TRICKS`). A variant's `Visualizer` is built within the gin scope of its name, so a
config can also set anything else per variant (`tricks/Visualizer.learning_rate = 0.1`). Early
layers pin the image down almost exactly; deep layers keep what is there but lose where.

Outputs in the run directory: `reconstruction.png` (one row per variant: the original, then one
reconstruction per layer), `reconstruction.csv` and `reconstruction.md` (per variant and layer:
relative feature error at the start and the end, pixel MSE and PSNR against the original),
TensorBoard scalars `reconstruction/<variant>/<metric>` with the layer's index as the step, the
figure and the table; each variant's own callbacks write under `<run directory>/<variant>/`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence

import gin
import numpy as np
import tensorflow as tf

from featviz import io as image_io
from featviz.jobs.base import Outputs, RunLike, as_run, markdown_table
from featviz.models import VisModel, load_model
from featviz.objectives import ActivationMatch, stack, squared_distance, target_activations
from featviz.objectives.matching import ImageSource
from featviz.operations import BetweenSteps, NormalizeGradient, ScheduledTransform
from featviz.render import Visualizer
from featviz.transforms import GaussianBlur, Zoom

_COLUMNS = ("variant", "layer", "start_feature_error", "feature_error", "pixel_mse", "psnr_db")


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class Variant:
    """One way of running the reconstruction: a name and the loop settings it changes.

    Attributes:
        name: an identifier; the variant's row label and sub-directory, and the gin scope its
            `Visualizer` is built in (so `<name>/Visualizer.*` bindings apply to it).
        gradient_transforms: the `Visualizer`'s gradient transforms for this variant.
        between_steps: the `Visualizer`'s between-step operations for this variant.
    """

    name: str
    gradient_transforms: Sequence[Callable[[tf.Tensor], tf.Tensor]] = ()
    between_steps: Sequence[BetweenSteps] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.name):
            raise ValueError(f"variant names are gin scope names (identifiers), got {self.name!r}")

    def settings(self) -> dict:
        """The `Visualizer` arguments this variant sets itself (the rest come from gin)."""
        settings = {}
        if self.gradient_transforms:
            settings["gradient_transforms"] = tuple(self.gradient_transforms)
        if self.between_steps:
            settings["between_steps"] = tuple(self.between_steps)
        return settings


PLAIN = Variant("plain")
# The class-visualization tricks of the seed method (featviz/configs/vgg16_classes.gin): normalised
# gradients, Gaussian blur (sigma 1 pixel) and a 1% zoom every 20 steps.
TRICKS = Variant("tricks", gradient_transforms=(NormalizeGradient(),), between_steps=(
    ScheduledTransform(GaussianBlur(1.0), every=20), ScheduledTransform(Zoom(1.01), every=20)))


@dataclasses.dataclass(frozen=True)
class ReconstructionRow:
    """One layer's reconstruction in one variant.

    Attributes:
        variant: the variant (gin scope) name.
        layer: the layer whose activations were matched.
        start_feature_error: ||a - t|| / ||t|| for the initial image (noise), at the first step.
        feature_error: ||a - t|| / ||t|| for the final image.
        pixel_mse: mean squared difference from the original, pixels in [0, 1].
        psnr_db: peak signal-to-noise ratio against the original, 10 log10(1 / MSE), in dB.
    """

    variant: str
    layer: str
    start_feature_error: float
    feature_error: float
    pixel_mse: float
    psnr_db: float


@dataclasses.dataclass(frozen=True)
class Reconstruction:
    """What the `reconstruct` job returns.

    Attributes:
        original: the target image at the render size, [height, width, channels] in [0, 1].
        images: variant -> reconstructions, [layers, height, width, channels] in [0, 1].
        rows: one row per variant and layer, in run order.
    """

    original: np.ndarray
    images: dict[str, np.ndarray]
    rows: list[ReconstructionRow]


def psnr(mse: float) -> float:
    """Peak signal-to-noise ratio in dB of images in [0, 1] with mean squared error `mse`."""
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def feature_errors(model: VisModel, layers: Sequence[str], targets: dict[str, tf.Tensor],
                   images: np.ndarray) -> np.ndarray:
    """The relative feature error of image i at layer i, without transforms.

    Args:
        model: the model.
        layers: one layer per image.
        targets: {layer: the target's activations [1, ...]}, from `target_activations`.
        images: [len(layers), height, width, channels] in [0, 1].

    Returns:
        [len(layers)] float, ||a_i - t_i|| / ||t_i||.
    """
    activations = model.activations(images, layers)
    return np.array([
        float(tf.sqrt(squared_distance(activations[layer][i:i + 1], targets[layer]))[0])
        for i, layer in enumerate(layers)
    ])


@gin.register(module="featviz")
def reconstruct(
    run: RunLike,
    model: VisModel | str = gin.REQUIRED,
    image: ImageSource = gin.REQUIRED,
    layers: Sequence[str] = gin.REQUIRED,
    variants: Sequence[Variant | str] = (PLAIN, TRICKS),
    scale: int = 1,
) -> Reconstruction:
    """Reconstructs `image` from each layer's activations, once per variant.

    Args:
        run: the run (or its directory).
        model: the model, or anything `load_model` accepts.
        image: the target image: a file path or an array [height, width, channels].
        layers: the layers to reconstruct from (one image each).
        variants: `Variant`s, or names: a name is a variant configured by its gin scope alone
            (`tricks/Visualizer.gradient_transforms = [...]`). Each variant is one
            `Visualizer` run, falling back to the unscoped bindings for what it does not set;
            the objective, model and run directory are set here.
        scale: integer upscaling of the figure's tiles.

    Returns:
        The `Reconstruction`; stops after the current variant when a stop is requested.
    """
    run = as_run(run)
    variants = [Variant(variant) if isinstance(variant, str) else variant for variant in variants]
    if isinstance(layers, str) or not layers or len(set(layers)) != len(layers):
        raise ValueError(f"reconstruct needs a list of distinct layer names, got {layers!r}")
    model = load_model(model)
    # Normalised, so that the objective is the squared relative error of every layer.
    objectives = [ActivationMatch(layer, image, normalize=True) for layer in layers]
    original: np.ndarray | None = None
    images: dict[str, np.ndarray] = {}
    rows: list[ReconstructionRow] = []
    for variant in variants:
        with gin.config_scope(variant.name):
            visualizer = Visualizer(model=model, objective=stack(objectives), stop=run.stop,
                                    logdir=run.subdirectory(variant.name), **variant.settings())
        param = visualizer.param
        if original is not None and original.shape[:2] != param.shape:
            raise ValueError(
                f"every variant must render at the same size (the figure compares them); "
                f"variant {variant.name!r} renders {param.shape}, the first {original.shape[:2]}"
            )
        original = image_io.as_image_batch(image, param.shape, param.channels, 1,
                                           what="target image")[0]
        # As ActivationMatch sees them: at the model's input size, else at the render size.
        targets = target_activations(model, image, layers, model.input_size or param.shape)
        render = visualizer.run()
        images[variant.name] = render.images[: len(layers)]
        end_errors = feature_errors(model, layers, targets, images[variant.name])
        for i, (layer, objective) in enumerate(zip(layers, objectives)):
            # The first step's objective is -(relative error)^2 of the initial image, as the
            # objective saw it (through the variant's transforms, if any).
            start_error = math.sqrt(max(0.0, -float(render.history[objective.name][0, i])))
            mse = float(np.mean(np.square(images[variant.name][i] - original)))
            rows.append(ReconstructionRow(variant.name, layer, start_error, float(end_errors[i]), mse,
                                          psnr(mse)))
        if run.stop:
            break
    result = Reconstruction(original, images, rows)
    with run.outputs as outputs:
        write_outputs(outputs, result, scale)
    return result


def figure(result: Reconstruction, scale: int = 1) -> np.ndarray:
    """One row per variant: the original, then the reconstruction from each layer.

    Returns:
        float32 [height, width, 3] in [0, 1].
    """
    tiles, labels = [], []
    for variant, reconstructions in result.images.items():
        tiles.append(result.original)
        labels.append(f"{variant}: original")
        rows = [row for row in result.rows if row.variant == variant]
        for image, row in zip(reconstructions, rows):
            tiles.append(image)
            labels.append(f"{row.layer} {row.psnr_db:.1f}dB")
    columns = 1 + max(len(reconstructions) for reconstructions in result.images.values())
    return image_io.grid(np.stack(tiles), labels, columns=columns, scale=scale)


def table(rows: Sequence[ReconstructionRow]) -> str:
    """The rows as a Markdown table (errors to 3 significant digits, PSNR to 0.1 dB)."""
    return markdown_table(
        ["variant", "layer", "feature error (start)", "feature error", "pixel MSE", "PSNR (dB)"],
        [(row.variant, row.layer, f"{row.start_feature_error:.3g}", f"{row.feature_error:.3g}",
          f"{row.pixel_mse:.3g}", f"{row.psnr_db:.1f}") for row in rows])


def write_outputs(outputs: Outputs, result: Reconstruction, scale: int = 1) -> None:
    """Writes the figure, the CSV and Markdown tables and the TensorBoard summaries."""
    tiled = figure(result, scale)
    outputs.png("reconstruction.png", tiled)
    outputs.csv("reconstruction.csv", _COLUMNS,
                [[getattr(row, column) for column in _COLUMNS] for row in result.rows])
    markdown = table(result.rows)
    outputs.text("reconstruction.md", markdown)
    for variant in result.images:
        rows = [row for row in result.rows if row.variant == variant]
        # Step = the layer's index, so that each curve shows the error against depth.
        for index, row in enumerate(rows):
            for metric in ("feature_error", "pixel_mse", "psnr_db"):
                outputs.summary_scalar(f"reconstruction/{variant}/{metric}", getattr(row, metric), index)
    outputs.summary_image("reconstruction/figure", tiled)
    outputs.summary_text("reconstruction/table", markdown)
