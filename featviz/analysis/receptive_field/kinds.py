"""Which Keras layers keep, move, merge or erase the spatial position of their inputs.

The walk of `featviz.analysis.receptive_field.theoretical` classifies every operation of a model graph
with these tables: window layers (the jump/start recurrence), elementwise layers (the field is
kept, or merged over several inputs) and global layers (every output sees the whole image).
"""

import keras

WINDOW_LAYERS = (
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
# are included: their statistics are broadcast context (see the theoretical module).
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
GLOBAL_LAYERS = (
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



def is_elementwise(op: keras.Operation, extra: tuple[type, ...] = ()) -> bool:
    """Whether each output position of `op` depends on that position of its inputs only.

    Args:
        op: a layer or `keras.ops` operation of a functional graph.
        extra: more layer classes to treat as elementwise (the user's custom layers).
    """
    if isinstance(op, keras.layers.Concatenate):
        axes = {op.axis} if isinstance(op.axis, int) else set(op.axis)
        return axes <= {-1, 3}
    if isinstance(op, _ELEMENTWISE_LAYERS + extra):
        return True
    module = type(op).__module__
    return any(
        module.startswith(prefix) and type(op).__name__ in names
        for prefix, names in _ELEMENTWISE_NAMES.items()
    )
