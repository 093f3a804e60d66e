"""Receptive fields: which input pixels a neuron of a layer can see.

Two notions, both in input-pixel coordinates (row, column; pixel ``i`` has its
centre at ``i``):

* The *theoretical* receptive field, read from the model graph with the usual
  jump/start recurrence. For a window layer with kernel ``k``, stride ``s``,
  dilation ``d`` and top/left padding ``p``::

      size_out  = size_in + (k - 1) * d * jump_in
      jump_out  = jump_in * s
      start_out = start_in + ((k - 1) * d / 2 - p) * jump_in

  ``start`` is the centre of the field of output position (0, 0). TensorFlow's
  'same' padding puts the smaller half of the padding on the top/left and its
  total depends on the input size, so the walk tracks the spatial size of every
  tensor from the model's static input size (or an ``input_size`` override).
* The *effective* receptive field: ``|d neuron / d image|``, which shows where
  inside the theoretical field the neuron actually looks.

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
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

_WINDOW_LAYERS = (
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
)
# Layers that compute each output position from the same position of their
# inputs, as featviz runs models (training=False): BatchNormalization is then a
# per-channel affine map and the random augmentation layers are the identity.
# Normalizations over positions (GroupNormalization, Softmax on a spatial axis)
# are included: their statistics are broadcast context, see the module docstring.
_ELEMENTWISE_LAYERS = (
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.PReLU,
    keras.layers.ELU,
    keras.layers.Softmax,
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
    keras.layers.UnitNormalization,
    keras.layers.Dropout,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.ActivityRegularization,
    keras.layers.Rescaling,
    keras.layers.Normalization,
    keras.layers.Identity,
    keras.layers.Dense,
    keras.layers.RandomFlip,
    keras.layers.RandomRotation,
    keras.layers.RandomTranslation,
    keras.layers.RandomZoom,
    keras.layers.RandomContrast,
    keras.layers.RandomBrightness,
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Average,
    keras.layers.Maximum,
    keras.layers.Minimum,
)
_GLOBAL_LAYERS = (
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.Flatten,
    keras.layers.Reshape,
)
# Elementwise operations that are not public classes, matched by class name:
# `keras.ops` maths that `x + y` or `keras.ops.relu(x)` on symbolic tensors
# record in a functional graph, and the private per-position layers of
# `keras.applications` (ConvNeXt's LayerScale and StochasticDepth,
# InceptionResNetV2's CustomScaleLayer).
_ELEMENTWISE_NAMES = {
    "keras.src.ops": frozenset(
        "Add Subtract Multiply Divide TrueDivide Maximum Minimum Negative Abs Absolute "
        "Square Sqrt Exp Log Power Clip Relu Relu6 Sigmoid Tanh Silu Gelu Elu Selu "
        "LeakyRelu Softplus HardSigmoid HardSilu".split()
    ),
    "keras.src.applications": frozenset({"LayerScale", "StochasticDepth", "CustomScaleLayer"}),
}


@dataclasses.dataclass(frozen=True)
class ReceptiveField:
    """The input region seen by the neurons of one layer.

    Attributes:
        size: (height, width) of the field in input pixels.
        stride: (rows, columns) of input pixels between the fields of two
            neighbouring output positions (the "jump").
        start: (row, column) centre, in input pixel coordinates, of the field
            of output position (0, 0). A half-integer for even sizes; may lie
            outside the image when the layers pad.
        is_global: True when every output depends on the whole input (after
            global pooling, Flatten, Dense on a vector, ...). Such a field is
            built by `whole`: `size` is the input size, `stride` too (a single
            cell), `start` the image centre, and `region` is the whole image
            for any position.
    """

    size: tuple[int, int]
    stride: tuple[int, int]
    start: tuple[float, float]
    is_global: bool = False

    def __post_init__(self) -> None:
        for name in ("size", "stride"):
            value = getattr(self, name)
            if len(value) != 2 or not all(isinstance(v, int) and v > 0 for v in value):
                raise ValueError(f"ReceptiveField.{name} must be two positive ints, got {value!r}.")
        # The field of every position must cover whole pixels, so the top-left
        # corner start - (size - 1) / 2 is an integer.
        for size, start in zip(self.size, self.start):
            if (start - (size - 1) / 2) % 1:
                raise ValueError(
                    f"ReceptiveField start {self.start!r} does not put a field of size "
                    f"{self.size!r} on whole pixels: start - (size - 1) / 2 must be an integer."
                )

    @classmethod
    def whole(cls, input_size: tuple[int, int]) -> "ReceptiveField":
        """The field of a neuron that sees the whole input.

        Args:
            input_size: (height, width) of the model input.

        Returns:
            A global field centred on the image.
        """
        height, width = input_size
        return cls(
            size=(height, width),
            stride=(height, width),
            start=((height - 1) / 2, (width - 1) / 2),
            is_global=True,
        )

    def center(self, position: tuple[int, int]) -> tuple[float, float]:
        """The input-pixel centre of the field of an output position.

        Args:
            position: (row, column) in the layer's output grid.

        Returns:
            (row, column) in input pixel coordinates: start + position * stride.
        """
        return (
            self.start[0] + position[0] * self.stride[0],
            self.start[1] + position[1] * self.stride[1],
        )

    def region(
        self, position: tuple[int, int], image_size: tuple[int, int]
    ) -> tuple[int, int, int, int]:
        """Pixel bounds of the field of an output position, clipped to the image.

        Args:
            position: (row, column) in the layer's output grid.
            image_size: (height, width) of the input image.

        Returns:
            (top, left, bottom, right) with bottom and right exclusive, so that
            `image[top:bottom, left:right]` is the crop. The whole image for a
            global field.

        Raises:
            ValueError: if the field lies entirely outside the image.
        """
        height, width = image_size
        if self.is_global:
            return 0, 0, height, width
        row, col = self.center(position)
        top = int(row - (self.size[0] - 1) / 2)
        left = int(col - (self.size[1] - 1) / 2)
        bounds = (
            max(top, 0),
            max(left, 0),
            min(top + self.size[0], height),
            min(left + self.size[1], width),
        )
        if bounds[0] >= bounds[2] or bounds[1] >= bounds[3]:
            raise ValueError(
                f"The receptive field of position {position!r} lies outside an image of "
                f"size {image_size!r} (unclipped rows {top}..{top + self.size[0]}, "
                f"columns {left}..{left + self.size[1]})."
            )
        return bounds


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
        # Iterative depth-first search: deep networks exceed Python's recursion limit.
        pending = list(model.outputs)
        while pending:
            tensor = pending[-1]
            if id(tensor) in known:
                pending.pop()
                continue
            op, node_index, _ = tensor._keras_history
            node = op._inbound_nodes[node_index]
            missing = [t for t in node.input_tensors if id(t) not in known]
            if missing:
                pending.extend(missing)
                continue
            pending.pop()
            traces = [known[id(t)] for t in node.input_tensors]
            graph = _graph_of(op) if isinstance(op, keras.Model) else None
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
        elementwise = self.is_elementwise(op)
        local = [t for t in inputs if t.field is None or not t.field.is_global]
        if len(local) < len(inputs) and not (elementwise and local):
            # Every output depends on some input value, and each of those
            # already depends on the whole image.
            return whole
        if isinstance(op, _GLOBAL_LAYERS) or len(shape) != 4:
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
        if isinstance(op, _WINDOW_LAYERS):
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

    def is_elementwise(self, op: keras.Operation) -> bool:
        """Whether each output position of `op` depends on that position only."""
        if isinstance(op, keras.layers.Concatenate):
            axes = {op.axis} if isinstance(op.axis, int) else set(op.axis)
            return axes <= {-1, 3}
        if isinstance(op, _ELEMENTWISE_LAYERS + self.elementwise_layers):
            return True
        module = type(op).__module__
        return any(
            module.startswith(prefix) and type(op).__name__ in names
            for prefix, names in _ELEMENTWISE_NAMES.items()
        )


def _graph_of(model: keras.Model) -> keras.Model | None:
    """The functional graph of a model: itself, a built Sequential's, or None."""
    if isinstance(model, keras.Sequential):
        return model._functional
    outputs = model.outputs if hasattr(model, "_inputs_struct") else None
    return model if outputs else None


def _walk(
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
    graph = _graph_of(model)
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
    walk = _walk(model, input_size, elementwise_layers)
    return {name: t.field for name, t in walk.layers.items() if t.field is not None}


def _trace(
    model: keras.Model,
    layer_name: str,
    input_size: tuple[int, int] | None,
    elementwise_layers: Sequence[type[keras.Layer]],
) -> _Trace:
    walk = _walk(model, input_size, elementwise_layers)
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
    graph = _graph_of(model)
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
    graph = _graph_of(model)
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
    names = list(_walk(model, None if inputs is None else tuple(np.shape(inputs)[1:3])).layers)
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
