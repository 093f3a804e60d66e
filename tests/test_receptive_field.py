"""Tests of featviz.receptive_field: hand-computed fields, VGG16, merges,
nested models, and the effective receptive field as an oracle.

Notation in comments: a field is (size, stride, start) per axis, start being
the input-pixel centre of the field of output position 0. For a window layer
with kernel k, stride s, dilation d, top/left padding p:
size += (k - 1) * d * jump; jump *= s; start += ((k - 1) * d / 2 - p) * jump.
"""

from collections.abc import Callable

import keras
import numpy as np
import pytest

from featviz.analysis.receptive_field import (
    ReceptiveField,
    center_position,
    effective_receptive_field,
    effective_region,
    receptive_field,
    receptive_fields,
)

layers = keras.layers


def _positive_linear(model: keras.Model) -> keras.Model:
    """Gives every weight a positive value, so that (without nonlinearities)
    the gradient of a neuron is positive exactly on its receptive field."""
    rng = np.random.default_rng(0)
    for weight in model.weights:
        weight.assign(rng.uniform(0.5, 1.5, size=weight.shape).astype("float32"))
    return model


def _assert_effective_equals_theoretical(
    model: keras.Model, layer_name: str, positions: list[tuple[int, int]]
) -> None:
    image_size = tuple(model.inputs[0].shape[1:3])
    field = receptive_field(model, layer_name)
    for position in positions:
        erf = effective_receptive_field(model, layer_name, position=position)
        assert effective_region(erf) == field.region(position, image_size), (layer_name, position)


def _hand_stack(pooling: type[keras.layers.Layer]) -> keras.Model:
    """conv3x3 valid -> conv3x3 s2 same -> pool 2 -> conv5x5 dilation 2, on 40x41."""
    inputs = keras.Input((40, 41, 1))
    x = layers.Conv2D(2, 3, name="conv1")(inputs)
    x = layers.Conv2D(2, 3, strides=2, padding="same", name="conv2")(x)
    x = pooling(2, name="pool")(x)
    x = layers.Conv2D(2, 5, dilation_rate=2, name="conv4")(x)
    return keras.Model(inputs, x)


# Height 40 / width 41, per axis (size, jump, start):
# conv1 3x3 valid: grid 38 / 39; size 1 + 2 = 3, jump 1, start 0 + 1 = 1.
# conv2 3x3 s2 same: grid 19 / 20. Total padding max((out-1)*2 + 3 - in, 0)
#   = 1 / 2, top/left p = 0 / 1: size 3 + 2 = 5, jump 2,
#   start 1 + (1 - 0) = 2 / 1 + (1 - 1) = 1.
# pool 2 s2 valid: grid 9 / 10; size 5 + 1 * 2 = 7, jump 4, start + 0.5 * 2 = 3 / 2.
# conv4 5x5 dilation 2 valid (span 9): grid 1 / 2; size 7 + 8 * 4 = 39, jump 4,
#   start + 4 * 4 = 19 / 18.
HAND_FIELDS = {
    "conv1": ReceptiveField((3, 3), (1, 1), (1.0, 1.0)),
    "conv2": ReceptiveField((5, 5), (2, 2), (2.0, 1.0)),
    "pool": ReceptiveField((7, 7), (4, 4), (3.0, 2.0)),
    "conv4": ReceptiveField((39, 39), (4, 4), (19.0, 18.0)),
}


def test_hand_computed_stack() -> None:
    model = _hand_stack(layers.MaxPooling2D)
    fields = receptive_fields(model)
    assert {name: fields[name] for name in HAND_FIELDS} == HAND_FIELDS
    # Keras numbers auto-named inputs per process ("input_layer_3"): ask the model.
    assert fields[model.layers[0].name] == ReceptiveField((1, 1), (1, 1), (0.0, 0.0))


