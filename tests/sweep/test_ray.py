"""The Ray backend: the same images as the local executor, and kill-and-resume exactly once."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import featviz as fv
from featviz import cli
from featviz.render import StopToken
from featviz.sweep import LocalExecutor, RayExecutor, channel_items
from sweeping import ROOT, SMALL, kill_after, manifest_items, parse_demo_sweep, start_sweep

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    """A local two-CPU Ray instance for the module, its workers importing this checkout."""
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    yield
    ray.shutdown()


def test_ray_actors_render_the_images_of_the_local_executor(cluster, demo):
    config = parse_demo_sweep()
    items = channel_items(demo, ["conv1"], 4, block_size=2)
    local = {r.item.id: r for r in LocalExecutor(demo).map(items, config, StopToken())}
    remote = {r.item.id: r for r in RayExecutor(num_cpus=1, workers=1).map(items, config, StopToken())}
    assert sorted(remote) == sorted(local) == sorted(item.id for item in items)
    for item_id, result in local.items():
        np.testing.assert_array_equal(remote[item_id].images, result.images)
        np.testing.assert_array_equal(remote[item_id].curves, result.curves)


@pytest.mark.slow
def test_a_ray_sweep_killed_mid_way_and_rerun_renders_every_channel_once(cluster, tmp_path):
    logdir = tmp_path / "sweep"
    killed_with = kill_after(start_sweep(logdir, "--backend", "ray", "--gin_param=RayExecutor.workers=1"), logdir, items=1)
    before = manifest_items(logdir)
    assert 1 <= killed_with < 4
    argv = ["sweep", str(ROOT / "featviz" / "configs" / "demo_sweep.gin"), "--logdir", str(logdir),
            "--backend", "ray", "--gin_param=RayExecutor.workers=1", *[f"--gin_param={p}" for p in SMALL]]
    assert cli.main(argv) == 0
    after = manifest_items(logdir)
    assert Counter(u for e in after.values() for u in e["units"]) == Counter(range(8))
    # The items finished before the kill were kept, not rendered again.
    assert all(after[item_id] == entry for item_id, entry in before.items())
    for entry in after.values():
        for image in entry["images"]:
            assert fv.load_image(logdir / "atlas" / image).shape == (64, 64, 3)
