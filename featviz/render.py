"""The optimization loop: `Visualizer` wires objective, parameterization, transforms and model.

Each step runs as one compiled `tf.function`:
parameterize -> transform -> resize to the model's input -> preprocess -> extract features ->
objective -> gradient -> gradient transforms -> optimizer update. The resize is the last member
of the composed transforms, so that it folds into the recipe's affine resample (one bilinear
resample instead of two, `featviz.transforms.compose`); `jit_compile` compiles the model's part
with XLA. The step takes no Python
arguments (step counter and seed are variables), so it is traced once per Visualizer: calling
`run()` again (a notebook, a sweep over seeds) resets the image variable, the counter and the
optimizer's state with `assign` and reuses the compiled step. Around it, Keras-style callbacks
see every step's losses (and its images at the steps a callback `wants` them) and may end the
run (`Visualizer.stop_training = True`);
between-step operations (`featviz.operations`: scheduled blur and zoom, re-standardisation) are
compiled once per image variable and applied after the steps they are due. A `StopToken`
passed in (the CLI's signal handler sets one) stops the run at the end of the current step.
The module is ~530 lines on purpose: it is the `Visualizer` (configuration, the compiled step,
the run) and the small values it returns, which would otherwise be spread over modules that
only it uses.

The image, the objective and the loss are float32 whatever the model's dtype policy
(mixed_float16 models compute in float16 inside; their activations are cast back). For the
first `redirect_relu_steps` steps, the model's ReLUs have redirected gradients
(`featviz.models.gradients`, applied by the graph runner to this model only), so that units a
random start leaves dead still receive a gradient.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import threading
from collections.abc import Callable, Sequence

import gin
import keras
import numpy as np
import tensorflow as tf

from featviz import io as image_io
from featviz import recipes
from featviz.callbacks import Callback, CallbackList
from featviz.models import VisModel, load_model
from featviz.objectives import Features, Objective, image_names, stack
from featviz.operations import BetweenSteps
from featviz.params import Parameterization
from featviz.transforms import Resize, Transform, compose

GradientTransform = Callable[[tf.Tensor], tf.Tensor]

# Default of `Visualizer.redirect_relu_steps`. Measured by experiments/dead_starts.py on the
# reference ImageNet MobileNet (32 channels of 4 layers, 48 steps): flat grey renders 7/32
# without redirection and 1/32 with 16 redirected steps (default recipe), 6/32 and 1/32 with
# Lucid's transforms; redirecting all 48 steps gave the same counts.
REDIRECT_RELU_STEPS = 16
# Default of `Visualizer.jit_compile`. Measured by benchmarks/bench_step.py (RESULTS.md, "XLA"):
# on MobileNet 224 (2-core CPU) the default step took 67x longer with XLA, and the limit itself
# 39x: XLA's CPU depthwise convolutions are far slower than TensorFlow's oneDNN kernels.
JIT_COMPILE = False


class StopToken:
    """A request to stop, shared by whoever asks (a signal handler) and the runs that obey.

    `Visualizer(stop=token)` ends its run at the end of the current step once `request()` was
    called, and jobs that render several batches skip the rest. Each CLI run makes its own
    token, so a stop in one run (or one thread, notebook cell or Ray actor) never reaches
    another. Safe to call from a signal handler.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def request(self) -> None:
        """Asks the runs holding this token to stop after their current step."""
        self._event.set()

    def __bool__(self) -> bool:
        """Whether a stop was requested."""
        return self._event.is_set()


class NonFiniteError(FloatingPointError):
    """The loss or gradient became NaN or infinite; the last finite images were kept."""