def test_region_is_clipped_to_the_image() -> None:
    field = HAND_FIELDS["conv4"]
    # Position (0, 1): centre (19, 22), half-size 19 -> rows 0..39, cols 3..42 clipped to 41.
    assert field.region((0, 1), (40, 41)) == (0, 3, 39, 41)
    # conv2 position (0, 0): centre (2, 1), rows 0..5, cols -1..4 clipped at 0.
    assert HAND_FIELDS["conv2"].region((0, 0), (40, 41)) == (0, 0, 5, 4)
    assert field.center((1, 1)) == (23.0, 22.0)


def test_region_outside_the_image_raises() -> None:
    with pytest.raises(ValueError, match=r"\(50, 0\)"):
        HAND_FIELDS["conv1"].region((50, 0), (40, 41))


def test_effective_equals_theoretical_for_positive_linear_stack() -> None:
    # Average pooling keeps the map linear with positive weights; max pooling
    # would route the gradient to one pixel of each window.
    model = _positive_linear(_hand_stack(layers.AveragePooling2D))
    _assert_effective_equals_theoretical(model, "conv4", [(0, 0), (0, 1)])
    _assert_effective_equals_theoretical(model, "conv2", [(0, 0), (9, 10), (18, 19), (5, 3)])


@pytest.mark.parametrize(
    "config",
    [
        {"class_name": "Conv2D", "filters": 1, "kernel_size": 4},
        {"class_name": "Conv2D", "filters": 1, "kernel_size": 3, "strides": 2},
        {"class_name": "Conv2D", "filters": 1, "kernel_size": 4, "strides": 3},
        {"class_name": "Conv2D", "filters": 1, "kernel_size": 3, "dilation_rate": 3},
        {"class_name": "DepthwiseConv2D", "kernel_size": 3, "strides": 2},
        {"class_name": "AveragePooling2D", "pool_size": 3, "strides": 2},
    ],
    ids=["k4", "k3s2", "k4s3", "k3d3", "depthwise_k3s2", "avg3s2"],
)
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("size", [9, 10])
def test_padding_matches_tensorflow(config: dict, padding: str, size: int) -> None:
    # 'same' puts the smaller half of the padding top/left and its total
    # depends on the input size: the gradient shows where TensorFlow put it.
    config = dict(config)
    layer = getattr(layers, config.pop("class_name"))(padding=padding, name="layer", **config)
    inputs = keras.Input((size, size + 1, 1))
    model = _positive_linear(keras.Model(inputs, layer(inputs)))
    grid = tuple(model.outputs[0].shape[1:3])
    corners = [(0, 0), (grid[0] - 1, grid[1] - 1), center_position(model, "layer")]
    _assert_effective_equals_theoretical(model, "layer", corners)


# VGG16 at 224x224, all convs 3x3 'same' stride 1 (p = 1, start unchanged,
# size += 2 * jump), pools 2x2 stride 2 valid (size += jump, start += jump / 2,
# jump *= 2):
# block1: 1+2=3, 3+2=5, pool 5+1=6 (jump 2, start 0.5)
# block2: 6+4=10, 14, pool 14+2=16 (jump 4, start 0.5+1=1.5)
# block3: 16+8=24, 32, 40, pool 40+4=44 (jump 8, start 1.5+2=3.5)
# block4: 44+16=60, 76, 92, pool 92+8=100 (jump 16, start 3.5+4=7.5)
# block5: 100+32=132, 164, 196, pool 196+16=212 (jump 32, start 7.5+8=15.5)
VGG16_FIELDS = [
    ("block1_conv1", 3, 1, 0.0),
    ("block1_conv2", 5, 1, 0.0),
    ("block1_pool", 6, 2, 0.5),
    ("block2_conv1", 10, 2, 0.5),
    ("block2_conv2", 14, 2, 0.5),
    ("block2_pool", 16, 4, 1.5),
    ("block3_conv1", 24, 4, 1.5),
    ("block3_conv2", 32, 4, 1.5),
    ("block3_conv3", 40, 4, 1.5),
    ("block3_pool", 44, 8, 3.5),
    ("block4_conv1", 60, 8, 3.5),
    ("block4_conv2", 76, 8, 3.5),
    ("block4_conv3", 92, 8, 3.5),
    ("block4_pool", 100, 16, 7.5),
    ("block5_conv1", 132, 16, 7.5),
    ("block5_conv2", 164, 16, 7.5),
    ("block5_conv3", 196, 16, 7.5),
    ("block5_pool", 212, 32, 15.5),
]


