"""Reading any layer of a Keras model, nested models included, without changing the model.

A functional model is a graph of calls (`Node`s) of layers and operations. A model used as a
layer of another (a `MobileNet` base inside a fine-tuning `Sequential`) has its own graph, and
the outputs of its layers are tensors of that inner graph only: `keras.Model(outer.inputs,
inner_layer.output)` fails with "Graph disconnected". featviz therefore runs the graph itself,
call by call (`run`): a `Plan` says which tensors to read in each graph, and where a nested
model's call holds requested layers the run descends into that model's graph instead of calling
it whole. Nothing is added to the user's graph (no new symbolic calls, no cloned nodes) and each
layer is computed once.

Layers are named as in `featviz.receptive_field`: `outer/inner` for a layer of a nested model
(the top model's own name is not part of it), input layers included (`index_layers`).

Contract of `run`: inputs [batch, height, width, channels] -> {key: activation} for every key of
the plan, computed with training=False by a `LayerCall`. The graph runner is also where the
gradient overrides of a run live, scoped to the model being run: the pre-softmax value of a
fused-softmax layer is that layer's `call` evaluated with the identity as its activation (on a
read-only view of the layer, so the layer object is never modified), and a `LayerCall` with
`redirect_relu` set computes every ReLU and ReLU6 of the graph (`ReLU` layers, `Activation`
layers, fused `activation="relu"`/`"relu6"`, `keras.ops.relu` calls) with the redirected
gradient of `featviz.models.gradients`. Nothing process-wide is swapped, so two models (or two
runs of one) can be traced in two threads at once.

The traversal itself (`schedule`) is shared with `featviz.analysis.receptive_field`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import keras
import tensorflow as tf
from keras.src.backend import AutocastScope

from featviz.models.gradients import redirected_relu, redirected_relu6

Node = Any  # keras.src.ops.node.Node: one call of an operation in a graph.
# Final activations that turn logits into probabilities; the logits are read before them.
SQUASHING = ("softmax", "sigmoid")


def graph_of(model: keras.Model) -> keras.Model | None:
    """The functional graph of a model: itself, a built Sequential's, or None (subclassed)."""
    if isinstance(model, keras.Sequential):
        return model._functional
    outputs = model.outputs if hasattr(model, "_inputs_struct") else None
    return model if outputs else None


@dataclasses.dataclass(frozen=True, eq=False)
class Target:
    """A value to read in one graph.

    Attributes:
        tensor: the symbolic tensor, in the graph of the model that holds its layer.
        without_activation: read the output of the call producing `tensor` as if that layer
            had no activation (the logits of a fused `activation="softmax"` layer).
    """

    tensor: keras.KerasTensor
    without_activation: bool = False

    @property
    def node(self) -> Node:
        """The call that produces `tensor`."""
        operation, node_index, _ = self.tensor._keras_history
        return operation._inbound_nodes[node_index]


@dataclasses.dataclass(frozen=True, eq=False)
class Site:
    """Where a layer sits in a (possibly nested) model.

    Attributes:
        name: qualified name, `outer/inner` for a layer of a nested model.
        layer: the layer.
        calls: the calls of nested models leading from the top graph to the layer's graph,
            outermost first (empty for a layer of the top model).
        tensor: the layer's output in its graph, or None when it cannot be read.
        problem: why it cannot be read (e.g. the layer is called twice), or None.
    """

    name: str
    layer: keras.layers.Layer
    calls: tuple[Node, ...]
    tensor: keras.KerasTensor | None
    problem: str | None = None


def schedule(targets: Iterable[keras.KerasTensor], known: Iterable[keras.KerasTensor]) -> list[Node]:
    """The calls that compute `targets` from the `known` tensors, in execution order.

    Raises:
        ValueError: a target does not depend on the known tensors only.
    """
    ready = {id(tensor) for tensor in known}
    order: list[Node] = []
    # Iterative depth-first search: deep networks exceed Python's recursion limit.
    pending = list(targets)
    while pending:
        tensor = pending[-1]
        if id(tensor) in ready:
            pending.pop()
            continue
        operation, node_index, _ = tensor._keras_history
        node = operation._inbound_nodes[node_index]
        if node.is_input:
            raise ValueError(
                f"tensor {tensor.name!r} is not computed from the model's input (it comes from "
                f"input {operation.name!r} of another graph)"
            )
        missing = [t for t in node.input_tensors if id(t) not in ready]
        if missing:
            pending.extend(missing)
            continue
        pending.pop()
        order.append(node)
        ready.update(id(t) for t in node.output_tensors)
    return order


