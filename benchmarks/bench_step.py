"""How close is a featviz step to the bare cost of the network? One run, one table.

Measured in one process, on the same model, image size and batch:

- **limit**: the bare step — the model's forward pass to the logits and the gradient of one
  logit per image with respect to the input image, in one `tf.function`, nothing else;
- **featviz**: a full `Visualizer` step with the default class-visualization setup (Fourier
  parameterization, decorrelated colour, pad/jitter/scale/rotate transforms, Adam), callbacks
  off, then with TensorBoard (images every 10 steps, scalars every step) and a progress bar;
- the **ratio** featviz / limit of median step times (at least 20 timed steps after warm-up);
- **throughput**: images x steps per second at batches 1, 4, 16;
- **peak memory**: resident set size of a fresh process running the limit or featviz at the
  largest batch (`--memory`);
- peers (tf-keras-vis, xplique), where installed, on the same model and size.

    python benchmarks/bench_step.py --model vgg16 --size 224 --batch 1 --steps 20
    python benchmarks/bench_step.py --model demo --size 64 --batches 1,4,16 --xla

Models: "demo", any keras.applications name (built with random weights: weights do not change
speed), or a .keras file.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import featviz as fv  # noqa: E402
from featviz.objectives import LOGITS  # noqa: E402


def load(name: str, size: int) -> fv.VisModel:
    """The model to measure, with random weights for keras.applications names."""
    if name == "demo" or name.endswith((".keras", ".h5")):
        return fv.load_model(name)
    return fv.load_model(name, weights=None, input_shape=(size, size, 3))


def limit_step(model: fv.VisModel, batch: int, size: int):
    """The bare step: forward to the logits and d(logit)/d(image), compiled, nothing else."""
    extract = model.extractor([LOGITS])
    images = tf.Variable(tf.random.stateless_uniform([batch, size, size, 3], seed=[0, 0]))
    targets = tf.one_hot(tf.range(batch) % model.num_classes, model.num_classes)

    @tf.function
    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            logits = extract(model.preprocess(images))[LOGITS]
            objective = tf.reduce_sum(logits * targets)
        gradient = tape.gradient(objective, images)
        return tf.reduce_sum(gradient)

    return lambda: step().numpy()


def time_calls(call, warmup: int, steps: int) -> list[float]:
    """Durations of `steps` calls after `warmup` untimed ones, in seconds."""
    for _ in range(warmup):
        call()
    durations = []
    for _ in range(steps):
        start = time.perf_counter()
        call()
        durations.append(time.perf_counter() - start)
    return durations


class StepTimer(fv.Callback):
    """Records the wall time between consecutive step starts (step + callbacks + loop)."""

    def on_run_begin(self, logs=None):
        self.starts = []

    def on_step_begin(self, step, logs=None):
        self.starts.append(time.perf_counter())

    def on_run_end(self, logs=None):
        self.starts.append(time.perf_counter())

    def durations(self, warmup: int) -> list[float]:
        return list(np.diff(self.starts)[warmup:])


def featviz_visualizer(model: fv.VisModel, batch: int, size: int, steps: int, callbacks: list,
                       logdir: str | None) -> fv.Visualizer:
    """The default class-visualization setup, one class logit per image."""
    objectives = [fv.ClassLogit(i % model.num_classes) for i in range(batch)]
    transforms = fv.standard_transforms(jitter=max(2, size // 28), pad=max(2, size // 18))
    return fv.Visualizer(model, objectives, param=fv.Fourier(size), transforms=transforms,
                         steps=steps, callbacks=callbacks, logdir=logdir)


def featviz_times(model, batch, size, warmup, steps, logging: bool) -> list[float]:
    timer = StepTimer()
    callbacks: list = [timer]
    with tempfile.TemporaryDirectory() as logdir:
        if logging:
            callbacks += [fv.TensorBoard(image_every=10), fv.ProgressBar(stream=open(os.devnull, "w"))]
        featviz_visualizer(model, batch, size, warmup + steps, callbacks, logdir).run()
    return timer.durations(warmup)


def peer_times(model: fv.VisModel, batch: int, size: int, warmup: int, steps: int) -> dict[str, list[float]]:
    """Per-step times of peer libraries' class visualization, where they are installed."""
    results = {}
    try:
        from tf_keras_vis.activation_maximization import ActivationMaximization
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore

        visualization = ActivationMaximization(model.model, model_modifier=ReplaceToLinear(), clone=True)
        score = CategoricalScore(list(range(batch)))

        def run(n):
            visualization(score, steps=n, seed_input=np.random.uniform(0, 255, (batch, size, size, 3)))

        run(warmup)
        start = time.perf_counter()
        run(steps)
        results["tf-keras-vis"] = [(time.perf_counter() - start) / steps] * steps
    except ImportError:
        pass
    except Exception as error:  # noqa: BLE001 - a peer failing is reported, not fatal
        print(f"tf-keras-vis failed: {type(error).__name__}: {error}", file=sys.stderr)
    try:
        from xplique.features_visualizations import Objective, optimize

        objective = Objective.neuron(model.model, model.model.layers[-1].name, list(range(batch)))

        def run(n):
            optimize(objective, nb_steps=n, use_fft=True, fft_decay=1.0, std=0.01)

        run(warmup)
        start = time.perf_counter()
        run(steps)
        results["xplique"] = [(time.perf_counter() - start) / steps] * steps
    except ImportError:
        pass
    except Exception as error:  # noqa: BLE001
        print(f"xplique failed: {type(error).__name__}: {error}", file=sys.stderr)
    return results