@pytest.fixture(scope="module")
def vgg16() -> keras.Model:
    return keras.applications.VGG16(weights=None, include_top=False, input_shape=(224, 224, 3))


def test_vgg16_known_fields(vgg16: keras.Model) -> None:
    fields = receptive_fields(vgg16)
    expected = {
        name: ReceptiveField((size, size), (stride, stride), (start, start))
        for name, size, stride, start in VGG16_FIELDS
    }
    assert {name: fields[name] for name in expected} == expected


def test_vgg16_centre_neuron_region(vgg16: keras.Model) -> None:
    # block5_conv3 grid 14x14, centre (7, 7): centre pixel 7.5 + 7 * 16 = 119.5,
    # half-size 97.5 -> pixels 22..218.
    assert center_position(vgg16, "block5_conv3") == (7, 7)
    field = receptive_field(vgg16, "block5_conv3")
    assert field.region((7, 7), (224, 224)) == (22, 22, 218, 218)


def _resnet_block() -> keras.Model:
    inputs = keras.Input((16, 16, 4))
    stem = layers.Conv2D(4, 3, strides=2, padding="same", name="stem")(inputs)
    x = layers.Conv2D(4, 3, padding="same", name="a1")(stem)
    x = layers.BatchNormalization(name="a1_bn")(x)
    x = layers.ReLU(name="a1_relu")(x)
    x = layers.Conv2D(4, 3, padding="same", name="a2")(x)
    shortcut = layers.Conv2D(4, 1, name="shortcut")(stem)
    x = layers.Add(name="add")([x, shortcut])
    x = layers.Activation("relu", name="out")(x)
    return keras.Model(inputs, x)


def test_resnet_block_with_add() -> None:
    # stem 3x3 s2 same on 16: grid 8, total padding 7*2+3-16 = 1, p = 0:
    #   size 3, jump 2, start 0 + 1 = 1.
    # a1, a2 3x3 same (p = 1): size 3+4 = 7, then 11; start stays 1.
    # shortcut 1x1: size 3, start 1. Add: union of [1-5, 1+5] and [0, 2] -> 11.
    fields = receptive_fields(_resnet_block())
    assert fields["stem"] == ReceptiveField((3, 3), (2, 2), (1.0, 1.0))
    assert fields["a1_relu"] == ReceptiveField((7, 7), (2, 2), (1.0, 1.0))
    assert fields["shortcut"] == fields["stem"]
    assert fields["add"] == fields["out"] == ReceptiveField((11, 11), (2, 2), (1.0, 1.0))


def test_merge_of_misaligned_branches_takes_the_union() -> None:
    inputs = keras.Input((10, 10, 1))
    # Branch a: pad bottom/right then 3x3 valid: start 0 + 1 = 1, covers 0..2.
    a = layers.ZeroPadding2D(((0, 2), (0, 2)))(inputs)
    a = layers.Conv2D(1, 3, name="a")(a)
    # Branch b: pad top/left 2 (start -2) then 3x3 valid: start -1, covers -2..0.
    b = layers.ZeroPadding2D(((2, 0), (2, 0)))(inputs)
    b = layers.Conv2D(1, 3, name="b")(b)
    # Union -2..2: size 5, start 0; the same for Concatenate and keras.ops `+`.
    merged = [
        layers.Concatenate(name="concat")([a, b]),
        layers.Multiply(name="multiply")([a, b]),
        a + b,
    ]
    model = keras.Model(inputs, merged)
    fields = receptive_fields(model)
    assert fields["a"] == ReceptiveField((3, 3), (1, 1), (1.0, 1.0))
    assert fields["b"] == ReceptiveField((3, 3), (1, 1), (-1.0, -1.0))
    union = ReceptiveField((5, 5), (1, 1), (0.0, 0.0))
    assert fields["concat"] == fields["multiply"] == union
    assert fields["concat"].region((0, 0), (10, 10)) == (0, 0, 3, 3)


