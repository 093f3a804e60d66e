"""Single neurons and their receptive fields.

A neuron is one channel at one position of a layer's output grid (`Neuron`; the centre by
default). `visualize_neurons` maximises one neuron per layer, one image each, in a setup where
*only the neuron's receptive field can change*: a `Pixel` parameterization at the model's input
size (one independent variable per pixel; `Fourier` would spread every change over the whole
image), no transforms (jitter, scaling and rotation move pixels across the field's border), no
resizing, and Adam without weight decay, under which a pixel whose gradient is always zero keeps
its initial value exactly. Between-step operations (`ScheduledTransform`, `Restandardize`) are
refused for the same reason.

For each neuron it reports the theoretical receptive field (`featviz.receptive_field`: the box
of pixels the neuron can see, computed from the graph), the effective one (where
`|d neuron / d image|` at the synthesized image is above a fraction of its maximum), and the
synthesized image; `neurons_figure` shows, per layer, the image with both boxes, a zoomed crop
of the theoretical field, and the gradient map. The `neuron_fields` job runs this from gin
(`featviz/configs/demo_neurons.gin`, `featviz/configs/vgg16_neurons.gin`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import gin
import keras
import numpy as np
import tensorflow as tf

from featviz import io as image_io
from featviz.analysis.receptive_field import (ReceptiveField, center_position,
                                              effective_receptive_field, effective_region,
                                              receptive_field)
from featviz.jobs.base import RunLike, as_run
from featviz.jobs.channels import layers_in_order
from featviz.models import VisModel, load_model
from featviz.objectives import Neuron, stack
from featviz.operations import BetweenSteps
from featviz.params import Pixel
from featviz.render import StopToken, Visualizer

Position = tuple[int, int]
# Colours of the boxes drawn on the images: theoretical field red, effective field yellow.
_THEORETICAL_COLOR = (1.0, 0.1, 0.1)
_EFFECTIVE_COLOR = (1.0, 0.85, 0.0)
# Visualizer arguments `visualize_neurons` sets itself.
_FIXED_ARGUMENTS = frozenset({"model", "objective", "param", "transforms", "optimizer"})


@dataclasses.dataclass(frozen=True)
class NeuronField:
    """One neuron, the image that maximises it, and its receptive fields.

    Attributes:
        layer: layer name.
        channel: channel index.
        position: (row, column) in the layer's output grid (the centre when none was given).
        image: the synthesized image, [height, width, channels] in [0, 1].
        activation: the neuron's value on `image`.
        field: the theoretical receptive field of the layer.
        region: the theoretical field of this position, (top, left, bottom, right) in input
            pixels, bottom/right exclusive, clipped to the image.
        effective: |d neuron / d image| at `image`, summed over colour channels, [height, width].
        effective_region: the box of the pixels of `effective` above the threshold (same
            convention as `region`), or None where the gradient is zero everywhere (a dead
            neuron at this image).
    """

    layer: str
    channel: int
    position: Position
    image: np.ndarray
    activation: float
    field: ReceptiveField
    region: tuple[int, int, int, int]
    effective: np.ndarray
    effective_region: tuple[int, int, int, int] | None

    def crop(self) -> np.ndarray:
        """The theoretical receptive field's part of `image`, [bottom - top, right - left, channels]."""
        top, left, bottom, right = self.region
        return self.image[top:bottom, left:right]

    def summary(self) -> dict:
        """The numbers of this result as JSON-ready values (no images)."""
        return {
            "layer": self.layer, "channel": self.channel, "position": list(self.position),
            "activation": self.activation, "rf_size": list(self.field.size),
            "rf_stride": list(self.field.stride), "region": list(self.region),
            "effective_region": None if self.effective_region is None else list(self.effective_region),
        }


def _per_layer(value: object, count: int, what: str, is_one: Callable[[object], bool]) -> list:
    """One value for every layer: a single value is repeated, a list must have `count` items."""
    if is_one(value):
        return [value] * count
    values = list(value)
    if len(values) != count:
        raise ValueError(f"{what} must be one value or one per layer ({count}); got {value!r}")
    return values


def _is_position(value: object) -> bool:
    return value is None or (
        isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value)
    )


def _check_pixel_param(model: VisModel, param: Pixel | None) -> Pixel:
    size = model.input_size
    if size is None:
        raise ValueError(
            f"visualize_neurons needs a model with a fixed input size; model {model.name!r} has "
            f"input shape {model.input_shape}"
        )
    if param is None:
        return Pixel(size=size, channels=model.input_channels)
    if not isinstance(param, Pixel) or param.shape != size:
        raise ValueError(
            f"visualize_neurons needs a Pixel parameterization at the model's input size {size} "
            f"(a Fourier image or a resize would spread changes outside the receptive field); "
            f"got {param!r}"
        )
    return param


def _check_between_steps(operations: Sequence[BetweenSteps]) -> None:
    if operations:
        raise ValueError(
            f"{type(operations[0]).__name__} edits every pixel between steps, so pixels outside "
            f"the receptive field would change; remove it from the between_steps of a neuron run"
        )