def _calls_by_operation(graph: keras.Model) -> dict[int, list[Node]]:
    """id(operation) -> its calls inside `graph`, for every operation on a path to the outputs."""
    calls: dict[int, list[Node]] = {}
    for node in schedule(graph.outputs, graph.inputs):
        calls.setdefault(id(node.operation), []).append(node)
    for tensor in graph.inputs:
        operation, node_index, _ = tensor._keras_history
        calls.setdefault(id(operation), []).append(operation._inbound_nodes[node_index])
    return calls


def _problem(calls: list[Node], owner: keras.Model) -> str | None:
    """Why the output of a layer called at `calls` in `owner`'s graph cannot be read."""
    if not calls:
        return f"is not on a path from model {owner.name!r}'s input to its output"
    if len(calls) > 1:
        return f"is called {len(calls)} times in model {owner.name!r}, so it has no single activation"
    if len(calls[0].output_tensors) != 1:
        return f"has {len(calls[0].output_tensors)} outputs"
    return None


def index_layers(
    model: keras.Model, calls: tuple[Node, ...] = (), prefix: str = "", problem: str | None = None
) -> dict[str, Site]:
    """Every layer of `model` and of the models nested in it, by qualified name, in graph order.

    A nested model comes right before its own layers. A layer whose output cannot be read gets
    a `Site.problem`; a nested subclassed model (no graph) is listed without inner layers.

    Args:
        model: a functional model or a built Sequential.
        calls, prefix, problem: for the recursion into nested models: the calls leading to
            `model`'s graph, its qualified name plus "/", and a problem all its layers share.
    """
    graph = graph_of(model)
    by_operation = _calls_by_operation(graph)
    sites: dict[str, Site] = {}
    for layer in graph.layers:
        name = prefix + layer.name
        nodes = by_operation.get(id(layer), [])
        own = problem or _problem(nodes, model)
        sites[name] = Site(name, layer, calls, None if own else nodes[0].output_tensors[0], own)
        if isinstance(layer, keras.Model) and graph_of(layer) is not None:
            inner = problem
            if inner is None and len(nodes) != 1:
                inner = (f"is inside nested model {name!r}, which is called {len(nodes)} times, "
                         f"so it has no single activation")
            call = nodes[0] if len(nodes) == 1 else None
            sites.update(index_layers(layer, calls + (call,), name + "/", inner))
    return sites


def _activation_name(layer: keras.Operation) -> str:
    return getattr(getattr(layer, "activation", None), "__name__", "")


def _is_squashing(operation: keras.Operation) -> bool:
    """Whether `operation` is a separate softmax/sigmoid (a layer, or a `keras.ops` call)."""
    if isinstance(operation, keras.layers.Softmax):
        return True
    if isinstance(operation, keras.layers.Activation):
        return _activation_name(operation) in SQUASHING
    # `keras.ops.softmax(x)` on a symbolic tensor records an operation of this name.
    kind = type(operation)
    return kind.__module__.startswith("keras.src.ops") and kind.__name__ in ("Softmax", "Sigmoid")


def find_logits(model: keras.Model) -> tuple[tuple[Node, ...], Target]:
    """Where the pre-softmax output of a one-output model is, whichever way it is computed.

    Follows the output into nested models; stops at a separate softmax/sigmoid (the logits are
    its input) or at a layer with a fused one (its output without the activation). A model
    without a squashing end is taken to output logits already.

    Returns:
        (the nested-model calls leading to the graph that holds the logits, the target there).
    """
    calls: tuple[Node, ...] = ()
    tensor = graph_of(model).outputs[0]
    while True:
        operation, node_index, tensor_index = tensor._keras_history
        node = operation._inbound_nodes[node_index]
        inner = graph_of(operation) if isinstance(operation, keras.Model) else None
        if inner is not None:
            calls += (node,)
            tensor = inner.outputs[tensor_index]
            continue
        if _is_squashing(operation):
            return calls, Target(node.input_tensors[0])
        if _activation_name(operation) in SQUASHING:
            return calls, Target(tensor, without_activation=True)
        return calls, Target(tensor)