def _mobilenet_like() -> keras.Model:
    inputs = keras.Input((32, 32, 3))
    x = layers.ZeroPadding2D(((0, 1), (0, 1)), name="pad1")(inputs)
    x = layers.Conv2D(8, 3, strides=2, name="conv1")(x)
    x = layers.DepthwiseConv2D(3, padding="same", name="dw1")(x)
    x = layers.Conv2D(8, 1, name="pw1")(x)
    x = layers.ZeroPadding2D(((0, 1), (0, 1)), name="pad2")(x)
    x = layers.DepthwiseConv2D(3, strides=2, name="dw2")(x)
    x = layers.SeparableConv2D(8, 3, padding="same", name="sep3")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(2, name="logits")(x)
    return keras.Model(inputs, x)


def test_mobilenet_like_depthwise_stack() -> None:
    # pad1 (bottom/right only): grid 33, start 0.
    # conv1 3x3 s2 valid: grid 16, size 3, jump 2, start 1.
    # dw1 3x3 same (p = 1): size 3 + 2*2 = 7, start 1; pw1 1x1 unchanged.
    # pad2: grid 17. dw2 3x3 s2 valid: grid 8, size 7 + 2*2 = 11, jump 4, start 1 + 2 = 3.
    # sep3 3x3 same (p = 1): size 11 + 2*4 = 19, start 3.
    model = _mobilenet_like()
    fields = receptive_fields(model)
    assert fields["conv1"] == ReceptiveField((3, 3), (2, 2), (1.0, 1.0))
    assert fields["pw1"] == ReceptiveField((7, 7), (2, 2), (1.0, 1.0))
    assert fields["dw2"] == ReceptiveField((11, 11), (4, 4), (3.0, 3.0))
    assert fields["sep3"] == ReceptiveField((19, 19), (4, 4), (3.0, 3.0))
    assert fields["gap"] == fields["logits"] == ReceptiveField.whole((32, 32))
    assert fields["logits"].is_global
    assert fields["logits"].region((0, 0), (32, 32)) == (0, 0, 32, 32)
    _assert_effective_equals_theoretical(
        _positive_linear(model), "sep3", [(0, 0), (4, 4), (7, 7)]
    )


def test_effective_field_of_relu_network_lies_inside_theoretical_region() -> None:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((48, 48, 3))
    x = layers.Conv2D(8, 3, activation="relu", padding="same", name="c1")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Conv2D(8, 3, activation="relu", name="c2")(x)
    x = layers.Conv2D(8, 3, strides=2, activation="relu", name="c3")(x)
    model = keras.Model(inputs, x)
    field = receptive_field(model, "c3")
    erf = effective_receptive_field(model, "c3")
    assert erf.shape == (48, 48)
    top, left, bottom, right = effective_region(erf)
    region = field.region(center_position(model, "c3"), (48, 48))
    assert region[0] <= top < bottom <= region[2] and region[1] <= left < right <= region[3]
    assert erf.sum() > 0
    # One channel sees a subset of what the sum over channels sees.
    single = effective_receptive_field(model, "c3", channel=3)
    assert np.all((single > 0) <= (erf > 0))


def _small_base() -> keras.Model:
    inputs = keras.Input((20, 20, 3))
    x = layers.Conv2D(4, 3, name="b1")(inputs)
    x = layers.Conv2D(4, 3, strides=2, name="b2")(x)
    return keras.Model(inputs, x, name="base")


def test_nested_model_inner_layers() -> None:
    # Inside Sequential: base/b1 3x3 valid: size 3, start 1. base/b2 3x3 s2 valid:
    # size 5, jump 2, start 2. The head conv 3x3 valid after it: size 9, start 2 + 2 = 4.
    model = keras.Sequential(
        [
            keras.Input((20, 20, 3)),
            _small_base(),
            layers.Conv2D(2, 3, name="head"),
            layers.GlobalMaxPooling2D(name="gmp"),
        ]
    )
    fields = receptive_fields(model)
    assert fields["base/b1"] == ReceptiveField((3, 3), (1, 1), (1.0, 1.0))
    assert fields["base/b2"] == fields["base"] == ReceptiveField((5, 5), (2, 2), (2.0, 2.0))
    assert fields["head"] == ReceptiveField((9, 9), (2, 2), (4.0, 4.0))
    assert fields["gmp"].is_global
    _positive_linear(model)
    _assert_effective_equals_theoretical(model, "base/b2", [(0, 0), (4, 4)])
    _assert_effective_equals_theoretical(model, "head", [(2, 3)])