@dataclasses.dataclass(frozen=True)
class Render:
    """What `Visualizer.run` returns.

    Attributes:
        images: final images, float32 [batch, height, width, channels] in [0, 1].
        names: one readable name per image (the objective that targets it).
        history: per-step values: "loss" [steps] (total), "losses" [steps, batch] (per image),
            and one [steps, batch] array per objective term and metric, keyed by its name.
        steps: the number of steps run (fewer than asked for when the run was stopped).
    """

    images: np.ndarray
    names: list[str]
    history: dict[str, np.ndarray]
    steps: int

    def _repr_png_(self) -> bytes:
        """The images as one grid labelled with their names: a `Render` shown by Jupyter/IPython."""
        # Small renders (the demo model's 64 px) are enlarged so that tiles and labels are legible.
        scale = max(1, -(-128 // self.images.shape[1]))
        buffer = io.BytesIO()
        image_io.to_pil(image_io.grid(self.images, self.names, scale=scale)).save(buffer, format="PNG")
        return buffer.getvalue()

    def _repr_html_(self) -> str:
        """The labelled grid with a caption of the run (images, steps, final loss), for notebooks."""
        png = base64.b64encode(self._repr_png_()).decode("ascii")
        caption = f"{len(self.names)} image(s), {self.steps} step(s)"
        if len(self.history.get("loss", ())):
            caption += f", final loss {float(self.history['loss'][-1]):.4g}"
        return (f'<figure style="margin: 0"><img src="data:image/png;base64,{png}"/>'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>")


@dataclasses.dataclass(frozen=True, eq=False)
class _Compiled:
    """A Visualizer's compiled step and the state it updates, kept across `run()` calls.

    Attributes:
        recipe: `Visualizer._recipe()` when it was built.
        step: the compiled step.
        redirected_step: the same step with redirected ReLU gradients, run for the first
            `redirect_relu_steps` steps; None when those are 0. Two compiled functions rather
            than a switch inside one: a `tf.cond` per ReLU costs every later step ~4 ms on a
            MobileNet-0.25 (bench_step.py's profile), and each is traced only when first run.
        variable: the raw image variable.
        counter, seed, total: int64 scalar variables read by the step
            (`total`: the run's number of steps, for transforms scheduled on its progress).
        optimizer: the built optimizer; optimizer_start: its variables' values when built.
        between_steps: (operation, its compiled update of `variable`) pairs.
    """

    recipe: tuple
    step: Callable[[], dict[str, tf.Tensor]]
    redirected_step: Callable[[], dict[str, tf.Tensor]] | None
    variable: tf.Variable
    counter: tf.Variable
    seed: tf.Variable
    total: tf.Variable
    optimizer: keras.optimizers.Optimizer
    optimizer_start: list[np.ndarray]
    between_steps: tuple[tuple[BetweenSteps, Callable[[], None]], ...]


def _unique(names: list[str]) -> list[str]:
    """Names made unique by numbering repeats ("x", "x #2"), so no history entry is merged."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return unique


def _between_steps(operations: Sequence[BetweenSteps]) -> tuple[BetweenSteps, ...]:
    operations = tuple(operations)
    for i, operation in enumerate(operations):
        if not isinstance(operation, BetweenSteps):
            raise TypeError(
                f"between_steps[{i}] is {operation!r}, not a between-step operation such as "
                f"ScheduledTransform(...) or Restandardize() (in gin, write @Name() with "
                f"parentheses)"
            )
    return operations


def _compiled_update(operation: BetweenSteps, param: Parameterization,
                     variable: tf.Variable) -> Callable[[], None]:
    """`variable <- operation.apply(param, variable)`, compiled once and reused across runs."""

    @tf.function
    def update() -> None:
        variable.assign(operation.apply(param, variable))

    return update


def _view_mean(views: Sequence[Features], objectives: Sequence[Objective]) -> tf.Tensor:
    """[objectives, batch]: each objective's values, averaged over the views."""
    return tf.reduce_mean(tf.stack([tf.stack([objective(features) for objective in objectives])
                                    for features in views]), axis=0)


def _positive(name: str, value: float, kind: type = float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or (
        kind is int and not isinstance(value, int)
    ):
        raise ValueError(f"{name} must be a positive {kind.__name__}, got {value!r}")


@gin.configurable(module="featviz")
class Visualizer:
    """Optimizes a batch of images to maximise an objective of a model's activations.

    Args:
        model: a `VisModel`, a `keras.Model`, or anything `load_model` accepts ("demo",
            "vgg16", a file path).
        objective: one `Objective`, or a list of them (one image each, as with `stack`).
        param: the parameterization; default the recipe's (`featviz.recipes.default_param`:
            decorrelated `Fourier`) at the model's input size (224 for models with free
            spatial size) with the objective's batch size. Its `channels` default (None)
            follows the model (1 for grayscale models). Renders of another size than a
            fixed-size model's input are resized inside the step; for models with free spatial
            size the parameterization's size decides, and a size too small for the model's
            windows is refused here (`VisModel.check_input_size`).
        input_size: the size the model sees, an int or (height, width): the transformed
            images are resized to it last. None: a fixed-size model's input size, and for a
            model with free spatial size the render's own. Set it to render a canvas larger
            than a free-size network's input: `input_size=224` with a 448-pixel
            parameterization shows the network the whole canvas at half size, as fixed-size
            networks see it (on EfficientNet-Lite1 this drew smaller, more whole objects;
            experiments/README_quality.md).
        transforms: transforms applied inside every step, in order; None: the recipe's
            (`featviz.recipes.default_transforms` for the parameterization's size); [] none.
        views: how many differently transformed copies of each image the model sees in one
            step; every objective term and metric is their mean (MACO's many crops per step,
            Fel et al. 2023). The copies go through the model as one batch of
            `views` x `batch` images, so a step costs up to `views` times as much (four views
            measured 2.2-3.3x on EfficientNet-Lite1, experiments/README_quality.md); random
            transforms draw per image, so each copy gets its own zoom, rotation and blur
            (`Jitter`'s offset is drawn once per step and shared).
        steps: number of optimization steps.
        learning_rate: the optimizer's learning rate (when `optimizer` is a name); the
            default is the recipe's.
        optimizer: a Keras optimizer name ("adam", "sgd", ...) or an optimizer instance.
        gradient_transforms: functions applied to the gradient before the update, in order
            (e.g. `NormalizeGradient()`).
        between_steps: operations applied to the images after the steps they are due
            (`featviz.operations`: `ScheduledTransform` for blur or zoom every N steps,
            `Restandardize`), in order.
        callbacks: `Callback` objects (TensorBoard, ImageSaver, ProgressBar, ...); they observe
            the run.
        metrics: objectives evaluated and logged every step but not optimized (e.g. the
            class probability while the logit is maximised).
        seed: seeds the initial images and every random transform.
        logdir: the run's output directory; callbacks without their own directory write here.
        redirect_relu_steps: for this many first steps, ReLUs pass the gradient that would
            raise their negative inputs where nothing else passes
            (`featviz.models.gradients`); 0 turns it off.
        stop: a `StopToken`; once requested, the run ends after its current step.
        jit_compile: compile the model's part of the step (preprocessing, the activations and
            their gradient) with XLA. The parameterization and the transforms stay on
            TensorFlow's kernels (XLA has none for the bilinear resample). XLA reorders float
            operations, so images differ from the default's in the last bits.

    `seed`, `steps`, `redirect_relu_steps`, `callbacks`, `stop` and `logdir` may be changed
    between `run()` calls; changing the objective, parameterization, transforms, optimizer,
    between-step operations or model rebuilds the compiled step at the next run.
    """

    def __init__(
        self,
        model: VisModel | keras.Model | str = gin.REQUIRED,
        objective: Objective | Sequence[Objective] = gin.REQUIRED,
        param: Parameterization | None = None,
        input_size: int | tuple[int, int] | None = None,
        transforms: Sequence[Transform] | None = None,
        views: int = 1,
        steps: int = 256,
        learning_rate: float = recipes.LEARNING_RATE,
        optimizer: str | keras.optimizers.Optimizer = "adam",
        gradient_transforms: Sequence[GradientTransform] = (),
        between_steps: Sequence[BetweenSteps] = (),
        callbacks: Sequence[Callback] = (),
        metrics: Sequence[Objective] = (),
        seed: int = 0,
        logdir: str | None = None,
        redirect_relu_steps: int = REDIRECT_RELU_STEPS,
        stop: StopToken | None = None,
        jit_compile: bool = JIT_COMPILE,
    ) -> None:
        _positive("learning_rate", learning_rate)
        self.model = load_model(model)
        if isinstance(objective, (list, tuple)):
            objective = stack(objective)
        if not isinstance(objective, Objective):
            raise TypeError(f"objective must be an Objective or a list of them, got {objective!r}")
        self.objective = objective
        self.metrics = tuple(metrics)
        self.param = param if param is not None else recipes.default_param(
            size=self.model.input_size or 224, channels=self.model.input_channels)
        members = recipes.default_transforms(self.param.shape) if transforms is None else list(transforms)
        self.input_size = self._seen_size(input_size)
        if self.input_size is not None:
            # The resize to the model's input, as the last member: it folds into a preceding
            # resample, and is no op at all for renders already at the input size.
            members = [*members, Resize(self.input_size)]
        self.transform = compose(members)
        _positive("views", views, int)
        self.views = views
        self.steps = steps
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.gradient_transforms = tuple(gradient_transforms)
        self.between_steps = _between_steps(between_steps)
        self.callbacks = CallbackList(callbacks)
        self.seed = seed
        self.logdir = logdir
        self.redirect_relu_steps = redirect_relu_steps
        self.stop = stop
        if not isinstance(jit_compile, bool):
            raise ValueError(f"jit_compile must be True or False, got {jit_compile!r}")
        self.jit_compile = jit_compile
        self.stop_training = False
        self.variable: tf.Variable | None = None
        self._compiled: _Compiled | None = None
        self._configure()

    def _seen_size(self, input_size: int | tuple[int, int] | None) -> tuple[int, int] | None:
        """`input_size` checked against the model, as (height, width); None: the render's."""
        fixed = tuple(self.model.input_shape[1:3])
        if input_size is None:
            return None if fixed == (None, None) else fixed
        size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                     for v in size):
            raise ValueError(f"input_size must be None, a positive int or (height, width), "
                             f"got {input_size!r}")
        if fixed != (None, None) and size != fixed:
            valid = fixed[0] if fixed[0] == fixed[1] else fixed
            raise ValueError(f"model {self.model.name!r} takes {fixed[0]}x{fixed[1]} input; "
                             f"input_size must be None or {valid}, got {input_size!r}")
        return size

    def _check_run_settings(self) -> None:
        """Validates the settings that may change between runs."""
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        steps = self.redirect_relu_steps
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
            raise ValueError(f"redirect_relu_steps must be a non-negative int (0: off), got {steps!r}")
        _positive("steps", self.steps, int)

    def _configure(self) -> None:
        """Validates the configuration and derives the batch size and image names from it."""
        self._check_run_settings()
        if self.param.channels is None:
            self.param = dataclasses.replace(self.param, channels=self.model.input_channels)
        self.batch = self.param.batch or self.objective.batch_size
        self._check_shapes()
        self.names = image_names(self.objective, self.batch)

    def _keys(self) -> list[str]:
        """The layer keys every objective term and metric reads."""
        leaves = [leaf for _, leaf in self.objective.terms()]
        return [key for obj in (*leaves, *self.metrics) for key in obj.layers]

    def _check_shapes(self) -> None:
        if self.objective.batch_size > self.batch:
            raise ValueError(
                f"the objective targets image {self.objective.batch_size - 1} but the "
                f"parameterization has batch={self.batch}; use batch={self.objective.batch_size} "
                f"or None"
            )
        if self.param.channels != self.model.input_channels:
            raise ValueError(
                f"the parameterization makes {self.param.channels}-channel images but model "
                f"{self.model.name!r} takes {self.model.input_channels}-channel input; set "
                f"channels={self.model.input_channels} on the parameterization"
            )
        for obj in (self.objective, *self.metrics):
            obj.check(self.model)
        height, width = self.model.input_shape[1:3]
        if height is None or width is None:
            # The model sees the render's own size (or input_size) on its free dimensions.
            seen = self.input_size or self.param.shape
            self.model.check_input_size(self._keys(), (height or seen[0], width or seen[1]))

    def images(self) -> tf.Tensor:
        """The current images, [batch, height, width, channels] in [0, 1]."""
        return self.param.to_images(self.variable)

    def _make_optimizer(self) -> keras.optimizers.Optimizer:
        if isinstance(self.optimizer, keras.optimizers.Optimizer):
            return self.optimizer
        try:
            return keras.optimizers.get({"class_name": self.optimizer,
                                         "config": {"learning_rate": self.learning_rate}})
        except ValueError:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; use a Keras optimizer name such as "
                f"'adam', 'sgd', 'rmsprop' or 'adamw', or an optimizer instance"
            ) from None

    def _recipe(self) -> tuple:
        """What the compiled step is built from; it is rebuilt when any of these changes."""
        return (self.model, self.objective, self.metrics, self.param, self.transform, self.views,
                self.gradient_transforms, self.between_steps, self.optimizer, self.learning_rate,
                self.redirect_relu_steps > 0, self.jit_compile)

    def _prepare(self) -> Callable[[], dict[str, tf.Tensor]]:
        """The compiled step, built once and reused while the recipe stays the same.

        Every run starts from the same state: images re-initialised from `seed`, step counter
        at 0, optimizer variables (moments, iteration count) back to their built values.
        """
        recipe = self._recipe()
        compiled = self._compiled
        if compiled is None or len(recipe) != len(compiled.recipe) or not all(
            new is old or (type(new) in (int, float, str, bool) and new == old)
            for new, old in zip(recipe, compiled.recipe)
        ):
            self._configure()
            compiled = self._compiled = self._build()
        self._check_run_settings()
        self.variable = compiled.variable
        self.variable.assign(self.param.initial(self.batch, self.seed))
        compiled.counter.assign(0)
        compiled.seed.assign(self.seed)
        compiled.total.assign(self.steps)
        for variable, value in zip(compiled.optimizer.variables, compiled.optimizer_start):
            variable.assign(value)
        return compiled.step

    def _build(self) -> _Compiled:
        terms = self.objective.terms()
        leaves = [leaf for _, leaf in terms]
        weights = tf.constant([weight for weight, _ in terms], tf.float32)
        extract = self.model.extractor(self._keys())
        optimizer = self._make_optimizer()
        variable = tf.Variable(self.param.initial(self.batch, self.seed), name="images")
        counter = tf.Variable(0, dtype=tf.int64, name="step")
        seed = tf.Variable(self.seed, dtype=tf.int64, name="seed")
        total = tf.Variable(self.steps, dtype=tf.int64, name="total")
        # Slot variables must exist before tracing: none may be created inside tf.cond.
        optimizer.build([variable])
        optimizer_start = [v.numpy() for v in optimizer.variables]

        def activations(inputs: tf.Tensor, relus: bool | None) -> dict[str, tf.Tensor]:
            return extract(self.model.preprocess(inputs), relus)

        if self.jit_compile:
            activations = tf.function(activations, jit_compile=True)

        def body(relus: bool | None) -> dict[str, tf.Tensor]:
            """One step; `relus`: True redirects the ReLUs' gradients, None leaves them."""
            step_seed = tf.stack([seed, counter])
            # In [0, 1): how far the run is, for transforms that change over it (MACO's crops).
            progress = tf.cast(counter, tf.float32) / tf.cast(total, tf.float32)
            with tf.GradientTape() as tape:
                images = self.param.to_images(variable)
                copies = tf.tile(images, [self.views, 1, 1, 1]) if self.views > 1 else images
                inputs = self.transform(copies, step_seed, progress)  # at the model's input size
                views = self._views(activations(inputs, relus), images)
                values = _view_mean(views, leaves)  # [terms, batch]
                per_image = tf.tensordot(weights, values, axes=1)  # [batch]
                loss = -tf.reduce_sum(per_image)
            # The image gradient comes from the same backward pass (MACO's attribution map).
            gradient, image_gradient = tape.gradient(loss, [variable, images])
            for transform in self.gradient_transforms:
                gradient = transform(gradient)
            finite = tf.logical_and(tf.math.is_finite(loss), tf.reduce_all(tf.math.is_finite(gradient)))

            def apply() -> tf.Tensor:
                optimizer.apply([gradient], [variable])
                return tf.constant(True)

            # A non-finite step is not applied, so the images stay the last finite ones.
            tf.cond(finite, apply, lambda: tf.constant(False))
            counter.assign_add(1)
            outputs = {"loss": loss, "losses": -per_image, "values": values, "images": images,
                       "image_gradient": image_gradient, "finite": finite}
            if self.metrics:
                outputs["metrics"] = _view_mean(views, self.metrics)
            return outputs

        step = tf.function(lambda: body(None))
        redirected = tf.function(lambda: body(True)) if self.redirect_relu_steps > 0 else None
        between = tuple((operation, _compiled_update(operation, self.param, variable))
                        for operation in self.between_steps)
        return _Compiled(self._recipe(), step, redirected, variable, counter, seed, total,
                         optimizer, optimizer_start, between)

    def _views(self, activations: dict[str, tf.Tensor], images: tf.Tensor) -> list[Features]:
        """The activations of the `views` x `batch` copies, as one `Features` per view.

        Each objective sees one view's `batch` images at a time, so objectives that compare
        the images of a batch (diversity, matching) compare the images of one view.
        """
        if self.views == 1:
            return [Features(activations, images, self.model)]
        parts = {key: tf.split(value, self.views) for key, value in activations.items()}
        return [Features({key: split[view] for key, split in parts.items()}, images, self.model)
                for view in range(self.views)]

    def run(self) -> Render:
        """Runs the optimization and returns the final images and the loss history.

        Raises:
            NonFiniteError: the loss or gradient became NaN/Inf (the images of the last finite
                step are kept and passed to `on_run_end`).
        """
        self.stop_training = False
        step = self._prepare()
        redirected = self._compiled.redirected_step
        between = self._compiled.between_steps
        term_names = _unique([leaf.name for _, leaf in self.objective.terms()])
        metric_names = _unique([f"metric/{m.name}" for m in self.metrics])
        history: dict[str, list] = {"loss": [], "losses": []}
        self.callbacks.set_visualizer(self)
        self.callbacks.on_run_begin({"names": self.names})
        error: NonFiniteError | None = None
        done = 0
        for index in range(self.steps):
            self.callbacks.on_step_begin(index)
            outputs = (redirected if index < self.redirect_relu_steps else step)()
            if not bool(outputs["finite"]):
                error = self._non_finite(index, outputs, term_names)
                break
            for operation, update in between:
                if operation.due(index, self.steps):
                    update()
            logs = self._record(outputs, term_names, metric_names, history)
            wanted = self.callbacks.wants(index)
            for key in ("images", "image_gradient"):
                if key in wanted:
                    logs[key] = outputs[key]
            done = index + 1
            self.callbacks.on_step_end(index, logs)
            if self.stop_training or self.stop:
                break
        images = self.images().numpy()
        arrays = {key: np.asarray(values) for key, values in history.items()}
        render = Render(images, list(self.names), arrays, done)
        self.callbacks.on_run_end({"images": images, "render": render, "error": error})
        if error is not None:
            raise error
        return render

    def _record(self, outputs: dict, term_names: list[str], metric_names: list[str],
                history: dict[str, list]) -> dict:
        values = outputs["values"].numpy()
        logs = {"loss": float(outputs["loss"]), "losses": outputs["losses"].numpy(),
                "objectives": dict(zip(term_names, values))}
        if metric_names:
            logs["metrics"] = dict(zip(metric_names, outputs["metrics"].numpy()))
        for key in ("loss", "losses"):
            history[key].append(logs[key])
        for name, value in {**logs["objectives"], **logs.get("metrics", {})}.items():
            history.setdefault(name, []).append(value)
        return logs

    def _non_finite(self, index: int, outputs: dict, term_names: list[str]) -> NonFiniteError:
        values = outputs["values"].numpy()
        bad = [name for name, row in zip(term_names, values) if not np.all(np.isfinite(row))]
        culprit = f"objective term(s) {', '.join(bad)}" if bad else "the gradient"
        return NonFiniteError(
            f"step {index}: {culprit} became NaN or infinite; stopped, keeping the images of "
            f"step {index} (the last finite ones)"
        )
