"""Theoretical receptive fields, read from a model graph.

The walk applies the usual jump/start recurrence, in input-pixel coordinates
(row, column; pixel ``i`` has its centre at ``i``). For a window layer with
kernel ``k``, stride ``s``, dilation ``d`` and top/left padding ``p``::

    size_out  = size_in + (k - 1) * d * jump_in
    jump_out  = jump_in * s
    start_out = start_in + ((k - 1) * d / 2 - p) * jump_in

``start`` is the centre of the field of output position (0, 0). TensorFlow's
'same' padding puts the smaller half of the padding on the top/left and its
total depends on the input size, so the walk tracks the spatial size of every
tensor from the model's static input size (or an ``input_size`` override).

Contract of the graph walk (``receptive_fields``), for models run with
training=False as featviz runs them:

* Window layers: Conv2D, DepthwiseConv2D, SeparableConv2D, MaxPooling2D,
  AveragePooling2D; ZeroPadding2D and Cropping2D shift the grid.
* Elementwise layers keep the field: activations, BatchNormalization and the
  other normalizations, Dropout, Rescaling, Normalization, Dense on a 4-D
  tensor, elementwise ``keras.ops`` maths, random augmentation layers (the
  identity at inference), and classes passed in ``elementwise_layers``.
* Merges (Add, Multiply, Concatenate on channels, ...) of inputs on one grid
  and stride take the union of the fields of their inputs.
* Broadcast context is not counted: the statistics of normalizations over
  positions (GroupNormalization, Softmax on a spatial axis) and global inputs of
  a merge (squeeze-and-excitation gates) scale every position alike and carry no
  location, so the field follows the spatial path. This is what a crop around a
  neuron needs; strictly, such a neuron depends on the whole image.
* Layers that mix all positions (GlobalPooling, Flatten, Reshape, any layer with
  a non 4-D output, any non-merge layer fed only by such layers) see the whole
  image: ``ReceptiveField.whole`` with ``is_global=True``.
* Anything else with a 4-D output (UpSampling2D, Resizing, Conv2DTranspose,
  Lambda, custom layers, channels_first layers) has an *unknown* field,
  as has every layer after it until a global one. Such layers are left out of
  ``receptive_fields``, so that a layer listing still works, and
  ``receptive_field`` raises a ValueError naming the layer and class at fault.
* Nested models (a functional or Sequential model used as a layer) are walked
  through; their layers get qualified names ``outer/inner``. Subclassed models
  have no graph: their field is unknown.

Only models with one image input ``[batch, height, width, channels]`` are
supported.
"""

import dataclasses
from collections.abc import Sequence

import keras

from featviz.analysis.receptive_field.field import ReceptiveField
from featviz.analysis.receptive_field.kinds import GLOBAL_LAYERS, WINDOW_LAYERS, is_elementwise
from featviz.models.graph import graph_of, schedule


@dataclasses.dataclass(frozen=True)
class _Trace:
    """What the walk knows about one symbolic tensor.

    Exactly one of: a spatial `field` with its `grid` (height, width); a global
    `field` with grid None; or field None with the `reason` it is unknown.
    """

    field: ReceptiveField | None
    grid: tuple[int, int] | None = None
    reason: str | None = None