def test_keras_mobilenet_nested_in_sequential() -> None:
    base = keras.applications.MobileNet(weights=None, include_top=False, input_shape=(128, 128, 3))
    model = keras.Sequential([keras.Input((128, 128, 3)), base, layers.GlobalAveragePooling2D()])
    fields = receptive_fields(model)
    inner = receptive_fields(base)
    prefix = base.name + "/"
    assert {name: fields[prefix + name] for name in inner} == inner
    # conv_pad_1 pads bottom/right; conv1 3x3 s2 valid: size 3, jump 2, start 1;
    # conv_dw_1 3x3 same: size 7; conv_pad_2 + conv_dw_2 3x3 s2 valid: size 11,
    # jump 4, start 1 + 1 * 2 = 3.
    assert inner["conv1"] == ReceptiveField((3, 3), (2, 2), (1.0, 1.0))
    assert inner["conv_dw_1"] == ReceptiveField((7, 7), (2, 2), (1.0, 1.0))
    assert inner["conv_dw_2"] == ReceptiveField((11, 11), (4, 4), (3.0, 3.0))
    assert inner["conv_pw_13_relu"].stride == (32, 32)


def test_squeeze_excitation_gate_is_broadcast_context() -> None:
    # The gate depends on the whole image but scales every position alike, so
    # the field of the gated features stays that of the conv (3x3 same: 3).
    inputs = keras.Input((16, 16, 4))
    x = layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    gate = layers.GlobalAveragePooling2D(keepdims=True, name="squeeze")(x)
    gate = layers.Conv2D(4, 1, activation="sigmoid", name="excite")(gate)
    x = layers.Multiply(name="scale")([x, gate])
    x = layers.GroupNormalization(2, name="group_norm")(x)
    fields = receptive_fields(keras.Model(inputs, x))
    assert fields["squeeze"].is_global and fields["excite"].is_global
    assert fields["scale"] == fields["group_norm"] == fields["conv"]
    assert fields["conv"] == ReceptiveField((3, 3), (1, 1), (0.0, 0.0))


class _ChannelScale(keras.layers.Layer):
    """A custom elementwise layer that the walk cannot know about."""

    def call(self, inputs):
        return inputs * 2.0


def test_custom_elementwise_layers_can_be_declared() -> None:
    inputs = keras.Input((12, 12, 1))
    x = layers.Conv2D(1, 3, name="c1")(inputs)
    x = _ChannelScale(name="scale")(x)
    x = layers.Conv2D(1, 3, name="c2")(x)
    model = keras.Model(inputs, x)
    assert "scale" not in receptive_fields(model)
    with pytest.raises(ValueError, match=r"'scale' \(_ChannelScale\).*elementwise_layers"):
        receptive_field(model, "c2")
    # c1 3x3 valid: size 3, start 1; c2 3x3 valid: size 5, start 2.
    expected = ReceptiveField((5, 5), (1, 1), (2.0, 2.0))
    assert receptive_field(model, "c2", elementwise_layers=[_ChannelScale]) == expected
    with pytest.raises(TypeError, match="elementwise_layers"):
        receptive_fields(model, elementwise_layers=[_ChannelScale()])