def peak_memory(args: argparse.Namespace, mode: str, batch: int) -> float:
    """Peak RSS in MiB of a fresh process running `mode` ("limit" or "featviz") at `batch`."""
    command = [sys.executable, __file__, "--model", args.model, "--size", str(args.size),
               "--memory-probe", mode, "--batch", str(batch), "--steps", "5", "--warmup", "2"]
    if args.xla:
        command.append("--xla")
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return float(output.strip().splitlines()[-1])


def memory_probe(args: argparse.Namespace) -> None:
    model = load(args.model, args.size)
    if args.memory_probe == "limit":
        time_calls(limit_step(model, args.batch, args.size), args.warmup, args.steps)
    else:
        featviz_times(model, args.batch, args.size, args.warmup, args.steps, logging=False)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--size", type=int, default=None, help="image size (default: the model's input)")
    parser.add_argument("--batch", type=int, default=1, help="batch of the ratio measurement")
    parser.add_argument("--batches", default="1,4,16", help="batches of the throughput measurement")
    parser.add_argument("--steps", type=int, default=20, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--xla", action="store_true", help="XLA auto-clustering for every measurement")
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS at the largest batch")
    parser.add_argument("--peers", action="store_true", help="also time tf-keras-vis / xplique if installed")
    parser.add_argument("--memory-probe", choices=("limit", "featviz"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.xla:
        tf.config.optimizer.set_jit("autoclustering")
    if args.size is None:
        args.size = 64 if args.model == "demo" else 224
    if args.memory_probe:
        memory_probe(args)
        return

    model = load(args.model, args.size)
    median = statistics.median
    limit = time_calls(limit_step(model, args.batch, args.size), args.warmup, args.steps)
    plain = featviz_times(model, args.batch, args.size, args.warmup, args.steps, logging=False)
    logged = featviz_times(model, args.batch, args.size, args.warmup, args.steps, logging=True)
    rows = [("limit (forward + input gradient)", limit), ("featviz, callbacks off", plain),
            ("featviz, TensorBoard every 10 + progress bar", logged)]
    if args.peers:
        rows += [(name, times) for name, times in peer_times(model, args.batch, args.size, args.warmup, args.steps).items()]

    print(f"\n{args.model} {args.size}x{args.size}, batch {args.batch}, XLA {'on' if args.xla else 'off'}, "
          f"{args.steps} timed steps after {args.warmup} warm-up; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, TensorFlow {tf.__version__}\n")
    print("| step | median ms | ratio to limit |\n|---|---|---|")
    for name, times in rows:
        print(f"| {name} | {1000 * median(times):.1f} | {median(times) / median(limit):.3f} |")

    print("\n| batch | limit images·steps/s | featviz images·steps/s | featviz vs its batch 1 |\n|---|---|---|---|")
    batches = [int(b) for b in args.batches.split(",")]
    base = None
    for batch in batches:
        steps = max(5, args.steps // batch)
        bare = batch / median(time_calls(limit_step(model, batch, args.size), 2, steps))
        ours = batch / median(featviz_times(model, batch, args.size, 2, steps, logging=False))
        base = base or ours
        print(f"| {batch} | {bare:.2f} | {ours:.2f} | {ours / base:.2f}x |")

    if args.memory:
        batch = max(batches)
        bare, ours = peak_memory(args, "limit", batch), peak_memory(args, "featviz", batch)
        print(f"\npeak RSS at batch {batch}: limit {bare:.0f} MiB, featviz {ours:.0f} MiB, ratio {ours / bare:.3f}")


if __name__ == "__main__":
    main()
