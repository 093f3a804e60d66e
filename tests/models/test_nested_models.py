"""Nested models, layer names, the logits, input sizes: what works, and a clear error for the rest."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import featviz as fv
from featviz.cli import main

layers = keras.layers


@pytest.fixture(scope="module")
def finetuned() -> keras.Model:
    """A keras.applications MobileNet base (random weights) inside a fine-tuning Sequential."""
    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNet(weights=None, alpha=0.25, include_top=False,
                                        input_shape=(32, 32, 3))
    return keras.Sequential([keras.Input((32, 32, 3)), base, layers.GlobalAveragePooling2D(name="gap"),
                             layers.Dense(4, activation="softmax", name="predictions")],
                            name="finetuned")


def _images(size: int = 32, channels: int = 3, batch: int = 2) -> tf.Tensor:
    return tf.constant(np.random.default_rng(0).uniform(size=(batch, size, size, channels)), tf.float32)


def test_layers_of_a_nested_application_are_read_by_qualified_and_unqualified_names(finetuned):
    model = fv.load_model(finetuned)
    base = finetuned.get_layer("mobilenet_0.25_32")
    assert model.qualified_name("conv_pw_13_relu") == "mobilenet_0.25_32/conv_pw_13_relu"
    assert "mobilenet_0.25_32/conv_dw_7" in model.layer_names
    assert model.layer("conv_pw_13_relu") is base.get_layer("conv_pw_13_relu")
    assert model.channels("mobilenet_0.25_32/conv_pw_5") == base.get_layer("conv_pw_5").filters

    keys = ["conv_pw_13_relu", "mobilenet_0.25_32/conv1", "gap", fv.LOGITS]
    features = tf.function(model.extractor(keys))(_images())
    for key in keys[:2]:
        inner = base.get_layer(key.rsplit("/", 1)[-1])
        direct = keras.Model(base.inputs, inner.output)(_images(), training=False)
        np.testing.assert_allclose(features[key].numpy(), direct.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf.nn.softmax(features[fv.LOGITS]).numpy(),
                               finetuned(_images(), training=False).numpy(), rtol=1e-5, atol=1e-7)


def test_render_on_a_nested_application_leaves_its_predictions_unchanged(finetuned):
    before = finetuned(_images(), training=False).numpy()
    render = fv.Visualizer(finetuned, [fv.ClassLogit(2), fv.Channel("conv_pw_13_relu", 5)],
                           param=fv.Fourier(32), steps=3).run()
    assert render.steps == 3 and np.all(np.isfinite(render.history["loss"]))
    np.testing.assert_array_equal(finetuned(_images(), training=False).numpy(), before)
    assert finetuned.get_layer("predictions").activation is keras.activations.softmax


def test_featviz_layers_shows_the_nesting(finetuned, tmp_path, capsys):
    path = tmp_path / "finetuned.keras"
    finetuned.save(path)
    assert main(["layers", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("mobilenet_0.25_32 ") and "Functional" in line for line in lines)
    inner = [line for line in lines if "mobilenet_0.25_32/conv_pw_13_relu" in line]
    assert inner and inner[0].startswith("  mobilenet_0.25_32/") and "(None, 1, 1, 256)" in inner[0]


def _two_bases() -> keras.Model:
    def base(name):
        inputs = keras.Input((16, 16, 3))
        return keras.Model(inputs, layers.Conv2D(4, 3, name="conv")(inputs), name=name)

    image = keras.Input((16, 16, 3))
    merged = layers.Concatenate()([base("left")(image), base("right")(image)])
    return keras.Model(image, layers.Dense(3)(layers.GlobalAveragePooling2D()(merged)), name="two")


def test_an_ambiguous_unqualified_name_lists_the_qualified_ones():
    model = fv.load_model(_two_bases())
    with pytest.raises(ValueError, match=r"'conv' is ambiguous.*'left/conv', 'right/conv'"):
        model.layer("conv")
    assert model.channels("right/conv") == 4


def test_an_unknown_name_lists_nested_names_and_close_matches(finetuned):
    with pytest.raises(ValueError, match=r"no layer 'conv_pw_13_rleu'\. Closest: "
                                         r"'mobilenet_0\.25_32/conv_pw_13_relu'.*Valid layer names: .*"
                                         r"mobilenet_0\.25_32/conv1_bn"):
        fv.load_model(finetuned).layer("conv_pw_13_rleu")


class _Subclassed(keras.Model):
    def __init__(self) -> None:
        super().__init__(name="subclassed")
        self.conv = layers.Conv2D(4, 3, name="conv")

    def call(self, inputs):
        return self.conv(inputs)


def test_layers_inside_a_subclassed_model_are_refused_but_its_output_works():
    image = keras.Input((16, 16, 3))
    outer = keras.Model(image, layers.Dense(3)(layers.GlobalAveragePooling2D()(_Subclassed()(image))))
    model = fv.load_model(outer)
    with pytest.raises(ValueError, match="'subclassed' is a subclassed keras.Model without a layer graph"):
        fv.Channel("subclassed/conv", 0).check(model)
    assert model.channels("subclassed") == 4
    with pytest.raises(ValueError, match="subclassed keras.Model without a layer graph; featviz needs a "
                                         "functional or Sequential model. Wrap it"):
        fv.load_model(_Subclassed())


def test_layers_called_twice_have_no_single_activation():
    image = keras.Input((16, 16, 3))
    base = keras.Model(image, layers.Conv2D(4, 3, name="conv")(image), name="base")
    shared = layers.Dense(8, name="shared")
    siamese_input = keras.Input((16, 16, 3))
    x = layers.Concatenate()([base(siamese_input), base(siamese_input * 0.5)])
    x = shared(shared(layers.GlobalAveragePooling2D()(x)))
    model = fv.load_model(keras.Model(siamese_input, x))
    with pytest.raises(ValueError, match="'base/conv' .* is inside nested model 'base', which is "
                                         "called 2 times"):
        model.channels("base/conv")
    with pytest.raises(ValueError, match="'shared' .* is called 2 times in model"):
        model.channels("shared")


def test_a_fused_softmax_layer_gets_its_activation_back_even_when_the_call_fails():
    class Picky(layers.Dense):
        """Refuses to run without its softmax, as a buggy custom layer might."""

        def call(self, inputs):
            if self.activation is not keras.activations.softmax:
                raise RuntimeError("no softmax")
            return super().call(inputs)

    image = keras.Input((16, 16, 3))
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(4, 3)(image))
    keras_model = keras.Model(image, Picky(3, activation="softmax", name="picky")(x))
    before = keras_model(_images(16)).numpy()
    with pytest.raises(RuntimeError, match="no softmax"):
        fv.Visualizer(keras_model, fv.ClassLogit(0), param=fv.Fourier(16), steps=2).run()
    assert keras_model.get_layer("picky").activation is keras.activations.softmax
    np.testing.assert_array_equal(keras_model(_images(16)).numpy(), before)


def _valid_pools(size: int | None) -> keras.Model:
    """Three valid 3x3 convolutions and two pools: needs 18x18 (18 -> 16 -> 8 -> 6 -> 3 -> 1)."""
    image = keras.Input((size, size, 3))
    x = layers.Conv2D(4, 3, activation="relu", name="conv1")(image)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(4, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    x = layers.Conv2D(4, 3, activation="relu", name="conv3")(x)
    return keras.Model(image, layers.Dense(3)(layers.GlobalAveragePooling2D()(x)), name="pools")


def test_a_render_too_small_for_a_free_size_model_is_refused_with_the_smallest_size():
    model = fv.load_model(_valid_pools(None))
    with pytest.raises(ValueError, match=r"model 'pools' cannot compute <logits> from 16x16 images: layer "
                                         r"'conv3' \(Conv2D\) on input shape \(1, 2, 2, 4\) fails.*smallest "
                                         r"square input it accepts is 18x18: use a parameterization "
                                         r"size of at least 18"):
        fv.Visualizer(model, fv.ClassLogit(0), param=fv.Fourier(16))
    with pytest.raises(ValueError, match="from 17x17 images"):
        fv.Visualizer(model, fv.ClassLogit(0), param=fv.Fourier(17))
    # Early layers need less: conv2 is computable from 16x16.
    fv.Visualizer(model, fv.Channel("conv2", 0), param=fv.Fourier(16), steps=1).run()
    render = fv.Visualizer(model, fv.ClassLogit(0), param=fv.Fourier(18), steps=1).run()
    assert render.images.shape == (1, 18, 18, 3)


def test_any_render_size_is_resized_to_a_fixed_size_model():
    for size in (8, 31, 100):
        render = fv.Visualizer(_valid_pools(24), fv.ClassLogit(0), param=fv.Fourier(size), steps=2).run()
        assert render.images.shape == (1, size, size, 3)


def test_one_free_spatial_dimension_is_taken_from_the_render():
    image = keras.Input((None, 24, 3))
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(4, 3, activation="relu")(image))
    model = keras.Model(image, layers.Dense(3)(x), name="wide")
    render = fv.Visualizer(model, fv.ClassLogit(0), param=fv.Fourier((20, 40)), steps=2).run()
    assert render.images.shape == (1, 20, 40, 3)


def test_an_unbuilt_sequential_is_refused_with_how_to_build_it():
    with pytest.raises(ValueError, match=r"Sequential model 'unbuilt' is not built.*keras.Input"):
        fv.load_model(keras.Sequential([layers.Conv2D(4, 3), layers.GlobalAveragePooling2D()],
                                       name="unbuilt"))
    built = keras.Sequential([layers.Conv2D(4, 3, name="conv"), layers.GlobalAveragePooling2D()],
                             name="built")
    built.build((None, 16, 16, 3))
    assert fv.load_model(built).channels("conv") == 4


@pytest.mark.parametrize("shape, message", [
    ((3, 32, 32), r"\[batch, height, width, 1 or 3\] \(channels last\); model 'bad' has input "
                  r"shape \(None, 3, 32, 32\)"),
    ((32, 32, 4), r"has input shape \(None, 32, 32, 4\)"),
])
def test_channels_first_and_other_channel_counts_are_refused(shape, message):
    image = keras.Input(shape)
    with pytest.raises(ValueError, match=message):
        fv.load_model(keras.Model(image, layers.Flatten()(image), name="bad"))


def test_grayscale_models_get_grayscale_renders_saved_as_grayscale_pngs(tmp_path):
    image = keras.Input((32, 32, 1))
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(4, 3, activation="relu", name="conv")(image))
    model = keras.Model(image, layers.Dense(3)(x), name="gray")
    saver = fv.ImageSaver(directory=str(tmp_path))
    render = fv.Visualizer(model, fv.Channel("conv", 1), param=fv.Pixel(32), steps=2,
                           callbacks=[saver]).run()
    assert render.images.shape == (1, 32, 32, 1)
    with Image.open(saver.written[0]) as png:
        assert png.mode == "L" and png.size == (32, 32)
    with pytest.raises(ValueError, match="makes 3-channel images but model 'gray' takes 1-channel"):
        fv.Visualizer(model, fv.ClassLogit(0), param=fv.Fourier(32, channels=3))


def test_a_neuron_of_a_free_size_model_under_size_changing_transforms():
    image = keras.Input((None, None, 3))
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(image)
    model = keras.Model(image, layers.Dense(3)(layers.GlobalAveragePooling2D()(x)), name="free")
    render = fv.Visualizer(model, fv.Neuron("conv", 1), param=fv.Fourier(40), steps=2,
                           transforms=fv.standard_transforms(jitter=2, pad=2)).run()
    assert render.steps == 2 and np.all(np.isfinite(render.history["Neuron[conv:1]"]))


def test_gin_and_the_cli_render_a_layer_of_a_saved_fine_tuned_model(finetuned, tmp_path):
    model_path = tmp_path / "finetuned.keras"
    finetuned.save(model_path)
    config = tmp_path / "finetuned.gin"
    config.write_text(
        f"Visualizer.model = @load_model()\n"
        f"load_model.name = '{model_path}'\n"
        f"Visualizer.objective = [@ClassLogit(), @Channel()]\n"
        f"ClassLogit.target = 2\n"
        f"Channel.layer = 'mobilenet_0.25_32/conv_pw_13_relu'\n"
        f"Channel.channel = 7\n"
        f"Visualizer.param = @Fourier()\n"
        f"Fourier.size = 48  # resized to the model's 32x32 input inside the step\n"
        f"Visualizer.steps = 2\n"
        f"Visualizer.redirect_relu_steps = 1\n"
        f"Visualizer.callbacks = [@ImageSaver()]\n"
    )
    logdir = tmp_path / "run"
    assert main(["run", str(config), "--logdir", str(logdir)]) == 0
    with Image.open(logdir / "01_Channel_mobilenet_0.25_32_conv_pw_13_relu_7.png") as png:
        assert png.size == (48, 48) and png.mode == "RGB"
    assert "Visualizer.redirect_relu_steps = 1" in (logdir / "operative_config.gin").read_text()