def visualize_neurons(
    model: VisModel | keras.Model | str,
    layers: Sequence[str],
    channels: int | None | Sequence[int | None] = None,
    positions: Position | None | Sequence[Position | None] = None,
    param: Pixel | None = None,
    seed: int = 0,
    erf_threshold: float = 0.01,
    logdir: str | None = None,
    stop: StopToken | None = None,
    **visualizer_args: Any,
) -> list[NeuronField]:
    """Maximises one neuron per layer, changing only the pixels of its receptive field.

    One `Visualizer` run optimizes all neurons together, one image each.

    Args:
        model: a `VisModel`, a `keras.Model` or a name `load_model` accepts; it needs a fixed
            input size.
        layers: layer names with [batch, height, width, channels] outputs; results come from
            the input towards the output.
        channels: the channel of each layer's neuron: one for all layers, or one per layer (in
            the order of `layers`); an index, or None for the channel most active at the
            neuron's position on the initial image. A ReLU neuron that is off on the initial
            image gets no gradient and never changes; None avoids choosing one.
        positions: (row, column) in the layer's output grid, None for the centre; one for all
            layers or one per layer.
        param: a `Pixel` parameterization at the model's input size (its `init` may be a
            photograph); default `Pixel` with a mid-grey, faintly noisy start.
        seed: seeds the initial images.
        erf_threshold: the effective field keeps the pixels whose gradient magnitude is above
            this fraction of its maximum.
        logdir: the run's output directory for the callbacks.
        stop: a `StopToken`; once requested, the run ends after its current step.
        **visualizer_args: passed to the `Visualizer` (steps, learning_rate, callbacks,
            gradient_transforms, metrics); under gin, the `Visualizer.*` bindings apply too.
            The transforms (none) and the optimizer (Adam) are fixed; between-step operations
            are refused.

    Returns:
        One `NeuronField` per layer, lower layers first.

    Raises:
        ValueError: a parameterization other than `Pixel` at the input size, a between-step
            operation, a bad layer, channel or position, or a `channels`/`positions` list whose
            length is not the number of layers.
        TypeError: `visualizer_args` sets what this function fixes.
    """
    fixed = sorted(_FIXED_ARGUMENTS & set(visualizer_args))
    if fixed:
        raise TypeError(
            f"visualize_neurons fixes {', '.join(fixed)} (what keeps the change inside the "
            f"receptive field); remove {fixed} from its arguments"
        )
    model = load_model(model)
    param = _check_pixel_param(model, param)
    ordered = layers_in_order(model, layers)
    layers = list(layers)
    chosen = dict(zip(layers, _per_layer(channels, len(layers), "channels",
                                         lambda v: v is None or isinstance(v, int))))
    where = {layer: _position_tuple(p)
             for layer, p in zip(layers, _per_layer(positions, len(layers), "positions", _is_position))}
    for layer in ordered:
        # Layer and position must be valid before the initial image is read there.
        Neuron(layer, 0, where[layer]).check(model)
    if any(chosen[layer] is None for layer in ordered):
        initial = param.to_images(param.initial(param.batch or len(ordered), seed))
        acts = model.activations(initial, ordered)
        for i, layer in enumerate(ordered):
            if chosen[layer] is None:
                row, col = where[layer] or center_position(model.model, layer)
                chosen[layer] = int(np.argmax(acts[layer][i, row, col]))
    neurons = [Neuron(layer, chosen[layer], where[layer]) for layer in ordered]
    # Explicit arguments override gin's Visualizer bindings: no transforms and Adam without
    # weight decay are what keep the change inside the receptive field.
    visualizer = Visualizer(model=model, objective=stack(neurons), param=param, transforms=(),
                            optimizer="adam", seed=seed, logdir=logdir, stop=stop, **visualizer_args)
    _check_between_steps(visualizer.between_steps)
    images = visualizer.run().images
    activations = model.activations(images, ordered)
    return [
        _neuron_field(model, neuron, images[i], activations[neuron.layer][i], erf_threshold)
        for i, neuron in enumerate(neurons)
    ]


def _position_tuple(position: Position | None) -> Position | None:
    return None if position is None else (int(position[0]), int(position[1]))


def _neuron_field(model: VisModel, neuron: Neuron, image: np.ndarray, activations: tf.Tensor,
                  erf_threshold: float) -> NeuronField:
    position = neuron.position or center_position(model.model, neuron.layer)
    field = receptive_field(model.model, neuron.layer)
    inputs = model.preprocess(tf.constant(image[None])).numpy()
    erf = effective_receptive_field(model.model, neuron.layer, neuron.channel, position, inputs=inputs)
    try:
        effective = effective_region(erf, erf_threshold)
    except ValueError:
        effective = None  # the gradient is zero everywhere: a dead neuron at this image
    return NeuronField(
        layer=neuron.layer, channel=neuron.channel, position=position, image=image,
        activation=float(activations[position[0], position[1], neuron.channel]), field=field,
        region=field.region(position, image.shape[:2]), effective=erf, effective_region=effective,
    )