def _describe(op: keras.Operation) -> str:
    return f"layer {op.name!r} ({type(op).__name__})"


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _window(op: keras.Layer, trace: _Trace) -> _Trace:
    """Applies the jump/start recurrence for a convolution or pooling layer."""
    if op.padding not in ("valid", "same"):
        return _Trace(None, reason=f"{_describe(op)} uses padding={op.padding!r}")
    is_pool = isinstance(op, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D))
    kernel = op.pool_size if is_pool else op.kernel_size
    dilation = (1, 1) if is_pool else _pair(op.dilation_rate)
    size, stride, start, grid = [], [], [], []
    for axis in (0, 1):
        span = (kernel[axis] - 1) * dilation[axis] + 1
        step, length, jump = op.strides[axis], trace.grid[axis], trace.field.stride[axis]
        if op.padding == "valid":
            out, pad = (length - span) // step + 1, 0
        else:
            out = -(-length // step)
            pad = max((out - 1) * step + span - length, 0) // 2
        if out < 1:
            raise ValueError(
                f"{_describe(op)} gets a {trace.grid!r} input, smaller than its "
                f"{span}-pixel window: the input size is too small for this model."
            )
        size.append(trace.field.size[axis] + (span - 1) * jump)
        stride.append(jump * step)
        start.append(trace.field.start[axis] + ((span - 1) / 2 - pad) * jump)
        grid.append(out)
    return _Trace(ReceptiveField(tuple(size), tuple(stride), tuple(start)), tuple(grid))


def _shift(trace: _Trace, top: int, left: int, rows: int, cols: int) -> _Trace:
    """Grid change of ZeroPadding2D (negative top/left) and Cropping2D."""
    field = trace.field
    start = (field.start[0] + top * field.stride[0], field.start[1] + left * field.stride[1])
    grid = (trace.grid[0] + rows, trace.grid[1] + cols)
    return _Trace(dataclasses.replace(field, start=start), grid)


def _union(op: keras.Operation, traces: list[_Trace]) -> _Trace:
    """Merges fields of inputs on one grid: the union of their regions."""
    if any(t.grid != traces[0].grid or t.field.stride != traces[0].field.stride for t in traces):
        return _Trace(
            None,
            reason=f"{_describe(op)} merges inputs on different grids "
            f"{[(t.grid, t.field.stride) for t in traces]} (size, stride)",
        )
    size, start = [], []
    for axis in (0, 1):
        low = min(t.field.start[axis] - (t.field.size[axis] - 1) / 2 for t in traces)
        high = max(t.field.start[axis] + (t.field.size[axis] - 1) / 2 for t in traces)
        size.append(int(high - low) + 1)
        start.append((low + high) / 2)
    return _Trace(ReceptiveField(tuple(size), traces[0].field.stride, tuple(start)), traces[0].grid)


class _Walk:
    """One pass over a model graph, recording the trace of every layer.

    Args:
        input_size: (height, width) of the model input.
        elementwise_layers: extra layer classes to treat as elementwise.
    """

    def __init__(
        self, input_size: tuple[int, int], elementwise_layers: tuple[type, ...]
    ) -> None:
        self.input_size = input_size
        self.elementwise_layers = elementwise_layers
        self.layers: dict[str, _Trace] = {}

    def record(self, name: str, trace: _Trace) -> None:
        previous = self.layers.setdefault(name, trace)
        if previous != trace:
            # A layer called at several places can see different regions; one
            # field per name would then be wrong for some of the calls.
            self.layers[name] = _Trace(
                None, reason=f"layer {name!r} is called at several places with different fields"
            )

    def graph(self, model: keras.Model, inputs: list[_Trace], prefix: str) -> list[_Trace]:
        """Traces `model`'s graph from traces of its inputs to those of its outputs."""
        known: dict[int, _Trace] = {}
        for tensor, trace in zip(model.inputs, inputs):
            known[id(tensor)] = trace
            self.record(prefix + tensor._keras_history.operation.name, trace)
        # The graph runner's traversal: the calls computing the outputs, in execution order.
        for node in schedule(model.outputs, model.inputs):
            op = node.operation
            traces = [known[id(t)] for t in node.input_tensors]
            graph = graph_of(op) if isinstance(op, keras.Model) else None
            if graph is not None:
                outputs = self.graph(graph, traces, f"{prefix}{op.name}/")
            else:
                outputs = [self.node(op, traces, out.shape) for out in node.output_tensors]
            for out_tensor, trace in zip(node.output_tensors, outputs):
                known[id(out_tensor)] = trace
            if isinstance(op, keras.Layer):
                self.record(prefix + op.name, outputs[0])
        return [known[id(t)] for t in model.outputs]

    def node(self, op: keras.Operation, inputs: list[_Trace], shape: tuple) -> _Trace:
        """Trace of one output, of static `shape`, of one call of `op`."""
        whole = _Trace(ReceptiveField.whole(self.input_size))
        elementwise = is_elementwise(op, self.elementwise_layers)
        local = [t for t in inputs if t.field is None or not t.field.is_global]
        if len(local) < len(inputs) and not (elementwise and local):
            # Every output depends on some input value, and each of those
            # already depends on the whole image.
            return whole
        if isinstance(op, GLOBAL_LAYERS) or len(shape) != 4:
            return whole
        unknown = [t for t in local if t.field is None]
        if unknown:
            return unknown[0]
        if elementwise:
            # Global inputs of a merge (squeeze-and-excitation gates) are
            # broadcast context: the field follows the spatial inputs.
            return _union(op, local)
        if getattr(op, "data_format", "channels_last") != "channels_last":
            return _Trace(None, reason=f"{_describe(op)} is not channels_last")
        if isinstance(op, WINDOW_LAYERS):
            return _window(op, inputs[0])
        if isinstance(op, keras.layers.ZeroPadding2D):
            (top, bottom), (left, right) = op.padding
            return _shift(inputs[0], -top, -left, top + bottom, left + right)
        if isinstance(op, keras.layers.Cropping2D):
            (top, bottom), (left, right) = op.cropping
            return _shift(inputs[0], top, left, -top - bottom, -left - right)
        return _Trace(
            None,
            reason=f"{_describe(op)} changes the spatial grid in a way featviz does not model "
            "(supported: Conv2D, DepthwiseConv2D, SeparableConv2D, Max/AveragePooling2D, "
            "ZeroPadding2D, Cropping2D, elementwise, merge and global layers); if it computes "
            "each position from the same position of its inputs, pass its class in "
            "elementwise_layers",
        )


def walk_model(
    model: keras.Model,
    input_size: tuple[int, int] | None,
    elementwise_layers: Sequence[type[keras.Layer]] = (),
) -> _Walk:
    """Traces every layer of `model`; validates the arguments."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model, got {type(model).__name__}.")
    for cls in elementwise_layers:
        if not (isinstance(cls, type) and issubclass(cls, keras.Layer)):
            raise TypeError(f"elementwise_layers must hold keras.Layer subclasses, got {cls!r}.")
    graph = graph_of(model)
    if graph is None:
        raise ValueError(
            f"Model {model.name!r} ({type(model).__name__}) has no layer graph: use a functional "
            "model or a built Sequential (one starting with keras.Input, or after build)."
        )
    if len(graph.inputs) != 1 or len(graph.inputs[0].shape) != 4:
        raise ValueError(
            f"Model {model.name!r} must have one [batch, height, width, channels] input, "
            f"got inputs of shapes {[tuple(t.shape) for t in graph.inputs]}."
        )
    static = tuple(graph.inputs[0].shape[1:3])
    input_size = static if input_size is None else tuple(input_size)
    if len(input_size) != 2 or not all(isinstance(v, int) and v > 0 for v in input_size):
        raise ValueError(
            f"The input size of model {model.name!r} must be two positive ints (height, width), "
            f"got {input_size!r}; pass input_size=(height, width) for models built without one."
        )
    walk = _Walk(input_size, tuple(elementwise_layers))
    start = _Trace(ReceptiveField((1, 1), (1, 1), (0.0, 0.0)), input_size)
    walk.graph(graph, [start], prefix="")
    return walk


def receptive_fields(
    model: keras.Model,
    input_size: tuple[int, int] | None = None,
    elementwise_layers: Sequence[type[keras.Layer]] = (),
) -> dict[str, ReceptiveField]:
    """Theoretical receptive fields of all layers of a model.

    Args:
        model: a functional or built Sequential model with one image input
            [batch, height, width, channels]; nested models are walked through.
        input_size: (height, width) of the input, needed when the model was
            built with unknown spatial dimensions; overrides the static size.
        elementwise_layers: custom layer classes (and their subclasses) whose
            output at a position depends only on their inputs at that position,
            so they keep (or, with several inputs, merge) the field.

    Returns:
        Layer name (``outer/inner`` for layers of nested models, input layers
        included) to field, in graph order. Layers whose field is unknown (see
        the module docstring) are left out; `receptive_field` says why.

    Raises:
        TypeError: if `model` is not a keras.Model or `elementwise_layers`
            holds something other than keras.Layer subclasses.
        ValueError: if the model has no graph, more than one or a non-image
            input, or no usable input size.
    """
    walk = walk_model(model, input_size, elementwise_layers)
    return {name: t.field for name, t in walk.layers.items() if t.field is not None}


def _trace(
    model: keras.Model,
    layer_name: str,
    input_size: tuple[int, int] | None,
    elementwise_layers: Sequence[type[keras.Layer]],
) -> _Trace:
    walk = walk_model(model, input_size, elementwise_layers)
    if layer_name not in walk.layers:
        raise ValueError(
            f"Unknown layer {layer_name!r} in model {model.name!r}; valid names: "
            f"{sorted(walk.layers)}."
        )
    trace = walk.layers[layer_name]
    if trace.field is None:
        raise ValueError(f"The receptive field of layer {layer_name!r} is unknown: {trace.reason}.")
    return trace


def receptive_field(
    model: keras.Model,
    layer_name: str,
    input_size: tuple[int, int] | None = None,
    elementwise_layers: Sequence[type[keras.Layer]] = (),
) -> ReceptiveField:
    """Theoretical receptive field of one layer.

    Args:
        model: as in `receptive_fields`.
        layer_name: a layer name, ``outer/inner`` for a layer of a nested model.
        input_size: as in `receptive_fields`.
        elementwise_layers: as in `receptive_fields`.

    Returns:
        The field of the layer's (first) output.

    Raises:
        ValueError: for an unknown layer name (listing the valid ones), or a
            layer whose field is unknown (naming the layer and class at fault).
    """
    return _trace(model, layer_name, input_size, elementwise_layers).field


def center_position(
    model: keras.Model,
    layer_name: str,
    input_size: tuple[int, int] | None = None,
    elementwise_layers: Sequence[type[keras.Layer]] = (),
) -> tuple[int, int]:
    """The central position of a layer's output grid.

    Args:
        model: as in `receptive_fields`.
        layer_name: as in `receptive_field`; a layer with a spatial output.
        input_size: as in `receptive_fields`.
        elementwise_layers: as in `receptive_fields`.

    Returns:
        (height // 2, width // 2) of the layer's output grid: the centre, or
        the one below/right of it for even sizes (the Lucid convention).

    Raises:
        ValueError: as `receptive_field`, or for a layer with no spatial grid.
    """
    trace = _trace(model, layer_name, input_size, elementwise_layers)
    if trace.grid is None:
        raise ValueError(f"Layer {layer_name!r} has no spatial grid: it sees the whole input.")
    return trace.grid[0] // 2, trace.grid[1] // 2