@pytest.mark.parametrize(
    "resampling",
    [
        layers.UpSampling2D,
        lambda name: layers.Conv2DTranspose(1, 3, strides=2, name=name),
        lambda name: layers.Resizing(10, 10, name=name),
        lambda name: layers.Lambda(lambda x: x[:, ::-1], name=name),
    ],
    ids=["UpSampling2D", "Conv2DTranspose", "Resizing", "Lambda"],
)
def test_unknown_layers_are_left_out_and_explained(resampling: Callable) -> None:
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(1, 3, name="before")(inputs)
    x = resampling(name="up")(x)
    x = layers.Conv2D(1, 3, name="after")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inputs, x)
    fields = receptive_fields(model)
    assert "up" not in fields and "after" not in fields
    assert fields["before"].size == (3, 3)
    # Global pooling sees the whole input whatever came before it.
    assert fields["gap"] == ReceptiveField.whole((8, 8))
    class_name = type(model.get_layer("up")).__name__
    with pytest.raises(ValueError, match=rf"'after'.*'up' \({class_name}\)"):
        receptive_field(model, "after")
    # The effective field does not need the graph walk to succeed.
    assert effective_region(effective_receptive_field(model, "after"))


def test_unknown_layer_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match=r"'nope'.*'conv1'.*'conv4'"):
        receptive_field(_hand_stack(layers.MaxPooling2D), "nope")
    with pytest.raises(ValueError, match=r"'nope'.*'conv1'"):
        effective_receptive_field(_hand_stack(layers.MaxPooling2D), "nope")


def test_unknown_input_size_needs_override() -> None:
    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, layers.Conv2D(1, 3, strides=2, padding="same", name="c")(inputs))
    with pytest.raises(ValueError, match="input_size"):
        receptive_fields(model)
    # Output 5 on both axes; total padding 4*2 + 3 - 9 = 2 -> p = 1, start 1 - 1 = 0
    # on the height, 4*2 + 3 - 10 = 1 -> p = 0, start 1 on the width.
    field = receptive_field(model, "c", input_size=(9, 10))
    assert field.start == (0.0, 1.0)
    with pytest.raises(ValueError, match="inputs"):
        effective_receptive_field(model, "c")
    _positive_linear(model)
    erf = effective_receptive_field(model, "c", position=(4, 4), inputs=np.ones((2, 9, 10, 1)))
    assert effective_region(erf) == field.region((4, 4), (9, 10)) == (7, 8, 9, 10)


def test_layer_called_twice_with_different_fields_is_unknown() -> None:
    inputs = keras.Input((10, 10, 1))
    shared = layers.Conv2D(1, 3, padding="same", name="shared")
    x = shared(shared(inputs))
    model = keras.Model(inputs, x)
    assert "shared" not in receptive_fields(model)
    with pytest.raises(ValueError, match="several places"):
        receptive_field(model, "shared")


def test_center_position_of_global_layer_raises() -> None:
    model = _mobilenet_like()
    assert center_position(model, "sep3") == (4, 4)
    with pytest.raises(ValueError, match="whole input"):
        center_position(model, "gap")


def test_effective_receptive_field_argument_errors() -> None:
    model = _mobilenet_like()
    with pytest.raises(ValueError, match=r"channel 8 .*0\.\.7"):
        effective_receptive_field(model, "sep3", channel=8)
    with pytest.raises(ValueError, match=r"\(9, 0\)"):
        effective_receptive_field(model, "sep3", position=(9, 0))
    with pytest.raises(ValueError, match="threshold"):
        effective_receptive_field(model, "sep3", threshold=1.5)
    # A dense neuron has no position and sees the whole image.
    _positive_linear(model)
    erf = effective_receptive_field(model, "logits", channel=1)
    assert effective_region(erf) == (0, 0, 32, 32)


def test_effective_region_errors() -> None:
    with pytest.raises(ValueError, match="dead"):
        effective_region(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"\(4,\)"):
        effective_region(np.ones(4))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": (0, 3), "stride": (1, 1), "start": (0.0, 1.0)},
        {"size": (3, 3), "stride": (1, 1.5), "start": (1.0, 1.0)},
        {"size": (3, 3), "stride": (1, 1), "start": (0.5, 1.0)},
    ],
)
def test_receptive_field_validates(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="ReceptiveField"):
        ReceptiveField(**kwargs)


def test_whole_field() -> None:
    field = ReceptiveField.whole((224, 200))
    assert field == ReceptiveField((224, 200), (224, 200), (111.5, 99.5), is_global=True)
    assert field.region((3, 5), (224, 200)) == (0, 0, 224, 200)
