"""How close is a featviz step to the bare cost of the network? Generates benchmarks/RESULTS.md.

Definitions (issue 17), every number measured in one process per model, with the rows timed in
alternating rounds so that other jobs on the machine slow all of them alike; medians:

- **limit**: the model's own call, `model(preprocess(x), training=False)`, forward to the output
  and the gradient of one output per image with respect to the input image, in one
  `tf.function`, nothing else;
- **featviz default**: exactly what `Visualizer(model, objective)` runs when given nothing else
  (the recipe: parameterization, transforms, optimizer, redirected ReLUs), one `ClassLogit` per
  image, reported during the redirected-ReLU steps and after them; then with the default
  logging (`TensorBoard()`: scalars every step, images every 10; `ProgressBar()`), and with
  `jit_compile=True` (XLA for the model's part; the limit's XLA row compiles the whole limit);
- **seed method**: `featviz/configs/vgg16_classes.gin`'s settings (sigmoid pixels, no transforms,
  `NormalizeGradient`, Adam 0.1, re-standardise every step, zoom and blur every 20) with its
  logging callbacks removed, at the config's render size scaled to the model (244 for 224);
- **peers** (tf-keras-vis, xplique; `pip install -e ".[bench]"`), where installed, each with its
  own defaults for class visualization, per step, tracing excluded;
- **throughput** in images x steps per second at batches 1, 4, 16 (featviz default after the
  redirected steps, callbacks off), and **peak RSS** of fresh processes at batch 16;
- a **profile** of the step's parts, each compiled alone, forward and backward, called in
  turn one call at a time.

Models get random weights (weights do not change speed). Usage:

    python benchmarks/bench_step.py --model mobilenet                 # one model, printed
    python benchmarks/bench_step.py --model vgg16 --json out.json     # ... and saved
    python benchmarks/bench_step.py --report                          # all models -> RESULTS.md
    python benchmarks/bench_step.py --render                          # RESULTS.md from saved JSON

`--report` runs each model in its own process, saves `benchmarks/results/<model>.json` and
writes RESULTS.md from those files (and from `benchmarks/results/before/`, the profile
measured by this script before the speed work, at the commit it names).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gin  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import featviz as fv  # noqa: E402
from featviz.models import LOGITS  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
# The report's models, at the sizes the targets are stated for.
MODELS = {"vgg16": 224, "mobilenet": 224, "demo": 64}
SEED_CONFIG = "vgg16_classes"  # the shipped config, by bare name
# The seed method renders at 244 px for VGG16's 224 px input.
SEED_OVERSIZE = 244 / 224
# Callbacks that only log; removed from the seed config's run (the between-step operations stay).
LOGGING = (fv.TensorBoard, fv.ImageSaver, fv.Animation, fv.ProgressBar, fv.HistorySaver)

Runner = Callable[[int], list[float]]  # run(k) -> k per-step durations in seconds


def load(name: str, size: int) -> fv.VisModel:
    """The model to measure, with random weights for keras.applications names."""
    if name == "demo" or name.endswith((".keras", ".h5")):
        return fv.load_model(name)
    return fv.load_model(name, weights=None, input_shape=(size, size, 3))


def calls(call: Callable[[], object]) -> Runner:
    """A runner timing `k` consecutive calls of `call` one by one."""

    def run(k: int) -> list[float]:
        durations = []
        for _ in range(k):
            start = time.perf_counter()
            call()
            durations.append(time.perf_counter() - start)
        return durations

    return run


def gradient_of(fn: Callable[[tf.Tensor], tf.Tensor], value: tf.Tensor,
                jit_compile: bool = False) -> Callable[[], float]:
    """A compiled forward + backward of `fn` at `value`; calling it returns a host float.

    The scalar objective is a fixed random weighting of `fn`'s output, so that every output
    element receives a gradient (as in a real step); only a scalar crosses to the host.
    """
    variable = tf.Variable(value)
    shape = fn(variable).shape
    weights = tf.random.stateless_normal(shape, seed=[1, 2])

    @tf.function(jit_compile=jit_compile)
    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            objective = tf.reduce_sum(fn(variable) * weights)
        return tf.reduce_sum(tape.gradient(objective, variable))

    return lambda: float(step())


def limit_step(model: fv.VisModel, batch: int, jit_compile: bool = False) -> Callable[[], float]:
    """The limit: the model's own call and the gradient of one output per image wrt the image."""
    size = model.input_size or (MODELS.get(model.name, 224),) * 2
    images = tf.random.stateless_uniform([batch, *size, model.input_channels], seed=[0, 0])
    targets = tf.one_hot(tf.range(batch) % model.num_classes, model.num_classes)
    variable = tf.Variable(images)

    @tf.function(jit_compile=jit_compile)
    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            outputs = model.model(model.preprocess(variable), training=False)
            objective = tf.reduce_sum(outputs * targets)
        return tf.reduce_sum(tape.gradient(objective, variable))

    return lambda: float(step())


