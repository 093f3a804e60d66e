"""A short render of a class and a channel on every keras.applications family, random weights.

For each family (random weights, include_top=True, a small input size): build it offline through
`featviz.load_model(name, weights=None, input_shape=...)`, check that `ClassLogit` reads the
pre-softmax logits (their softmax is the model's output) and where the softmax is, render
`ClassLogit(class)` and `Channel(a layer two thirds deep, 0)` for `--steps` steps, and check
that the model predicts the same afterwards. Untrained BatchNorm layers (moving mean 0,
variance 1) normalise nothing, and the activations of random deep networks vanish (logits about
1e-22 on MobileNet): so, before anything else, each BatchNorm's moving statistics are set to
those of its input on noise images, layer after layer (a data-dependent initialisation of these
random models; featviz itself never changes a model). The gradient is normalised
(`NormalizeGradient`) so that Adam's steps do not depend on the remaining scale.

    python experiments/applications_render.py            # about 5 minutes on 2 CPU cores
    python experiments/applications_render.py vgg16 convnext_tiny --steps 5

Prints one line per family: sizes, seconds (build / first step incl. tracing / later steps),
objective values at the first and last step, and the checks.
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np
import tensorflow as tf

import featviz as fv
from featviz.models.graph import find_logits

FAMILIES = {  # name: input side (the family's smallest practical size, small for speed)
    "vgg16": 64, "vgg19": 64, "resnet50": 64, "resnet50v2": 64, "mobilenet": 64,
    "mobilenet_v2": 64, "mobilenet_v3_small": 64, "mobilenet_v3_large": 64,
    "efficientnet_b0": 64, "efficientnetv2_b0": 64, "inception_v3": 75, "densenet121": 64,
    "convnext_tiny": 64,
}


def _channel_layer(model: fv.VisModel) -> str:
    """A layer two thirds of the way through the 4-D (image-grid) layers."""
    grid = []
    for name in model.layer_names:
        try:
            if len(model.output_shape(name)) == 4:
                grid.append(name)
        except ValueError:
            continue
    return grid[2 * len(grid) // 3]


def _calibrate_batchnorm(model: fv.VisModel, size: int) -> int:
    """Sets every BatchNorm's moving mean/variance to its input's statistics on noise images.

    At initialisation (gamma 1, beta 0, mean 0, variance 1) a BatchNorm outputs its input
    divided by sqrt(1 + epsilon), so the input's statistics are read off the output. Layers are
    calibrated in graph order, each on the already calibrated layers before it.
    """
    noise = tf.constant(np.random.default_rng(1).uniform(size=(8, size, size, 3)), tf.float32)
    inputs = model.preprocess(noise)
    count = 0
    for name in model.layer_names:
        layer = model.layer(name)
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        outputs = model.extractor([name])(inputs)[name] * np.sqrt(1.0 + layer.epsilon)
        axes = [axis for axis in range(outputs.shape.rank) if axis != outputs.shape.rank - 1]
        mean, variance = tf.nn.moments(outputs, axes=axes)
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(variance)
        count += 1
    return count


def _softmax_placement(model: keras.Model) -> str:
    _, target = find_logits(model)
    layer = target.tensor._keras_history.operation
    if target.without_activation:
        return f"fused into {layer.name}"
    return f"separate, logits = {layer.name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(FAMILIES))
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    for name in args.names:
        size = FAMILIES.get(name, 64)
        keras.utils.set_random_seed(0)
        start = time.perf_counter()
        model = fv.load_model(name, weights=None, input_shape=(size, size, 3))
        calibrated = _calibrate_batchnorm(model, size)
        built = time.perf_counter() - start
        probe = tf.constant(np.random.default_rng(0).uniform(size=(2, size, size, 3)), tf.float32)
        inputs = model.preprocess(probe)
        before = model.model(inputs, training=False).numpy()
        logits = model.extractor([fv.LOGITS])(inputs)[fv.LOGITS]
        logits_ok = np.allclose(tf.nn.softmax(logits).numpy(), before, atol=1e-5)
        layer = _channel_layer(model)
        objectives = [fv.ClassLogit(1), fv.Channel(layer, 0)]
        times = []

        class Timer(fv.Callback):
            def on_step_end(self, step, logs=None):
                times.append(time.perf_counter())

        start = time.perf_counter()
        render = fv.Visualizer(model, objectives, param=fv.Fourier(size), steps=args.steps,
                               gradient_transforms=[fv.NormalizeGradient()],
                               callbacks=[Timer()]).run()
        first = times[0] - start
        later = (times[-1] - times[0]) / max(len(times) - 1, 1)
        values = [render.history[o.name][:, i] for i, o in enumerate(objectives)]
        unchanged = np.array_equal(model.model(inputs, training=False).numpy(), before)
        print(f"{name:19s} {size}px {len(model.layer_names):4d} layers ({calibrated} BN)  "
              f"build {built:4.1f}s  "
              f"first step {first:5.1f}s  then {later * 1000:5.0f} ms/step  "
              f"ClassLogit[1] {values[0][0]:+.3g} -> {values[0][-1]:+.3g}  "
              f"Channel[{layer}:0] {values[1][0]:.3g} -> {values[1][-1]:.3g}  "
              f"softmax {_softmax_placement(model.model)}; logits ok {logits_ok}; "
              f"predictions unchanged {unchanged}", flush=True)


if __name__ == "__main__":
    main()