class Plan:
    """What to read in one graph, and plans for the calls of nested models that hold more.

    Args:
        model: the functional model or built Sequential whose graph this plan reads.
    """

    def __init__(self, model: keras.Model) -> None:
        self.graph = graph_of(model)
        self.targets: list[tuple[str, Target]] = []
        self.nested: dict[int, tuple[Node, Plan]] = {}

    def add(self, key: str, calls: Sequence[Node], target: Target) -> None:
        """Requests `target` under `key`, in the graph reached through `calls`."""
        plan = self
        for call in calls:
            if id(call) not in plan.nested:
                plan.nested[id(call)] = (call, Plan(call.operation))
            plan = plan.nested[id(call)][1]
        plan.targets.append((key, target))

    def needs(self) -> list[keras.KerasTensor]:
        """The tensors of this graph that the targets and the nested plans are computed from."""
        tensors = []
        for _, target in self.targets:
            tensors.extend(target.node.input_tensors if target.without_activation else [target.tensor])
        for call, _ in self.nested.values():
            tensors.extend(call.input_tensors)
        return tensors


# call(operation, args, kwargs, without_activation) -> the call's outputs.
Call = Callable[[keras.Operation, tuple, dict, bool], Any]


def run(plan: Plan, inputs: Sequence[Any], call: Call, features: dict[str, Any],
        outputs: bool = False, descend: bool = False) -> list[Any] | None:
    """Runs the part of `plan.graph` that the plan needs, filling `features` with its targets.

    Args:
        plan: what to read.
        inputs: values of `plan.graph.inputs`, in order.
        call: computes one call of an operation (a `LayerCall`, or `infer_shape` for shapes).
        features: receives key -> value for every target of the plan and its nested plans.
        outputs: also compute and return the graph's outputs (a nested model whose result
            the outer graph uses).
        descend: run every nested model call by call, not only those with targets (so that
            `infer_shape` checks each of their layers).

    Returns:
        The values of `plan.graph.outputs` when `outputs`, else None.
    """
    graph = plan.graph
    values = {id(tensor): value for tensor, value in zip(graph.inputs, inputs)}
    wanted = plan.needs() + (list(graph.outputs) if outputs else [])
    entered = set()
    for node in schedule(wanted, graph.inputs):
        nested = plan.nested.get(id(node))
        if nested is None and descend and isinstance(node.operation, keras.Model) and graph_of(
            node.operation
        ) is not None:
            nested = (node, Plan(node.operation))
        if nested is not None:
            entered.add(id(node))
            result = run(nested[1], [values[id(t)] for t in node.input_tensors], call, features,
                         outputs=True, descend=descend)
        else:
            args, kwargs = node.arguments.fill_in(values)
            result = call(node.operation, args, kwargs, False)
        for tensor, value in zip(node.output_tensors, keras.tree.flatten(result)):
            values[id(tensor)] = value
    for node_id, (node, nested_plan) in plan.nested.items():
        if node_id not in entered:
            run(nested_plan, [values[id(t)] for t in node.input_tensors], call, features,
                descend=descend)
    for key, target in plan.targets:
        if target.without_activation:
            args, kwargs = target.node.arguments.fill_in(values)
            features[key] = call(target.node.operation, args, kwargs, True)
        else:
            features[key] = values[id(target.tensor)]
    return [values[id(tensor)] for tensor in graph.outputs] if outputs else None


class _WithoutActivation:
    """A read-only view of a layer whose `activation` is the identity.

    `type(layer).call(view, ...)` then computes the layer's pre-activation output with the
    layer's own weights and settings, and the layer object itself is never modified.
    """

    def __init__(self, layer: keras.Layer) -> None:
        object.__setattr__(self, "_layer", layer)

    def __getattr__(self, name: str) -> Any:
        if name == "activation":
            return keras.activations.linear
        return getattr(self._layer, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"the pre-activation view of layer {self._layer.name!r} is read-only")