class StepTimer(fv.Callback):
    """Records when each step begins: the differences are step + callbacks + loop, per step."""

    def on_run_begin(self, logs=None):
        self.starts = []

    def on_step_begin(self, step, logs=None):
        self.starts.append(time.perf_counter())


def visualizer_runner(visualizer: fv.Visualizer, redirect: bool) -> Runner:
    """Times `k` steps of `visualizer.run()`, from its second step on.

    Args:
        redirect: time steps with redirected ReLUs (`redirect_relu_steps` beyond the run) or
            after them (`redirect_relu_steps = 1`, so that only the untimed first step
            redirects). Either way the compiled step is the visualizer's own.
    """
    timer = StepTimer()
    visualizer.callbacks.callbacks.insert(0, timer)

    def run(k: int) -> list[float]:
        visualizer.steps = k + 2
        # 1 keeps the compiled step of a default (> 0) setting, and redirects only step 0.
        visualizer.redirect_relu_steps = k + 2 if redirect else min(1, visualizer.redirect_relu_steps)
        visualizer.run()
        return list(np.diff(timer.starts)[1:])

    return run


def objectives(model: fv.VisModel, batch: int) -> list[fv.Objective]:
    """One class logit per image."""
    return [fv.ClassLogit(i % model.num_classes) for i in range(batch)]


def default_visualizer(model: fv.VisModel, batch: int, logdir: str | None = None,
                       callbacks: tuple = (), **settings) -> fv.Visualizer:
    """`Visualizer(model, objective)` with nothing else set, unless `settings` says otherwise."""
    return fv.Visualizer(model, objectives(model, batch), callbacks=list(callbacks), logdir=logdir, **settings)


def default_logging() -> tuple:
    """TensorBoard and progress bar at their defaults, the bar writing to /dev/null."""
    return fv.TensorBoard(), fv.ProgressBar(stream=open(os.devnull, "w"))


def seed_visualizer(model: fv.VisModel, batch: int, size: int) -> fv.Visualizer:
    """The seed method's settings from its gin config, logging callbacks removed."""
    render = round(size * SEED_OVERSIZE)
    bindings = [f"CLASSES = {list(range(batch))}", f"SIZE = {render}", "load_model.weights = None"]
    gin.clear_config()
    fv.configs.parse([SEED_CONFIG], bindings)
    visualizer = fv.Visualizer(model=model)
    gin.clear_config()
    visualizer.callbacks.callbacks = [c for c in visualizer.callbacks.callbacks if not isinstance(c, LOGGING)]
    return visualizer


