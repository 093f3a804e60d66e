"""Redirected ReLU gradients: the remedy for units that a random start leaves dead.

A ReLU whose input is negative at every position passes no gradient, so an objective behind it
cannot move from where the optimization started, and the image stays flat grey. Lucid's
`redirected_relu_grad` fixes the start: where the ordinary gradient of a ReLU is zero for a
whole image, it lets through the part of the incoming gradient that would raise a negative
input (and, for ReLU6, lower an input above 6), and blocks only the part that would push the
input further out of the active range. Once any gradient passes the ordinary way, the ordinary
gradient is used. The forward values never change.

The graph runner (`featviz.models.graph.LayerCall`) applies these functions to the ReLUs of
the model being run — `ReLU` layers (ReLU6 with `max_value=6`), `Activation("relu")`, fused
`activation="relu"` and `keras.ops.relu` calls — so the override is scoped to that run: nothing
process-wide (such as `tf.nn.relu`) is replaced, and the model object is not touched.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf


def _redirected_gradient(
    outputs: tf.Tensor, upstream: tf.Tensor, upper: float | None, active: tf.Tensor | bool
) -> tf.Tensor:
    """The gradient of a (capped) ReLU with respect to its input, redirected where it is dead.

    Computed from the ReLU's output, as TensorFlow's own ReLU gradient is: the input is then not
    needed by the backward pass, so the forward keeps its fused convolution + activation. An
    output at 0 (or at the cap) stands for an input below (above) the active range, including
    one exactly at its edge, from which a step that way leaves the unit dead too.

    Args:
        outputs: the ReLU's output, [batch, ...].
        upstream: d loss / d output, same shape.
        upper: the cap (6 for ReLU6), or None.
        active: scalar bool tensor, or a bool fixed when traced; False gives the ordinary
            gradient.
    """
    if upper is None:
        ordinary = tf.raw_ops.ReluGrad(gradients=upstream, features=outputs)
    else:
        ordinary = tf.raw_ops.Relu6Grad(gradients=upstream, features=outputs)
    rank = upstream.shape.rank
    if rank is None or rank < 2:
        # No batch dimension to tell which image is dead.
        return ordinary

    def redirect_dead() -> tf.Tensor:
        batch = tf.shape(upstream)[0]
        dead = tf.equal(tf.reduce_max(tf.abs(tf.reshape(ordinary, [batch, -1])), axis=1), 0.0)

        def redirected() -> tf.Tensor:
            # The loss is minimised, so an input moves along -upstream: upstream > 0 lowers it.
            outward = tf.logical_and(outputs <= 0, upstream > 0)
            if upper is not None:
                outward = tf.logical_or(outward, tf.logical_and(outputs >= upper, upstream < 0))
            inward = tf.where(outward, tf.zeros_like(upstream), upstream)
            return tf.where(tf.reshape(dead, [-1] + [1] * (rank - 1)), inward, ordinary)

        # Dead images are the exception: most layers of most steps skip the elementwise work.
        return tf.cond(tf.reduce_any(dead), redirected, lambda: ordinary)

    if isinstance(active, bool):
        return redirect_dead() if active else ordinary
    return tf.cond(active, redirect_dead, lambda: ordinary)


def _redirect(forward: Callable[[tf.Tensor], tf.Tensor], upper: float | None,
              features: tf.Tensor, active: tf.Tensor | bool) -> tf.Tensor:
    if not isinstance(active, bool):
        active = tf.convert_to_tensor(active, tf.bool)

    @tf.custom_gradient
    def relu(inputs: tf.Tensor) -> tuple[tf.Tensor, Callable[[tf.Tensor], tf.Tensor]]:
        outputs = forward(inputs)

        def gradient(upstream: tf.Tensor) -> tf.Tensor:
            return _redirected_gradient(outputs, upstream, upper, active)

        return outputs, gradient

    return relu(tf.convert_to_tensor(features))


def redirected_relu(features: tf.Tensor, active: tf.Tensor | bool = True) -> tf.Tensor:
    """`tf.nn.relu(features)` whose gradient is redirected where `active` and dead.

    Args:
        features: [batch, ...] (a batch dimension first; without one the gradient is ordinary).
        active: scalar bool tensor or bool: whether to redirect (e.g. `step < 16`).
    """
    return _redirect(tf.nn.relu, None, features, active)


def redirected_relu6(features: tf.Tensor, active: tf.Tensor | bool = True) -> tf.Tensor:
    """`tf.nn.relu6(features)` whose gradient is redirected where `active` and dead."""
    return _redirect(tf.nn.relu6, 6.0, features, active)
