"""Transforms: hand-computed blur, shapes, determinism in the seed, exact zoom."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

import featviz as fv
from featviz.transforms import apply, gaussian_kernel

SEED = tf.constant([1, 2], tf.int64)


def test_gaussian_kernel_matches_hand_computed_values():
    # sigma 1, radius 3: exp(-x^2/2) for x = 0..3 is 1, 0.60653, 0.13534, 0.01111; sum 2.50596.
    expected = np.array([0.01111, 0.13534, 0.60653, 1.0, 0.60653, 0.13534, 0.01111]) / 2.50596
    np.testing.assert_allclose(gaussian_kernel(1.0), expected, atol=1e-5)


def test_blur_of_an_impulse_is_the_outer_product_of_kernels():
    image = np.zeros((1, 15, 15, 1), np.float32)
    image[0, 7, 7, 0] = 1.0
    blurred = fv.GaussianBlur(1.0)(tf.constant(image), SEED).numpy()[0, :, :, 0]
    kernel = gaussian_kernel(1.0)
    np.testing.assert_allclose(blurred[4:11, 4:11], np.outer(kernel, kernel), atol=1e-6)
    assert blurred.sum() == pytest.approx(1.0, abs=1e-5)


def test_blur_keeps_constant_images_and_zero_sigma_is_identity():
    image = tf.fill([1, 10, 10, 3], 0.3)
    np.testing.assert_allclose(fv.GaussianBlur(2.0)(image, SEED).numpy(), 0.3, atol=1e-6)
    noise = tf.random.stateless_uniform([1, 10, 10, 3], seed=[0, 0])
    assert fv.GaussianBlur(0.0)(noise, SEED) is noise


def _sigma_of_centre(centre: float, low: float, high: float, radius: int) -> float:
    """The sigma in [low, high] whose blurred impulse has `centre` at its peak (bisection: the
    peak falls as sigma grows)."""
    for _ in range(60):
        middle = (low + high) / 2
        peak = gaussian_kernel(middle, radius)[radius] ** 2
        low, high = (middle, high) if peak > centre else (low, middle)
    return (low + high) / 2


def test_random_blur_blurs_each_image_by_its_own_sigma_from_the_range():
    # A batch of impulses: image i blurred by sigma_i is the outer product of sigma_i's kernel.
    images = np.zeros((6, 25, 25, 1), np.float32)
    images[:, 12, 12, 0] = 1.0
    blurred = fv.RandomBlur((0.5, 2.0))(tf.constant(images), SEED).numpy()[..., 0]
    np.testing.assert_allclose(blurred.sum(axis=(1, 2)), 1.0, atol=1e-5)
    sigmas = [_sigma_of_centre(centre, 0.5, 2.0, radius=6) for centre in blurred[:, 12, 12]]
    for image, sigma in zip(blurred, sigmas):
        kernel = gaussian_kernel(sigma, 6)
        np.testing.assert_allclose(image[6:19, 6:19], np.outer(kernel, kernel), atol=2e-4)
    assert np.ptp(sigmas) > 0.3  # drawn per image, not once for the batch
    again = fv.RandomBlur((0.5, 2.0))(tf.constant(images), SEED).numpy()[..., 0]
    np.testing.assert_array_equal(blurred, again)


def test_random_blur_keeps_constants_and_sizes_and_a_fixed_sigma_is_gaussian_blur():
    noise = tf.random.stateless_uniform([3, 17, 20, 3], seed=[0, 0])
    np.testing.assert_allclose(fv.RandomBlur((1.5, 1.5))(noise, SEED).numpy(),
                               fv.GaussianBlur(1.5)(noise).numpy(), atol=1e-6)
    constant = tf.fill([2, 24, 24, 3], 0.3)
    np.testing.assert_allclose(fv.RandomBlur((0.0, 3.0))(constant, SEED).numpy(), 0.3, atol=1e-6)
    np.testing.assert_allclose(fv.RandomBlur((0.0, 0.0))(noise, SEED).numpy(), noise.numpy())
    for sigmas in [(2.0, 1.0), (-1.0, 1.0), 1.0, ("a", 1.0)]:
        with pytest.raises(ValueError, match="RandomBlur sigmas must be a"):
            fv.RandomBlur(sigmas)


def test_jitter_crops_and_depends_only_on_the_seed():
    images = tf.random.stateless_uniform([2, 32, 32, 3], seed=[0, 0])
    jitter = fv.Jitter(4)
    out = jitter(images, SEED)
    assert out.shape == (2, 28, 28, 3)
    np.testing.assert_array_equal(out.numpy(), jitter(images, SEED).numpy())
    others = [jitter(images, tf.constant([9, s], tf.int64)).numpy() for s in range(6)]
    assert any(not np.array_equal(out.numpy(), other) for other in others)


def test_zoom_scales_about_the_centre_by_exactly_the_factor():
    # A horizontal ramp x -> x; zooming by 2 about the centre c maps x to c + (x - c) / 2.
    ramp = np.tile(np.arange(33, dtype=np.float32)[None, :, None], (33, 1, 1))[None] / 32.0
    zoomed = fv.Zoom(2.0)(tf.constant(ramp)).numpy()[0, 16, :, 0]
    expected = (16 + (np.arange(33) - 16) / 2.0) / 32.0
    np.testing.assert_allclose(zoomed, expected, atol=1e-5)


@pytest.mark.parametrize("transform", [
    fv.Pad(4), fv.RandomScale((0.5, 1.5)), fv.RandomRotate((-30, 30)), fv.Jitter(3),
    fv.RandomAffine((0.7, 1.4), (-20, 20), 0.1), fv.RandomBlur((0.5, 1.5)),
], ids=repr)
def test_random_transforms_are_differentiable(transform):
    images = tf.Variable(tf.random.stateless_uniform([1, 24, 24, 3], seed=[0, 0]))
    with tf.GradientTape() as tape:
        out = transform(images, SEED)
        loss = tf.reduce_sum(out * tf.random.stateless_uniform(tf.shape(out), seed=[1, 1]))
    gradient = tape.gradient(loss, images)
    assert gradient is not None and float(tf.reduce_sum(tf.abs(gradient))) > 0


def test_standard_transforms_compose_and_bad_members_are_named():
    composed = fv.compose(fv.standard_transforms(jitter=4, pad=4))
    out = composed(tf.random.stateless_uniform([1, 32, 32, 3], seed=[0, 0]), SEED)
    assert out.shape[0] == 1 and out.shape[-1] == 3
    with pytest.raises(TypeError, match=r"transform 1 is .*Jitter.*with parentheses"):
        fv.compose([fv.Pad(2), fv.Jitter])
    with pytest.raises(ValueError, match="Zoom factor must be >= 1"):
        fv.Zoom(0.5)


# RandomAffine: per-image zoom, rotation and shift ----------------------------------------------

def _ramp(size: int = 33, batch: int = 1) -> tf.Tensor:
    """A horizontal ramp x / (size - 1), [batch, size, size, 1]."""
    ramp = np.tile(np.arange(size, dtype=np.float32)[None, :, None], (size, 1, 1)) / (size - 1)
    return tf.constant(np.repeat(ramp[None], batch, axis=0))


def test_random_affine_zooms_about_the_centre_with_the_fill_outside():
    # Zooming by 2 maps x to c + (x - c) / 2 (as Zoom); by 0.5 to c + 2 (x - c), grey outside.
    zoomed_in = fv.RandomAffine(scales=(2.0, 2.0))(_ramp(), SEED).numpy()[0, 16, :, 0]
    np.testing.assert_allclose(zoomed_in * 32, 16 + (np.arange(33) - 16) / 2.0, atol=1e-4)
    zoomed_out = fv.RandomAffine(scales=(0.5, 0.5), fill_mode="constant", fill_value=0.25)(
        _ramp(), SEED).numpy()[0, 16, :, 0]
    np.testing.assert_allclose(zoomed_out[8:25] * 32, 16 + 2.0 * (np.arange(8, 25) - 16), atol=1e-4)
    np.testing.assert_allclose(zoomed_out[:8], 0.25)
    np.testing.assert_allclose(zoomed_out[25:], 0.25)


def test_random_affine_rotates_by_the_angle():
    image = np.random.default_rng(0).uniform(size=(1, 15, 15, 3)).astype(np.float32)
    rotated = fv.RandomAffine(degrees=(90.0, 90.0))(tf.constant(image), SEED).numpy()
    np.testing.assert_allclose(rotated[0], np.rot90(image[0], k=1), atol=1e-4)


def test_random_affine_draws_per_image_within_the_range_and_only_from_the_seed():
    shift = fv.RandomAffine(translate=0.25)
    out = shift(_ramp(batch=6), SEED).numpy()[:, 16, 16, 0] * 32  # the centre pixel moved
    offsets = out - 16
    assert np.all(np.abs(offsets) <= 0.25 * 33 + 1e-4)
    assert len(np.unique(np.round(offsets, 3))) == 6  # every image its own draw
    np.testing.assert_array_equal(shift(_ramp(batch=6), SEED).numpy(), shift(_ramp(batch=6), SEED).numpy())
    assert not np.array_equal(shift(_ramp(batch=6), tf.constant([3, 4], tf.int64)).numpy(),
                              shift(_ramp(batch=6), SEED).numpy())


@pytest.mark.parametrize("kwargs, message", [
    ({"scales": (1.5, 0.5)}, r"scales must be a \(low, high\) pair, low <= high with low > 0"),
    ({"scales": (0.0, 1.0)}, r"scales must be .* with low > 0; got \(0.0, 1.0\)"),
    ({"degrees": 20}, r"degrees must be a \(low, high\) pair"),
    ({"translate": 1.0}, r"translate must be in \[0, 1\), got 1.0"),
    ({"fill_mode": "mirror"}, "fill_mode must be reflect, constant, nearest or wrap, got 'mirror'"),
])
def test_random_affine_refuses_bad_ranges(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fv.RandomAffine(**kwargs)


def _resample_and_probe(mode: str, scale: float, seed: int):
    """A zoom-rotate-shift resample of 17x23 images into 19x21 ones, an input and an output probe."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(-1.0, 1.0, 2).astype(np.float32)
    shift = rng.normal(0.0, 5.0, (2, 2)).astype(np.float32)
    matrix = fv.transforms._about_centre(tf.constant([17, 23]), np.cos(angle) / scale,
                                         np.sin(angle) / scale, shift[0], shift[1])
    resampling = fv.transforms.Resampling(tf.constant([19, 21]), matrix, mode, 0.3, exact_gradient=True)
    return (resampling, tf.constant(rng.normal(size=(2, 17, 23, 3)), tf.float32),
            tf.constant(rng.normal(size=(2, 19, 21, 3)), tf.float32))