def xplique_runner(model: fv.VisModel, batch: int) -> Runner:
    """xplique's `optimize` with its defaults on the output layer's first `batch` units."""
    import keras
    from xplique.features_visualizations import Objective, optimize

    objective = Objective.neuron(model.model, model.model.layers[-1].name, list(range(batch)))
    times: list[float] = []

    class Clocked(keras.optimizers.Adam):
        """xplique's default optimizer (Adam 0.05), noting when each step's update happens."""

        def apply_gradients(self, *args, **kwargs):
            result = super().apply_gradients(*args, **kwargs)
            times.append(time.perf_counter())
            return result

    def run(k: int) -> list[float]:
        times.clear()
        # Each call traces its own step: the first two intervals are left out.
        optimize(objective, optimizer=Clocked(0.05), nb_steps=k + 3)
        return list(np.diff(times)[1:])

    return run


def tf_keras_vis_runner(model: fv.VisModel, batch: int, size: int) -> Runner:
    """tf-keras-vis' ActivationMaximization with its defaults, pre-softmax, one class per image."""
    from tf_keras_vis.activation_maximization import ActivationMaximization
    from tf_keras_vis.activation_maximization.callbacks import Callback
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    visualization = ActivationMaximization(model.model, model_modifier=ReplaceToLinear(), clone=True)
    score = CategoricalScore(list(range(batch)))
    times: list[float] = []

    class Clock(Callback):
        def __call__(self, i, values, grads, scores, model_outputs, **kwargs):
            times.append(time.perf_counter())

    def run(k: int) -> list[float]:
        times.clear()
        seed = np.random.default_rng(0).uniform(0, 255, (batch, size, size, model.input_channels))
        visualization(score, steps=k + 3, seed_input=seed, callbacks=[Clock()])
        return list(np.diff(times)[1:])

    return run


def alternate(runners: dict[str, Runner], rounds: int, steps: int) -> dict[str, list[float]]:
    """Per-step durations of every runner, `rounds` rounds of `steps` steps each in turn.

    Every runner is warmed up (traced) once first; alternating the rounds spreads the
    machine's other load over all rows alike.
    """
    for run in runners.values():
        run(2)
    durations: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            durations[name] += run(steps)
    return durations


def median_ms(durations: list[float]) -> float:
    """The median of durations in seconds, in milliseconds."""
    return 1000.0 * statistics.median(durations)


def step_table(model: fv.VisModel, size: int, args: argparse.Namespace, logdir: str) -> list[dict]:
    """The main table: the limit and every featviz and peer row, alternated, at `args.batch`."""
    batch = args.batch
    runners: dict[str, Runner] = {"limit": calls(limit_step(model, batch))}
    default = default_visualizer(model, batch)
    runners["default, redirected ReLUs"] = visualizer_runner(default, redirect=True)
    runners["default"] = visualizer_runner(default, redirect=False)
    logged = default_visualizer(model, batch, logdir=logdir, callbacks=default_logging())
    runners["default, default logging"] = visualizer_runner(logged, redirect=False)
    runners["limit, XLA"] = calls(limit_step(model, batch, jit_compile=True))
    runners["default, XLA"] = visualizer_runner(default_visualizer(model, batch, jit_compile=True),
                                                redirect=False)
    runners["seed method"] = visualizer_runner(seed_visualizer(model, batch, size), redirect=False)
    if args.peers:
        for name, make in (("xplique", lambda: xplique_runner(model, batch)),
                           ("tf-keras-vis", lambda: tf_keras_vis_runner(model, batch, size))):
            try:
                runners[name] = make()
            except ImportError as error:
                print(f"{name} not installed ({error}); pip install -e '.[bench]'", file=sys.stderr)
    durations = alternate(runners, args.rounds, args.steps)
    limit = statistics.median(durations["limit"])
    return [{"name": name, "ms": median_ms(times), "ratio": statistics.median(times) / limit,
             "steps": len(times)} for name, times in durations.items()]