def _relu_cap(operation: keras.Operation) -> tuple[bool, float | None]:
    """Whether `operation` ends in a plain ReLU (or ReLU6), and its cap (6.0 or None).

    Plain means zero slope and threshold: a leaky or thresholded ReLU is left as it is.
    """
    if isinstance(operation, keras.layers.ReLU):
        plain = float(operation.negative_slope) == 0 and float(operation.threshold) == 0
        cap = None if operation.max_value is None else float(operation.max_value)
        return plain and cap in (None, 6.0), cap
    activation = getattr(operation, "activation", None)
    if activation is keras.activations.relu:
        return True, None
    if activation is keras.activations.relu6:
        return True, 6.0
    # `keras.ops.relu(x)` / `keras.ops.relu6(x)` on a symbolic tensor record these operations.
    kind = type(operation)
    if kind.__module__.startswith("keras.src.ops") and kind.__name__ in ("Relu", "Relu6"):
        return True, 6.0 if kind.__name__ == "Relu6" else None
    return False, None


def _is_fused(operation: keras.Operation) -> bool:
    """Whether `operation` applies its activation after computing something else."""
    return hasattr(operation, "activation") and not isinstance(operation, keras.layers.Activation)


class LayerCall:
    """Computes one call for real, in inference mode, with the run's gradient overrides.

    Args:
        redirect_relu: None for the model's own gradients; a scalar bool tensor (or bool) to
            give every plain ReLU/ReLU6 the redirected gradient while it is True
            (`featviz.models.gradients`). Forward values are the model's own either way.
    """

    def __init__(self, redirect_relu: tf.Tensor | bool | None = None) -> None:
        self.redirect_relu = redirect_relu

    def __call__(self, operation: keras.Operation, args: tuple, kwargs: dict,
                 without_activation: bool) -> Any:
        """The outputs of `operation(*args, **kwargs)`; with `without_activation`, before its
        activation (the logits of a fused-softmax layer)."""
        if "training" in getattr(operation, "_call_context_args", ()):
            kwargs = {**kwargs, "training": False}
        if without_activation:
            return self._pre_activation(operation, args, kwargs)
        if self.redirect_relu is not None:
            is_relu, cap = _relu_cap(operation)
            if is_relu:
                inputs = self._pre_activation(operation, args, kwargs) if _is_fused(operation) else args[0]
                relu = redirected_relu if cap is None else redirected_relu6
                return relu(inputs, self.redirect_relu)
        return operation(*args, **kwargs)

    @staticmethod
    def _pre_activation(layer: keras.Layer, args: tuple, kwargs: dict) -> Any:
        """`layer`'s output before its activation, computed as its `__call__` would.

        `call` runs on a read-only view of the layer (`_WithoutActivation`); inputs and
        variables are cast to the layer's compute dtype as `__call__` casts them, so mixed
        precision layers compute in float16 here too.
        """
        if not getattr(layer, "_call_has_training_arg", False):
            # `__call__` passes `training` on only to a `call` that takes it.
            kwargs = {key: value for key, value in kwargs.items() if key != "training"}
        dtype = layer.compute_dtype
        cast = keras.tree.map_structure(
            lambda x: keras.ops.cast(x, dtype) if hasattr(x, "dtype") and "float" in str(x.dtype) else x,
            args)
        scope = AutocastScope(dtype) if dtype != layer.variable_dtype else contextlib.nullcontext()
        with scope:
            return type(layer).call(_WithoutActivation(layer), *cast, **kwargs)


def infer_shape(operation: keras.Operation, args: tuple, kwargs: dict, without_activation: bool) -> Any:
    """Computes one call's output shapes (KerasTensors in, KerasTensors out), without running it.

    Raises:
        ValueError: the call cannot compute its output from inputs of these shapes, or it
            would output an empty image grid; the message names the layer.
    """
    shapes = [tuple(t.shape) for t in keras.tree.flatten((args, kwargs)) if hasattr(t, "shape")]
    where = (f"layer {operation.name!r} ({type(operation).__name__}) on input shape "
             f"{', '.join(map(str, shapes))}")
    try:
        result = operation.compute_output_spec(*args, **kwargs)
    except ValueError as error:
        raise ValueError(f"{where} fails: {error}") from None
    for tensor in keras.tree.flatten(result):
        shape = tuple(getattr(tensor, "shape", ()))
        if len(shape) == 4 and any(size is not None and size < 1 for size in shape[1:3]):
            raise ValueError(f"{where} would output an empty grid, shape {shape}")
    return result
