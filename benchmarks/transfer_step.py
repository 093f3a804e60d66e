"""Step cost of ActivationMatch: the target's forward pass must not be paid at every step.

Times the compiled step (steps/s after the first, traced, step) for three objectives on the same
layer: `LayerActivation` (no target at all), `ActivationMatch` (target computed once, captured
by the compiled step) and a naive matching objective that recomputes the target's activations
inside every step. If ActivationMatch costs as much as LayerActivation and less than the naive
one, no second forward pass hides in the step. Also counts the convolutions in each step's graph.

    PYTHONPATH=. python benchmarks/transfer_step.py                        # reference MobileNet if present, else demo
    PYTHONPATH=. python benchmarks/transfer_step.py --model vgg16 --steps 11
"""

from __future__ import annotations

import argparse
import collections
import os
import time

import tensorflow as tf

import featviz as fv

REFERENCE = "/work/shared/models/mobilenet_025_imagenet.keras"
PHOTO = str(fv.configs.sample_image("astronaut"))
REPEATS = 3


@fv.objective
def naive_match(features, layer, image):
    """-||a - t||^2 / ||t||^2 with t recomputed from the image inside the step."""
    model = features.model
    target_image = tf.constant(fv.io.as_image_batch(image, model.input_size, 3, 1))
    target = model.extractor([layer])(model.preprocess(target_image))[layer]
    error = tf.reduce_sum(tf.square(features[layer] - target), axis=[1, 2, 3])
    return -error / tf.reduce_sum(tf.square(target))


def measure(model: fv.VisModel, objective: fv.Objective, steps: int) -> tuple[float, int]:
    visualizer = fv.Visualizer(model, objective, param=fv.Pixel(model.input_size[0]), transforms=[],
                               steps=steps)
    times = []

    class Clock(fv.Callback):
        def on_step_end(self, step, logs=None):
            times.append(time.perf_counter())

    visualizer.callbacks.callbacks.append(Clock())
    visualizer.run()
    graph = visualizer._compiled.step.get_concrete_function().graph
    ops = collections.Counter(op.type for op in graph.get_operations())
    convolutions = ops["Conv2D"] + ops["DepthwiseConv2dNative"]
    return (len(times) - 1) / (times[-1] - times[0]), convolutions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["reference", "vgg16", "demo"], default="reference",
                        help="reference: MobileNet 0.25 (when present); vgg16: random weights, "
                             "compute-bound on CPU; demo: the bundled model")
    parser.add_argument("--steps", type=int, default=201)
    args = parser.parse_args()
    if args.model == "reference" and os.path.exists(REFERENCE):
        model = fv.load_model(REFERENCE, preprocess="mobilenet", class_names="imagenet")
        layer = "conv_pw_13_relu"
    elif args.model == "vgg16":
        model, layer = fv.load_model("vgg16", weights=None), "block5_conv3"
    else:
        model, layer = fv.load_model("demo"), "conv5"
    print(f"model {model.name}, layer {layer}, batch 1 at {model.input_size}, {args.steps} steps")
    objectives = (fv.LayerActivation(layer), fv.ActivationMatch(layer, PHOTO), naive_match(layer, PHOTO))
    # Interleaved repeats, best of each: the machine is shared, so single timings are noisy.
    rates: dict[str, list[float]] = collections.defaultdict(list)
    convolutions = {}
    for _ in range(REPEATS):
        for objective in objectives:
            rate, convolutions[objective.name] = measure(model, objective, steps=args.steps)
            rates[objective.name].append(rate)
    print("| objective | steps/s (best of 3) | all runs | convolutions in the step graph |")
    for objective in objectives:
        runs = ", ".join(f"{rate:.1f}" for rate in rates[objective.name])
        print(f"| {objective.name} | {max(rates[objective.name]):.1f} | {runs} | {convolutions[objective.name]} |")


if __name__ == "__main__":
    main()