def throughput_table(model: fv.VisModel, args: argparse.Namespace) -> list[dict]:
    """Images x steps per second of the limit and of featviz's default, per batch."""
    rows = []
    for batch in args.batches:
        steps = max(2, args.steps // batch)
        runners = {"limit": calls(limit_step(model, batch)),
                   "featviz": visualizer_runner(default_visualizer(model, batch), redirect=False)}
        durations = alternate(runners, args.rounds, steps)
        rows.append({"batch": batch, **{name: batch / statistics.median(times)
                                        for name, times in durations.items()}})
    return rows


def peak_memory(args: argparse.Namespace, mode: str, batch: int) -> float:
    """Peak RSS in MiB of a fresh process running `mode` ("limit" or "featviz") at `batch`."""
    command = [sys.executable, __file__, "--model", args.model, "--size", str(args.size),
               "--memory-probe", mode, "--batch", str(batch)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return float(output.strip().splitlines()[-1])


def memory_probe(args: argparse.Namespace) -> None:
    """Runs a few steps of `args.memory_probe` and prints this process's peak RSS in MiB."""
    model = load(args.model, args.size)
    if args.memory_probe == "limit":
        calls(limit_step(model, args.batch))(4)
    else:
        default_visualizer(model, args.batch, steps=4).run()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)  # kB on Linux


def profile_pieces(model: fv.VisModel, batch: int, logdir: str) -> dict[str, Callable[[], object]]:
    """Each part of the default step, compiled alone (forward + backward where it has one).

    The parts run on the shapes they see inside the default step at `batch`. The empty call
    is the floor every compiled call pays (dispatch, fetching a scalar); the logging rows are
    the default TensorBoard callback's work after a scalars-only step and after an image step.
    """
    visualizer = default_visualizer(model, batch, redirect_relu_steps=1, steps=1)
    visualizer.run()
    param = visualizer.param
    model_input = tf.random.stateless_uniform([batch, *model.input_size, model.input_channels],
                                              seed=[0, 0])
    extract = model.extractor([LOGITS])

    def redirected(active: bool) -> Callable[[tf.Tensor], tf.Tensor]:
        flag = tf.Variable(active)  # read when the gradient runs, as in the Visualizer's step
        return lambda images: extract(model.preprocess(images), flag)[LOGITS]

    floor = tf.Variable(0.0)
    empty = tf.function(floor.read_value)
    pieces: dict[str, Callable[[], object]] = {
        "empty compiled call": lambda: float(empty()),
        "the model's own call (the limit)": limit_step(model, batch),
        "graph runner, redirected ReLUs off":
            gradient_of(lambda x: extract(model.preprocess(x))[LOGITS], model_input),
        "graph runner, redirected ReLUs on, active": gradient_of(redirected(True), model_input),
        "graph runner, redirected ReLUs on, inactive": gradient_of(redirected(False), model_input),
    }
    raw = param.initial(batch, 0)
    pieces[f"parameterization: {type(param).__name__}"] = gradient_of(param.to_images, raw)
    images = param.to_images(raw)
    seed = tf.constant([3, 4], tf.int64)
    progress = tf.constant(0.25)  # for members scheduled on the run's progress (CentreWindow)
    for transform in fv.recipes.default_transforms(param.shape):
        pieces[f"transform: {transform!r}"] = gradient_of(
            lambda x, t=transform: fv.transforms.apply(t, x, seed, progress), images)
        images = fv.transforms.apply(transform, images, seed, progress)
    pieces["resize to the model's input"] = gradient_of(fv.Resize(model.input_size), images)
    pieces["transforms and resize, as the step composes them"] = gradient_of(
        lambda x: visualizer.transform(x, seed, progress), param.to_images(raw))
    optimizer, variable = visualizer._compiled.optimizer, visualizer.variable
    gradient = tf.random.stateless_normal(variable.shape, seed=[5, 6])
    pieces["optimizer update (Adam)"] = tf.function(lambda: optimizer.apply([gradient], [variable]))
    compiled = visualizer._compiled.step
    pieces["the Visualizer's compiled step, whole"] = lambda: float(compiled()["loss"])
    outputs = compiled()
    logs = {"loss": float(outputs["loss"]), "losses": outputs["losses"].numpy(),
            "objectives": {"ClassLogit": outputs["values"].numpy()[0]}, "images": outputs["images"]}
    tensorboard = fv.TensorBoard(logdir)
    tensorboard.set_visualizer(visualizer)
    tensorboard.on_run_begin({"names": visualizer.names})
    tensorboard.on_step_end(0, logs)  # the one-off operative config
    pieces["logging: TensorBoard after a scalars step"] = lambda: tensorboard.on_step_end(1, logs)
    pieces["logging: TensorBoard after an image step"] = lambda: tensorboard.on_step_end(9, logs)
    return pieces


def profile_table(model: fv.VisModel, args: argparse.Namespace, logdir: str) -> list[dict]:
    """Median time of each profile piece, the pieces called in turn, one call each."""
    runners = {name: calls(piece) for name, piece in profile_pieces(model, args.batch, logdir).items()}
    durations = alternate(runners, args.rounds * args.steps, 1)
    return [{"name": name, "ms": median_ms(times)} for name, times in durations.items()]


def git_commit() -> str:
    """The checkout's commit, marked "+changes" when the work tree differs from it."""
    def git(*command: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *command], capture_output=True,
                              text=True).stdout.strip()
    return git("rev-parse", "--short", "HEAD") + ("+changes" if git("status", "--porcelain") else "")


