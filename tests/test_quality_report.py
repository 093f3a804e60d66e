"""experiments/quality_report.py on the demo model: every method runs, peers are skipped cleanly."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from experiments import quality_report

PEERS = {"xplique": "xplique", "tf-keras-vis": "tf_keras_vis"}


@pytest.mark.slow
def test_the_report_runs_every_installed_method_on_the_demo_model(tmp_path):
    quality_report.main([
        "--model", "demo", "--logits-layer", "logits", "--judge", "demo",
        "--classes", "vertical_stripes", "checkerboard", "--channels", "conv2:0", "conv4:3",
        "--steps", "2", "--seed-steps", "2", "--repeats", "1", "--large-size", "72",
        "--figures", str(tmp_path), "--runs", str(tmp_path / "runs"),
    ])
    for kind, methods in (("classes", quality_report.METHODS),
                          ("channels", quality_report.CHANNEL_METHODS)):
        result = json.loads((tmp_path / "runs" / f"quality_{kind}.json").read_text())
        installed = [m for m in methods
                     if m not in PEERS or importlib.util.find_spec(PEERS[m]) is not None]
        assert list(result["rows"]) == installed
        assert sorted(result["skipped"]) == sorted(set(methods) - set(installed))
        for row in result["rows"].values():
            assert 0 <= row["saturated"] <= 1 and 0 <= row["saturation"] <= 1
            assert np.isfinite([row["robust"], row["high_frequency"], row["wall_s"]]).all()
        if kind == "classes":
            assert all(0 <= row["judge_top5"] <= 1 for row in result["rows"].values())
        assert (tmp_path / f"quality_{kind}_demo.png").stat().st_size > 0
        assert (tmp_path / "runs" / f"quality_{kind}.md").read_text().count("\n") == len(installed) + 2


def test_preprocessing_parses_mean_and_std_or_passes_family_names():
    scaled = quality_report.preprocessing("127/128")
    np.testing.assert_allclose(np.asarray(scaled(np.array([0.0, 1.0], np.float32))),
                               [-127 / 128, 128 / 128])
    assert quality_report.preprocessing("mobilenet") == "mobilenet"
    with pytest.raises(ValueError, match=r"MEAN/STD needs two numbers, got 'a/b'"):
        quality_report.preprocessing("a/b")


def test_peer_model_has_the_preprocessing_inside_and_the_logits_by_name(demo):
    network = quality_report.load_network("demo", None, "logits", 64)
    peer = quality_report.peer_model(network, "logits", scale=255.0)
    images = np.random.default_rng(0).uniform(size=(2, 64, 64, 3)).astype(np.float32)
    expected = demo.extractor(["logits"])(demo.preprocess(images))["logits"]
    np.testing.assert_allclose(peer(images * 255.0), expected, rtol=1e-5, atol=1e-5)
    assert peer.get_layer("logits").name == "logits"
