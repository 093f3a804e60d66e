"""Redirected ReLU gradients: the remedy for units that a random start leaves dead.

A ReLU whose input is negative at every position passes no gradient, so an objective behind it
cannot move from where the optimization started, and the image stays flat grey. Lucid's
`redirected_relu_grad` fixes the start: where the ordinary gradient of a ReLU is zero for a
whole image, it lets through the part of the incoming gradient that would raise a negative
input (and, for ReLU6, lower an input above 6), and blocks only the part that would push the
input further out of the active range. Once any gradient passes the ordinary way, the ordinary
gradient is used. The forward values never change.

`redirected_relus(active)` is a context for the duration of tracing a step: inside it,
`tf.nn.relu` and `tf.nn.relu6` — what Keras' TensorFlow backend computes for
`keras.activations.relu`, `ReLU` layers (with `max_value=6`: ReLU6) and `activation="relu"` —
are replaced by the redirected versions, and restored in `finally`. The model object is not
touched. The swap is process-wide while the block runs, so do not trace other TensorFlow code
that uses ReLUs in another thread at the same time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import tensorflow as tf

_RELU = tf.nn.relu
_RELU6 = tf.nn.relu6


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
    return _redirect(_RELU, None, features, active)


def redirected_relu6(features: tf.Tensor, active: tf.Tensor | bool = True) -> tf.Tensor:
    """`tf.nn.relu6(features)` whose gradient is redirected where `active` and dead."""
    return _redirect(_RELU6, 6.0, features, active)


@contextlib.contextmanager
def redirected_relus(active: tf.Tensor | bool = True) -> Iterator[None]:
    """Within: every `tf.nn.relu`/`tf.nn.relu6` (all Keras ReLUs) has the redirected gradient.

    Args:
        active: scalar bool tensor or bool, read when the gradient is computed: where False the
            gradient is the ordinary one (so one traced step serves both phases of a run).
    """
    relu, relu6 = tf.nn.relu, tf.nn.relu6
    tf.nn.relu = lambda features, name=None: redirected_relu(features, active)
    tf.nn.relu6 = lambda features, name=None: redirected_relu6(features, active)
    try:
        yield
    finally:
        tf.nn.relu, tf.nn.relu6 = relu, relu6