@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "wrap"])
@pytest.mark.parametrize("scale", [0.4, 1.0, 2.2])
def test_the_exact_gradient_is_the_transpose_of_the_resample(mode, scale):
    # <A x, y> = <x, A^T y> for the op's own resample A, with points far outside the image.
    resampling, x, y = _resample_and_probe(mode, scale, seed=int(scale * 10))
    linear = resampling(x) - resampling(tf.zeros_like(x))  # the constant fill's offset removed
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = resampling(x)
    transposed = tape.gradient(out, x, output_gradients=y)
    np.testing.assert_allclose(float(tf.reduce_sum(linear * y)), float(tf.reduce_sum(x * transposed)),
                               rtol=1e-4)


def test_tensorflows_gradient_of_a_zoom_is_not_the_transpose_so_the_recipe_can_ask_for_it():
    resampling, x, y = _resample_and_probe("reflect", 2.2, seed=1)
    inverse = dataclasses.replace(resampling, exact_gradient=False)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        exact, registered = resampling(x), inverse(x)
    np.testing.assert_array_equal(exact.numpy(), registered.numpy())  # the same images
    transposed = tape.gradient(exact, x, output_gradients=y)
    resampled = tape.gradient(registered, x, output_gradients=y)
    assert float(tf.reduce_sum(x * resampled)) != pytest.approx(float(tf.reduce_sum(x * transposed)),
                                                                rel=0.05)
    fused = fv.compose([fv.RandomAffine((0.6, 1.6), exact_gradient=True), fv.Jitter(3)])
    with tf.GradientTape() as tape:
        images = _smooth_images()
        tape.watch(images)
        out = fused(images, SEED)
    assert out.shape == (3, 61, 61, 3) and np.isfinite(tape.gradient(out, images).numpy()).all()