def measure(args: argparse.Namespace) -> dict:
    """Every table for one model, from this one process."""
    model = load(args.model, args.size)
    result = {"model": args.model, "size": args.size, "batch": args.batch, "commit": git_commit(),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "tensorflow": tf.__version__, "rounds": args.rounds, "steps": args.steps,
              "date": time.strftime("%Y-%m-%d %H:%M"), "load": {"start": os.getloadavg()[0]}}
    sections = (("steps_table", lambda: step_table(model, args.size, args, logdir)),
                ("throughput", lambda: throughput_table(model, args)),
                ("profile", lambda: profile_table(model, args, logdir)))
    with tempfile.TemporaryDirectory() as logdir:
        for key, table in sections:
            if key in args.skip:
                continue
            start = os.getloadavg()[0]
            result[key] = table()
            result["load"][key] = [start, os.getloadavg()[0]]
    if "memory" not in args.skip:
        batch = max(args.batches)
        result["rss"] = {"batch": batch, "limit": peak_memory(args, "limit", batch),
                         "featviz": peak_memory(args, "featviz", batch)}
    return result


def load_note(load: list[float]) -> str:
    """The 1-minute load average at the start and end of a table's measurement."""
    return f"load average {load[0]:.1f} → {load[1]:.1f}"


def render_model(result: dict, before: dict | None) -> str:
    """One model's section of RESULTS.md."""
    lines = [f"## {result['model']} at {result['size']} px, batch {result['batch']}", "",
             f"Commit {result['commit']}, {result['date']}, {result['machine']}, TensorFlow "
             f"{result['tensorflow']}; {result['rounds']} alternated rounds of {result['steps']} "
             f"steps per row.", ""]
    if "steps_table" in result:
        old = {row["name"]: row["ratio"] for row in (before or {}).get("steps_table", [])}
        note = f"; before: {load_note(before['load']['steps_table'])}" if old else ""
        lines += [f"Step time ({load_note(result['load']['steps_table'])}{note}):", "",
                  "| step | median ms | ratio to limit |"
                  + (f" ratio before ({before['commit']}) |" if old else ""),
                  "|---|---|---|" + ("---|" if old else "")]
        for row in result["steps_table"]:
            cells = [f"{row['ms']:.1f}", f"{row['ratio']:.3f}"]
            if old:
                cells.append(f"{old[row['name']]:.3f}" if row["name"] in old else "—")
            lines.append(f"| {row['name']} | {' | '.join(cells)} |")
        lines.append("")
    if "throughput" in result:
        base = result["throughput"][0]
        lines += [f"Throughput, images·steps/s ({load_note(result['load']['throughput'])}):", "",
                  "| batch | limit | featviz default | limit vs batch 1 | featviz vs batch 1 |",
                  "|---|---|---|---|---|"]
        lines += [f"| {row['batch']} | {row['limit']:.2f} | {row['featviz']:.2f} | "
                  f"{row['limit'] / base['limit']:.2f}× | {row['featviz'] / base['featviz']:.2f}× |"
                  for row in result["throughput"]]
        lines.append("")
    if "rss" in result:
        rss = result["rss"]
        lines += [f"Peak RSS at batch {rss['batch']} (fresh processes): limit {rss['limit']:.0f} MiB, "
                  f"featviz default {rss['featviz']:.0f} MiB, ratio {rss['featviz'] / rss['limit']:.3f}.", ""]
    if "profile" in result:
        old = {row["name"]: row["ms"] for row in (before or {}).get("profile", [])}
        header = f"| part | before, ms ({before['commit']}) | now, ms |" if before else "| part | ms |"
        lines += [f"Profile, each part compiled alone, forward + backward "
                  f"({load_note(result['load']['profile'])}"
                  + (f"; before: {load_note(before['load']['profile'])}" if before else "") + "):",
                  "", header, "|---|---|---|" if before else "|---|---|"]
        names = list(dict.fromkeys([*old, *(row["name"] for row in result["profile"])]))
        now = {row["name"]: row["ms"] for row in result["profile"]}
        for name in names:
            cells = [f"{old[name]:.2f}" if name in old else "—"] if before else []
            cells.append(f"{now[name]:.2f}" if name in now else "—")
            lines.append(f"| {name} | {' | '.join(cells)} |")
        lines.append("")
    return "\n".join(lines)


