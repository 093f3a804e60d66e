"""The command line: runs, outputs, the atlas configs, layer listing and user errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from featviz import cli, configs

ATLAS_CONFIGS = sorted(configs.DIRECTORY.glob("*_atlas.gin"))
# keras.applications models get random weights offline (same as tests/test_shipped_configs.py).
OFFLINE = ["load_model.weights=None"]


def _run(tmp_path: Path, *argv: str) -> int:
    return cli.main(["run", *argv, "--logdir", str(tmp_path / "run")])


def test_quickstart_writes_images_events_and_operative_config(tmp_path, capsys):
    assert _run(tmp_path, "quickstart", "--gin_param=Visualizer.steps=4") == 0
    run = tmp_path / "run"
    names = {p.name for p in run.iterdir()}
    assert {"grid.png", "animation.gif", "history.npz", "operative_config.gin",
            "00_ClassLogit_vertical_stripes.png", "05_ClassLogit_polka_dots.png"} <= names
    assert any(name.startswith("events.out.tfevents") for name in names)
    operative = (run / "operative_config.gin").read_text()
    assert "Visualizer.steps = 4" in operative and "dots/ClassLogit.target = 'polka_dots'" in operative
    assert "done; outputs in" in capsys.readouterr().out


def test_gin_param_overrides_the_first_class(tmp_path):
    argv = ["quickstart", "--gin_param=Visualizer.steps=2",
            "--gin_param=ClassLogit.target='horizontal_stripes'"]
    assert _run(tmp_path, *argv) == 0
    assert (tmp_path / "run" / "00_ClassLogit_horizontal_stripes.png").exists()


def test_a_gin_typo_names_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.gin"
    bad.write_text("import featviz\nVisualizer.stepz = 3\n")
    with pytest.raises(SystemExit, match=r"(?s)invalid gin configuration.*stepz.*bad.gin\", line 2"):
        _run(tmp_path, str(bad))


def test_missing_config_and_existing_run_directory_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="gin config 'nope.gin': no such file and no shipped config of that name; the shipped configs are .*activation_maps, .*quickstart"):
        _run(tmp_path, "nope.gin")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "grid.png").write_text("earlier run")
    with pytest.raises(SystemExit, match="already exists and is not empty.*--overwrite"):
        _run(tmp_path, "quickstart")
    assert _run(tmp_path, "quickstart", "--gin_param=Visualizer.steps=1", "--overwrite") == 0


def test_layers_lists_shapes_and_channels(capsys):
    assert cli.main(["layers", "demo"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["layer", "type", "output", "shape", "channels", "rf", "size", "rf", "stride"]
    conv1 = next(line for line in lines if line.startswith("conv1 "))
    assert "Conv2D" in conv1 and conv1.split()[-2:] == ["3x3", "1"]


def test_unknown_model_is_a_one_line_error(capsys):
    assert cli.main(["layers", "vgg17"]) == 2
    assert "vgg17" in capsys.readouterr().err


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "run" in out and "layers" in out


# The atlas smoke runs: a few images, a 3x3 grid, 2 icon steps, on random weights offline.
ATLAS_SMOKE = ["collect_activations.positions_per_image=4", "activation_atlas.grid_size=3",
               "Visualizer.steps=2", "activation_atlas.projector_points=20", *OFFLINE]
ATLAS_PARAMS = [pytest.param(path, marks=pytest.mark.slow) if "imagenet" in path.name else path
                for path in ATLAS_CONFIGS]


@pytest.mark.parametrize("config", ATLAS_PARAMS, ids=lambda p: p.name)
def test_every_shipped_atlas_config_runs_by_bare_name(config, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the imagenet config's images/ is found beside the config
    # The ImageNet smoke run skips the 1000-class attribution Jacobians (most of its time);
    # tests/collection checks attributions on the demo model.
    params = [*ATLAS_SMOKE, "DemoImages.count=40"] if "demo" in config.name else [
        *ATLAS_SMOKE, "collect_activations.batch_size=2", "collect_activations.attribution=False"]
    assert _run(tmp_path, config.stem, *[f"--gin_param={p}" for p in params]) == 0
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"atlas.png", "atlas.html", "layout.npz", "cells.csv", "projector", "operative_config.gin"} <= names
    if "imagenet" in config.name:
        assert "(1 skipped)" in capsys.readouterr().out  # featviz/configs/images/README.md


def test_atlas_shorthands_bind_the_layer_and_the_images(tmp_path, capsys):
    argv = ["atlas", "demo_atlas", "--logdir", str(tmp_path / "run"), "--overwrite"]
    assert cli.main([*argv, "--layer", "conv9"]) == 2
    assert "has no layer 'conv9'" in capsys.readouterr().err
    missing = tmp_path / "no-such-folder"
    assert cli.main([*argv, "--images", str(missing)]) == 2
    assert f"image folder {str(missing)!r} does not exist" in capsys.readouterr().err


def test_atlas_rerun_resumes_and_overwrite_starts_afresh(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["atlas", "demo_atlas", *[f"--gin_param={p}" for p in [*ATLAS_SMOKE, "DemoImages.count=16"]]]
    assert cli.main(argv) == 0
    run = tmp_path / "runs" / "demo_atlas"  # no time stamp: the next run finds it
    shards = sorted((run / "collection").glob("*.npz"))
    assert shards and (run / "icons" / "manifest.json").is_file()
    written = {path: path.stat().st_mtime_ns for path in [*shards, run / "icons" / "manifest.json"]}
    assert cli.main(argv) == 0  # a resume: nothing collected or rendered again
    assert {path: path.stat().st_mtime_ns for path in written} == written
    assert cli.main([*argv, "--overwrite"]) == 0
    assert all(path.stat().st_mtime_ns != mtime for path, mtime in written.items())