def _zoom_to_fit(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """`image` enlarged by the largest integer factor that fits, framed in red, centred on white.

    Returns:
        float32 [height, width, 3] in [0, 1].
    """
    factor = max(1, min(height // image.shape[0], width // image.shape[1]))
    big = np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)[:height, :width]
    tile = np.ones((height, width, image.shape[-1]), np.float32)
    top, left = (height - big.shape[0]) // 2, (width - big.shape[1]) // 2
    tile[top:top + big.shape[0], left:left + big.shape[1]] = big
    # The frame goes around the enlarged crop, outside it where there is room.
    frame = (max(top - 1, 0), max(left - 1, 0), min(top + big.shape[0] + 1, height),
             min(left + big.shape[1] + 1, width))
    return image_io.outline(tile, frame, _THEORETICAL_COLOR)


def neuron_tiles(field: NeuronField) -> np.ndarray:
    """The three tiles of one neuron, [3, height, width, 3] in [0, 1].

    The synthesized image with the effective (yellow) and theoretical (red, drawn on top) boxes,
    the crop of the theoretical field zoomed by an integer factor, and the gradient magnitude
    map (viridis, scaled to its maximum) with the theoretical box.
    """
    height, width = field.image.shape[:2]
    boxed = field.image
    if field.effective_region is not None:
        boxed = image_io.outline(boxed, field.effective_region, _EFFECTIVE_COLOR)
    # Drawn last, so that where the two boxes coincide the theoretical one shows.
    boxed = image_io.outline(boxed, field.region, _THEORETICAL_COLOR)
    zoomed = _zoom_to_fit(field.crop(), height, width)
    peak = float(field.effective.max())
    heat = image_io.colorize(field.effective / peak if peak > 0 else field.effective)
    heat = image_io.outline(heat, field.region, _THEORETICAL_COLOR)
    return np.stack([boxed, zoomed, heat]).astype(np.float32)


def neurons_figure(fields: Sequence[NeuronField], scale: int = 1) -> np.ndarray:
    """One row per neuron: image with boxes, zoomed receptive field, gradient map.

    Returns:
        float32 [figure height, figure width, 3] in [0, 1].
    """
    rows = [neuron_tiles(field) for field in fields]
    labels = [f"{f.layer}:{f.channel} @{f.position[0]},{f.position[1]}" for f in fields]
    captions = [[
        "image",
        f"RF {f.field.size[0]}x{f.field.size[1]}",
        "|grad|" if f.effective_region is None else
        f"ERF {f.effective_region[2] - f.effective_region[0]}x{f.effective_region[3] - f.effective_region[1]}",
    ] for f in fields]
    return image_io.rows_figure(rows, labels, captions, scale=scale)


def format_table(fields: Sequence[NeuronField]) -> str:
    """A text table of the neurons' activations and receptive-field boxes."""
    rows = [("neuron", "activation", "rf size", "stride", "rf box (t,l,b,r)", "effective box")]
    for f in fields:
        rows.append((
            f"{f.layer}:{f.channel}@{f.position[0]},{f.position[1]}", f"{f.activation:.3g}",
            f"{f.field.size[0]}x{f.field.size[1]}", f"{f.field.stride[0]}x{f.field.stride[1]}",
            str(f.region), "dead" if f.effective_region is None else str(f.effective_region),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


@gin.register(module="featviz")
def neuron_fields(
    run: RunLike,
    model: VisModel | keras.Model | str = gin.REQUIRED,
    layers: Sequence[str] = gin.REQUIRED,
    channels: int | None | Sequence[int | None] = None,
    positions: Position | None | Sequence[Position | None] = None,
    param: Pixel | None = None,
    seed: int = 0,
    erf_threshold: float = 0.01,
    scale: int = 1,
) -> list[NeuronField]:
    """Job: `visualize_neurons`, writing per neuron its image and zoomed receptive field.

    Writes into the run directory: `neurons.png` (the figure, tiles upscaled by `scale`),
    `fields/<NN>_<layer>_image.png` and `..._rf.png` (the image and the crop of its theoretical
    field), `receptive_fields.json` (the numbers of every neuron), and prints the table. Steps,
    learning rate and callbacks come from the `Visualizer.*` bindings.
    """
    run = as_run(run)
    fields = visualize_neurons(model, layers, channels, positions, param, seed, erf_threshold,
                               logdir=str(run.logdir), stop=run.stop)
    for i, field in enumerate(fields):
        stem = f"fields/{i:02d}_{image_io.slug(field.layer)}"
        run.outputs.png(f"{stem}_image.png", field.image)
        run.outputs.png(f"{stem}_rf.png", field.crop())
    run.outputs.png("neurons.png", neurons_figure(fields, scale))
    run.outputs.json("receptive_fields.json", [field.summary() for field in fields])
    print(format_table(fields))
    return fields