# Issue 17's targets: the default step (after the redirected steps, callbacks off) over the limit.
STEP_TARGETS = {"vgg16": 1.05, "mobilenet": 1.3, "demo": 1.5}
LOGGING_TARGET = 0.03  # extra time of the default logging over callbacks off (VGG16, MobileNet)
BATCH_TARGET = ("mobilenet", 16, 1.6)  # featviz batch 16 over batch 1, images·steps/s


def targets(results: dict[str, dict]) -> list[str]:
    """The targets table: each target, what was measured, met or not."""
    def ratio(result: dict, name: str) -> float | None:
        rows = {row["name"]: row["ratio"] for row in result.get("steps_table", [])}
        return rows.get(name)

    lines = ["| target | measured | met |", "|---|---|---|"]
    for model, bound in STEP_TARGETS.items():
        value = ratio(results.get(model, {}), "default")
        if value is not None:
            lines.append(f"| {model}: default step / limit ≤ {bound} | {value:.3f} | "
                         f"{'yes' if value <= bound else 'no'} |")
    for model in ("vgg16", "mobilenet"):
        off, logged = (ratio(results.get(model, {}), name) for name in ("default", "default, default logging"))
        if off is not None and logged is not None:
            extra = logged / off - 1
            lines.append(f"| {model}: default logging adds ≤ {LOGGING_TARGET:.0%} | {extra:+.1%} | "
                         f"{'yes' if extra <= LOGGING_TARGET else 'no'} |")
    model, batch, bound = BATCH_TARGET
    rows = {row["batch"]: row for row in results.get(model, {}).get("throughput", [])}
    if 1 in rows and batch in rows:
        gain = rows[batch]["featviz"] / rows[1]["featviz"]
        lines.append(f"| {model}: batch {batch} ≥ {bound}× batch 1 (limit: "
                     f"{rows[batch]['limit'] / rows[1]['limit']:.2f}×) | {gain:.2f}× | "
                     f"{'yes' if gain >= bound else 'no'} |")
    for model, result in results.items():
        off, xla = ratio(result, "default"), ratio(result, "default, XLA")
        if off is not None and xla is not None:
            lines.append(f"| {model}: XLA (jit_compile) faster than the default | {xla / off:.3f}× "
                         f"the default's time | {'yes' if xla < off else 'no: stays off'} |")
    for model, result in results.items():
        parts = {row["name"]: row["ms"] for row in result.get("profile", [])}
        own, runner = parts.get("the model's own call (the limit)"), parts.get("graph runner, redirected ReLUs off")
        if own and runner:
            lines.append(f"| {model}: graph runner costs nothing measurable against the model's own "
                         f"call | {runner / own:.3f}× | see the profile |")
    return lines