# compose: geometric members fused into one resample -------------------------------------------

def _one_by_one(transforms, images, seed, progress=None):
    """The transforms applied separately, with the seeds (and progress) `compose` gives them."""
    seeds = tf.random.experimental.stateless_split(seed, num=len(transforms))
    for transform, member_seed in zip(transforms, seeds):
        images = apply(transform, images, member_seed, progress)
    return images


def _smooth_images(size: int = 64, batch: int = 3) -> tf.Tensor:
    coarse = tf.random.stateless_uniform([batch, size // 8, size // 8, 3], seed=[5, 5])
    return tf.image.resize(coarse, [size, size], method="bicubic")


def _resamples(fn, images) -> int:
    graph = tf.function(fn).get_concrete_function(tf.TensorSpec(images.shape, tf.float32)).graph
    return sum(op.type == "ImageProjectiveTransformV3" for op in graph.get_operations())


def test_an_affine_and_the_crops_after_it_are_one_resample_equal_to_float_rounding():
    transforms = [fv.RandomAffine((0.6, 1.6), (-25, 25), 0.1), fv.Jitter(5), fv.Jitter(3)]
    images = _smooth_images()
    fused = fv.compose(transforms)(images, SEED)
    np.testing.assert_allclose(fused.numpy(), _one_by_one(transforms, images, SEED).numpy(), atol=1e-4)
    assert _resamples(lambda x: fv.compose(transforms)(x, SEED), images) == 1


def test_the_recipe_and_the_resize_to_the_model_are_one_resample_within_one_bilinear_smoothing():
    transforms = [*fv.recipes.default_transforms(64), fv.Resize((56, 56))]
    images, progress = _smooth_images(), tf.constant(0.1)  # the centre window half grown
    fused = fv.compose(transforms)(images, SEED, progress).numpy()
    separate = _one_by_one(transforms, images, SEED, progress).numpy()
    assert fused.shape == separate.shape == (3, 56, 56, 3)
    # Interpolating once instead of twice (affine, then resize): small differences, largest
    # where the fill meets the image.
    difference = np.abs(fused - separate)
    assert difference.mean() < 0.01 and np.percentile(difference, 99) < 0.06, difference.mean()
    assert _resamples(lambda x: fv.compose(transforms)(x, SEED, progress), images) == 1


def test_crops_and_resizes_without_a_resample_before_them_stay_exact_ops():
    transforms = [fv.Pad(3), fv.Jitter(4), fv.RandomScale((0.5, 0.8)), fv.Resize((20, None))]
    images = _smooth_images(32)
    np.testing.assert_array_equal(fv.compose(transforms)(images, SEED).numpy(),
                                  _one_by_one(transforms, images, SEED).numpy())
    assert _resamples(lambda x: fv.compose(transforms)(x, SEED), images) == 0


def test_resize_keeps_free_dimensions_and_refuses_bad_sizes():
    images = _smooth_images(32)
    assert fv.Resize((16, None))(images).shape == (3, 16, 32, 3)
    assert fv.Resize((32, 32))(images) is images
    with pytest.raises(ValueError, match=r"Resize size must be \(height, width\) of positive ints or None, got \(0, 4\)"):
        fv.Resize((0, 4))


def test_the_centre_window_shows_the_middle_first_and_all_of_the_image_from_its_ramp_on():
    images = tf.random.stateless_uniform([2, 100, 60, 3], seed=[4, 5])
    window = fv.CentreWindow(first=0.3, ramp=0.5, edge=0.02)
    early = window(images, SEED, tf.constant(0.0)).numpy()
    # At the first step: the middle 0.3 of each side (less the 2% fade) untouched, grey outside.
    np.testing.assert_array_equal(early[:, 38:62, 22:38], images.numpy()[:, 38:62, 22:38])
    assert np.all(early[:, :34] == 0.5) and np.all(early[:, :, :20] == 0.5)
    assert np.all(early[:, 66:] == 0.5) and np.all(early[:, :, 40:] == 0.5)
    # Halfway up the ramp the window is larger (0.65 of the side); from the ramp on, the identity.
    middle = window(images, SEED, tf.constant(0.25)).numpy()
    assert np.all(middle[:, 20:80, 12:48] != 0.5) and np.all(middle[:, :15] == 0.5)
    for progress in (0.5, 0.9):
        np.testing.assert_array_equal(window(images, SEED, tf.constant(progress)).numpy(),
                                      images.numpy())
    with pytest.raises(ValueError, match="needs its progress"):
        fv.compose([window])(images, SEED)


@pytest.mark.parametrize("kwargs, message", [
    (dict(first=0.0), r"first must be a fraction in \(0.0, 1.0\], got 0.0"),
    (dict(ramp=1.5), r"ramp must be a fraction in \(0.0, 1.0\], got 1.5"),
    (dict(edge=0.5), r"edge must be a fraction in \(0.0, 0.5\), got 0.5"),
    (dict(first=True), r"first must be a fraction .* got True"),
])
def test_the_centre_window_refuses_bad_fractions(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fv.CentreWindow(**kwargs)


def test_in_a_run_the_centre_window_keeps_the_first_steps_in_the_middle(tiny):
    """The loop passes the run's progress: with the window over the whole run, the first step
    (progress 0) changes only the middle 0.3 of a pixel image; unwindowed, all of it."""
    def first_step(transforms: list) -> np.ndarray:
        visualizer = fv.Visualizer(tiny, fv.ClassLogit("one"), param=fv.Pixel(32), steps=1,
                                   transforms=transforms, learning_rate=0.1, seed=2)
        start = visualizer.param.to_images(visualizer.param.initial(1, 2)).numpy()
        return np.abs(visualizer.run().images - start)[0].max(axis=-1)

    changed = first_step([fv.CentreWindow(first=0.3, ramp=1.0)])
    assert changed[11:21, 11:21].min() > 0 and changed[:10].max() == 0 and changed[:, 22:].max() == 0
    assert first_step([])[:10].min() > 0
