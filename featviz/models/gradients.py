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
    inputs: tf.Tensor, upstream: tf.Tensor, upper: float | None, active: tf.Tensor
) -> tf.Tensor:
    """The gradient of a (capped) ReLU with respect to `inputs`, redirected where it is dead.

    Args:
        inputs: the ReLU's input, [batch, ...].
        upstream: d loss / d output, same shape.
        upper: the cap (6 for ReLU6), or None.
        active: scalar bool; False gives the ordinary gradient.
    """
    zero = tf.zeros_like(upstream)
    passing = inputs > 0 if upper is None else tf.logical_and(inputs > 0, inputs < upper)
    ordinary = tf.where(passing, upstream, zero)
    rank = upstream.shape.rank
    if rank is None or rank < 2:
        # No batch dimension to tell which image is dead.
        return ordinary
    # The loss is minimised, so an input moves along -upstream: upstream > 0 lowers it.
    outward = tf.logical_and(inputs < 0, upstream > 0)
    if upper is not None:
        outward = tf.logical_or(outward, tf.logical_and(inputs > upper, upstream < 0))
    redirected = tf.where(outward, zero, upstream)
    batch = tf.shape(upstream)[0]
    dead = tf.reduce_all(tf.equal(tf.reshape(ordinary, [batch, -1]), 0), axis=1)  # [batch]
    dead = tf.reshape(tf.logical_and(dead, active), [-1] + [1] * (rank - 1))
    return tf.where(dead, redirected, ordinary)


def _redirect(forward: Callable[[tf.Tensor], tf.Tensor], upper: float | None,
              features: tf.Tensor, active: tf.Tensor | bool) -> tf.Tensor:
    active = tf.convert_to_tensor(active, tf.bool)

    @tf.custom_gradient
    def relu(inputs: tf.Tensor) -> tuple[tf.Tensor, Callable[[tf.Tensor], tf.Tensor]]:
        def gradient(upstream: tf.Tensor) -> tf.Tensor:
            return _redirected_gradient(inputs, upstream, upper, active)

        return forward(inputs), gradient

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