# Issue 18's paper estimate: VGG16's convolutional channels (13 layers: 2x64, 2x128, 3x256,
# 6x512 = 4,224), each rendered for 256 steps.
VGG16_CHANNELS, SWEEP_STEPS, MACHINES = 4224, 256, 8
# A published GPU figure, since this machine has no GPU: VGG16 forward + backward (training) in
# fp32 at batch 16, 224 px, 105.4 ms per batch on an AMD RX 6800 XT (PyTorch, ROCm 5.4.3; the
# deep-learning-benchmark script of github.com/u39kun/deep-learning-benchmark, as posted in
# gist.github.com/PIPIPIG233666/f5d93264dc3903ebece9ce05f3d0e9f0): 152 images/s. A featviz
# step is a forward pass and an input gradient without the weight gradients, so a training
# step bounds its cost from above.
GPU_VGG16_TRAINING_IMAGES_PER_S = 16 / 0.1054


def render_sweeps(records: list[dict], vgg16: dict | None) -> list[str]:
    """The sweep section: channels per minute by backend and block size, and the VGG16 estimate."""
    lines = ["## Sweeps (issue 18)", "",
             "`python benchmarks/sweep_throughput.py demo-local demo-ray blocks mobilenet-local "
             "mobilenet-ray --demo_steps 64`: the `sweep` job in-process into a fresh directory, "
             "timed whole (model loading, tracing every block, rendering; for Ray the actors' start "
             "too, not `ray.init`); Ray with `ray.init(num_cpus=2)` and two 1-CPU workers.", "",
             "| run | backend | channels | steps | seconds | channels/min | load |",
             "|---|---|---|---|---|---|---|"]
    for record in records:
        steps = next((b.split("=")[1] for b in record["params"] if b.startswith("Visualizer.steps")), "")
        block = next((b.split("=")[1] for b in record["params"] if b.startswith("sweep.block_size")), "")
        name = record["name"] + (f" (block {block})" if block and not record["name"].startswith("block") else "")
        lines.append(f"| {name} | {record['backend']} | {record['channels']} | {steps} | "
                     f"{record['seconds']:.1f} | {record['channels_per_minute']:.1f} | {record['load']:.1f} |")
    by_name = {record["name"]: record for record in records}
    lines.append("")
    for model in ("demo", "mobilenet"):
        local, ray = by_name.get(f"{model}-local"), by_name.get(f"{model}-ray")
        if local and ray:
            lines.append(f"- {model}: Ray takes {ray['seconds'] / local['seconds']:.2f}× the local "
                         f"executor's time (target: under 1.10×).")
    blocks = sorted((r for r in records if r["name"].startswith("block-")), key=lambda r: int(r["name"][6:]))
    if blocks:
        one = blocks[0]["channels_per_minute"]
        lines.append("- block size: " + ", ".join(
            f"{r['name'][6:]} → {r['channels_per_minute'] / one:.2f}×" for r in blocks)
            + " the channels per minute of block 1.")
    if vgg16 and "steps_table" in vgg16:
        # Batch 1's default step: on this CPU larger batches do not raise VGG16's throughput.
        rows = {row["name"]: row for row in vgg16["steps_table"]}
        ms, overhead = rows["default"]["ms"], rows["default"]["ratio"] - 1
        hours = VGG16_CHANNELS * SWEEP_STEPS * ms / 1000 / 3600
        local, remote = by_name.get("demo-local"), by_name.get("demo-ray")
        ray = remote["seconds"] / local["seconds"] if local and remote else 1.0
        gpu = VGG16_CHANNELS * SWEEP_STEPS / GPU_VGG16_TRAINING_IMAGES_PER_S / 3600
        lines += ["", f"**VGG16, all {VGG16_CHANNELS:,} conv channels at {SWEEP_STEPS} steps** (paper "
                  f"estimate): from VGG16's default step above ({ms:.0f} ms per image and step, "
                  f"measured at {load_note(vgg16['load']['steps_table'])}), "
                  f"one 2-core machine needs {hours:.0f} h ({hours / 24:.1f} days); {MACHINES} such "
                  f"machines on Ray, at the demo's measured Ray/local ratio {ray:.2f}, "
                  f"{hours / MACHINES * max(ray, 1.0):.1f} h; one GPU at most {gpu:.1f} h (VGG16 "
                  f"training at {GPU_VGG16_TRAINING_IMAGES_PER_S:.0f} images/s on an AMD RX 6800 XT, "
                  f"a published figure, see `GPU_VGG16_TRAINING_IMAGES_PER_S`; a featviz step costs "
                  f"less than a training step, and featviz's default step adds {overhead:.0%} to "
                  f"the model's own on VGG16)."]
    return lines + [""]


