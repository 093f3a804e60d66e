"""Channel visualization across layers: what the channels of each layer respond to.

For chosen layers (typically from the first to the last convolutional block) and chosen channels,
`visualize_channels` runs one `Visualizer` per layer, whose batch holds one image per channel
(`stack([Channel(layer, c) for c in channels])`): each image maximises its channel's mean
activation over the whole image. `layers_figure` lays the results out with one row per layer,
lower layers at the top, each row labelled with its layer and each tile with its channel.

Everything else about the runs (parameterization, transforms, steps, callbacks) is the
`Visualizer`'s: keyword arguments in Python, `Visualizer.*` bindings in gin. The `channel_sweep`
job runs the whole sweep from a config (`experiment.job = @channel_sweep`, see
`featviz/configs/demo_features.gin` and `featviz/configs/vgg16_features.gin`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gin
import keras
import numpy as np

from featviz import io as image_io
from featviz.jobs.base import RunLike, as_run
from featviz.models import VisModel, load_model
from featviz.objectives import Channel, Objective, stack
from featviz.render import Render, StopToken, Visualizer

ChannelObjective = Callable[[str, int], Objective]


@dataclasses.dataclass(frozen=True)
class LayerRender:
    """The visualizations of the chosen channels of one layer.

    Attributes:
        layer: layer name.
        channels: the channel of each image, in batch order.
        render: the layer's run; `render.images` is [len(channels), height, width, channels]
            in [0, 1].
    """

    layer: str
    channels: tuple[int, ...]
    render: Render


def layers_in_order(model: VisModel, layers: Sequence[str]) -> list[str]:
    """`layers` sorted from the input towards the output (the model's layer order).

    Raises:
        ValueError: a layer name is unknown (the message lists valid ones), repeated, or the
            list is empty.
    """
    if isinstance(layers, str) or not layers:
        raise ValueError(f"layers must be a non-empty list of layer names, got {layers!r}")
    layers = list(layers)
    for layer in layers:
        model.layer(layer)
    repeated = sorted({layer for layer in layers if layers.count(layer) > 1})
    if repeated:
        raise ValueError(f"layers must not repeat a layer; repeated: {repeated}")
    return sorted(layers, key=model.layer_names.index)


def select_channels(model: VisModel, layer: str, channels: Sequence[int] | int | None) -> tuple[int, ...]:
    """The channels to visualize in `layer`.

    Args:
        model: the model.
        layer: layer name.
        channels: None for every channel of the layer, an int n for its first n channels, or
            a list of channel indices.

    Raises:
        ValueError: n is not in [1, number of channels], or the list is empty. Out-of-range
            indices are refused by `Channel.check` when the run starts.
    """
    count = model.channels(layer)
    if channels is None:
        return tuple(range(count))
    if isinstance(channels, int) and not isinstance(channels, bool):
        if not 1 <= channels <= count:
            raise ValueError(
                f"channels={channels} asks for the first {channels} channels of layer {layer!r}, "
                f"which has {count}; use 1..{count}, a list of indices, or None for all"
            )
        return tuple(range(channels))
    chosen = tuple(channels)
    if not chosen:
        raise ValueError(f"channels for layer {layer!r} is an empty list")
    return chosen


def visualize_channels(
    model: VisModel | keras.Model | str,
    layers: Sequence[str],
    channels: Sequence[int] | int | None = None,
    objective: ChannelObjective = Channel,
    logdir: str | None = None,
    stop: StopToken | None = None,
    **visualizer_args: Any,
) -> list[LayerRender]:
    """Visualizes channels of several layers, one batch (one `Visualizer` run) per layer.

    Args:
        model: a `VisModel`, a `keras.Model`, or a name `load_model` accepts.
        layers: layer names, in any order; they are run and returned from the input towards
            the output.
        channels: the same for every layer: None (every channel), an int n (the first n) or
            a list of indices.
        objective: `objective(layer, channel) -> Objective` for each image: `Channel` (the
            mean over positions), or `Neuron` (the centre position), or any such factory.
        logdir: when given, each layer's run writes to `logdir/<layer>/`.
        stop: a `StopToken` shared by the layers' runs; once requested, the current layer
            stops after its step and the layers not yet started are skipped.
        **visualizer_args: passed to every `Visualizer` (param, transforms, steps,
            callbacks, ...); under gin, the `Visualizer.*` bindings apply too.

    Returns:
        One `LayerRender` per layer, lower layers first (fewer after a stop).
    """
    model = load_model(model)
    results = []
    for layer in layers_in_order(model, layers):
        if stop:
            break
        chosen = select_channels(model, layer, channels)
        directory = None if logdir is None else str(Path(logdir) / image_io.slug(layer))
        visualizer = Visualizer(model=model, objective=stack([objective(layer, c) for c in chosen]),
                                logdir=directory, stop=stop, **visualizer_args)
        results.append(LayerRender(layer, chosen, visualizer.run()))
    return results


def layers_figure(results: Sequence[LayerRender], scale: int = 1) -> np.ndarray:
    """One row per layer (in the order given), each tile labelled with its channel.

    Returns:
        float32 [figure height, figure width, 3] in [0, 1].
    """
    return image_io.rows_figure(
        [result.render.images for result in results],
        [result.layer for result in results],
        [[f"ch {c}" for c in result.channels] for result in results],
        scale=scale,
    )


@gin.register(module="featviz")
def channel_sweep(
    run: RunLike,
    model: VisModel | keras.Model | str = gin.REQUIRED,
    layers: Sequence[str] = gin.REQUIRED,
    channels: Sequence[int] | int | None = None,
    objective: ChannelObjective = Channel,
    scale: int = 1,
) -> list[LayerRender]:
    """Job: `visualize_channels` into `<run>/<layer>/`, and the figure `<run>/layers.png`.

    Gin: `experiment.job = @channel_sweep`; the runs take their other settings from the
    `Visualizer.*` bindings. `scale` upscales the figure's tiles.
    """
    run = as_run(run)
    results = visualize_channels(model, layers, channels, objective, logdir=str(run.logdir),
                                 stop=run.stop)
    if results:
        run.outputs.png("layers.png", layers_figure(results, scale))
    return results
