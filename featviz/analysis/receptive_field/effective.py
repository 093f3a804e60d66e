"""Effective receptive fields: where the gradient of one neuron with respect to the input lives.

The theoretical field (`featviz.receptive_field.theoretical`) bounds which pixels a neuron can
see; ``|d neuron / d image|`` shows where inside it the neuron actually looks, for given inputs
(for ReLU networks the gradient depends on the image).
"""

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from featviz.analysis.receptive_field.theoretical import walk_model
from featviz.models.graph import graph_of


def _call_node(layer: keras.Layer) -> object:
    """The single call of `layer` in its model graph."""
    if len(layer._inbound_nodes) != 1:
        raise ValueError(
            f"Layer {layer.name!r} is called {len(layer._inbound_nodes)} times; the effective "
            "receptive field needs a layer called exactly once."
        )
    return layer._inbound_nodes[0]


def _output_function(model: keras.Model, layer_name: str) -> Callable[[tf.Tensor], tf.Tensor]:
    """A function from the model input to the output of a (possibly nested) layer."""
    graph = graph_of(model)
    head, _, rest = layer_name.partition("/")
    layer = graph.get_layer(head)
    node = _call_node(layer)
    if not rest:
        sub_model = keras.Model(graph.inputs, node.output_tensors[0])
        return lambda images: sub_model(images, training=False)
    inner = _output_function(layer, rest)
    # The nested model is a separate graph: run the outer model up to its
    # input, then the nested model up to the inner layer.
    outer = keras.Model(graph.inputs, node.input_tensors[0])
    return lambda images: inner(outer(images, training=False))


def effective_receptive_field(
    model: keras.Model,
    layer_name: str,
    channel: int | None = None,
    position: tuple[int, int] | None = None,
    inputs: tf.Tensor | np.ndarray | None = None,
    threshold: float = 1e-6,
    value_range: tuple[float, float] = (0.0, 1.0),
    seed: int = 0,
) -> np.ndarray:
    """Effective receptive field: |gradient| of one neuron w.r.t. the input.

    Args:
        model: a functional or built Sequential model with one image input.
        layer_name: a layer name; ``outer/inner`` reaches into a nested model
            that is called once.
        channel: channel of the neuron; None sums all channels.
        position: (row, column) of the neuron in the layer's output grid;
            None is (height // 2, width // 2). Must be None for a layer with a
            [batch, units] output.
        inputs: images [batch, height, width, channels]. None uses one
            uniform-random image in `value_range`, drawn with `seed`, at the
            model's static input size: for ReLU networks the gradient depends
            on the image, so a fixed seed keeps the map reproducible.
        threshold: values below threshold * max are set to zero, removing
            float round-off so that `effective_region` sees clean zeros.
        value_range: (low, high) of the model's expected input, for the
            default image.
        seed: seed of the default image.

    Returns:
        [height, width] float32 map: |gradient| summed over colour channels
        and averaged over the batch.

    Raises:
        ValueError: for an unknown layer, an out-of-range channel or position,
            a threshold outside [0, 1), or no static input size without inputs.
    """
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1) (relative to the max), got {threshold!r}.")
    graph = graph_of(model)
    if inputs is None and graph is not None:
        shape = tuple(graph.inputs[0].shape[1:])
        if None in shape:
            raise ValueError(
                f"Model {model.name!r} has input shape {shape} with unknown dimensions: "
                "pass inputs of shape [batch, height, width, channels]."
            )
        low, high = value_range
        inputs = np.random.default_rng(seed).uniform(low, high, size=(1, *shape))
    # Validates the model and lists the layer names, nested ones included.
    names = list(walk_model(model, None if inputs is None else tuple(np.shape(inputs)[1:3])).layers)
    if layer_name not in names:
        raise ValueError(
            f"Unknown layer {layer_name!r} in model {model.name!r}; valid names: {sorted(names)}."
        )
    images = tf.convert_to_tensor(inputs, dtype=graph.inputs[0].dtype)
    forward = _output_function(model, layer_name)
    with tf.GradientTape() as tape:
        tape.watch(images)
        outputs = forward(images)
        if outputs.shape.rank == 4:
            grid = tuple(outputs.shape[1:3])
            row, col = (grid[0] // 2, grid[1] // 2) if position is None else position
            if not (0 <= row < grid[0] and 0 <= col < grid[1]):
                raise ValueError(
                    f"position {position!r} is outside the {grid!r} grid of {layer_name!r}."
                )
            outputs = outputs[:, row, col]
        elif outputs.shape.rank != 2 or position is not None:
            raise ValueError(
                f"Layer {layer_name!r} has output shape {tuple(outputs.shape)}: give a position "
                "only for [batch, height, width, channels] outputs; other ranks are unsupported."
            )
        if channel is not None:
            if not 0 <= channel < outputs.shape[-1]:
                raise ValueError(
                    f"channel {channel!r} is out of range for {layer_name!r}, which has "
                    f"{outputs.shape[-1]} channels (valid: 0..{outputs.shape[-1] - 1} or None)."
                )
            outputs = outputs[:, channel]
        # Summing over the batch is safe: samples do not interact at inference.
        neuron = tf.reduce_sum(outputs)
    gradient = tape.gradient(neuron, images, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    erf = tf.reduce_mean(tf.reduce_sum(tf.abs(gradient), axis=-1), axis=0).numpy()
    erf[erf < threshold * erf.max()] = 0.0
    return erf.astype(np.float32)


def effective_region(erf: np.ndarray, threshold: float = 1e-6) -> tuple[int, int, int, int]:
    """Bounding box of the pixels of an effective receptive field above a threshold.

    Args:
        erf: [height, width] map from `effective_receptive_field`.
        threshold: keep pixels above threshold * max.

    Returns:
        (top, left, bottom, right), bottom and right exclusive, comparable
        with `ReceptiveField.region`.

    Raises:
        ValueError: for a map that is not 2-D, or one with no pixel above the
            threshold (a dead neuron for this input).
    """
    erf = np.asarray(erf)
    if erf.ndim != 2:
        raise ValueError(f"erf must be a [height, width] map, got shape {erf.shape}.")
    rows, cols = np.nonzero(erf > threshold * erf.max())
    if rows.size == 0:
        raise ValueError(
            "No pixel of the effective receptive field is above the threshold: the neuron's "
            "gradient is zero for these inputs (a dead ReLU?); try other inputs."
        )
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1