def render_report() -> str:
    """RESULTS.md from the saved per-model results (and the sweep measurements, if saved)."""
    sections, results = [], {}
    for name in MODELS:
        path = RESULTS / f"{name}.json"
        before_path = RESULTS / "before" / f"{name}.json"
        if not path.exists():
            continue
        before = json.loads(before_path.read_text()) if before_path.exists() else None
        results[name] = json.loads(path.read_text())
        sections.append(render_model(results[name], before))
    sweep_path = RESULTS / "sweep_throughput.jsonl"
    sweeps = render_sweeps([json.loads(line) for line in sweep_path.read_text().splitlines() if line.strip()],
                           results.get("vgg16")) if sweep_path.exists() else []
    intro = __doc__.split("\n\n", 1)[1].split("Models get random weights")[0].strip()
    return ("# Step-time benchmark results\n\nGenerated by `python benchmarks/bench_step.py "
            "--report` (or `--render` from `benchmarks/results/`); do not edit by hand.\n\n"
            + intro + "\n\n## Targets (issue 17)\n\n" + "\n".join(targets(results)) + "\n\n"
            + "\n".join(sections) + "\n" + "\n".join(sweeps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--size", type=int, default=None, help="image size (default: the model's input)")
    parser.add_argument("--batch", type=int, default=1, help="batch of the step table and profile")
    parser.add_argument("--batches", default="1,4,16", help="batches of the throughput table")
    parser.add_argument("--rounds", type=int, default=8, help="alternated rounds per table")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per row and round")
    parser.add_argument("--peers", action=argparse.BooleanOptionalAction, default=True,
                        help="time tf-keras-vis and xplique where installed")
    parser.add_argument("--skip", default="", help="comma-separated: steps_table, throughput, profile, memory")
    parser.add_argument("--json", help="also save the results to this file")
    parser.add_argument("--report", action="store_true", help="measure every model, write RESULTS.md")
    parser.add_argument("--render", action="store_true", help="write RESULTS.md from saved results")
    parser.add_argument("--memory-probe", choices=("limit", "featviz"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.batches = [int(b) for b in args.batches.split(",")]
    args.skip = set(filter(None, args.skip.split(",")))
    if args.size is None:
        args.size = MODELS.get(args.model, 224)
    if args.memory_probe:
        memory_probe(args)
        return
    if args.report:
        RESULTS.mkdir(exist_ok=True)
        for name, size in MODELS.items():
            command = [sys.executable, __file__, "--model", name, "--size", str(size),
                       "--json", str(RESULTS / f"{name}.json"), "--rounds", str(args.rounds),
                       "--steps", str(args.steps), "--batches", ",".join(map(str, args.batches)),
                       "--skip", ",".join(args.skip), "--peers" if args.peers else "--no-peers"]
            subprocess.run(command, check=True)
    if args.report or args.render:
        (HERE / "RESULTS.md").write_text(render_report())
        return
    result = measure(args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    print(render_model(result, None))


if __name__ == "__main__":
    main()
