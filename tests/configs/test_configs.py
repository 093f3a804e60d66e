"""Shipped configs by bare name, their header lines, and relative paths that mean "beside the config"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import gin
import numpy as np
import pytest

import _featviz_console
import featviz as fv  # noqa: F401  (registers the configurable names the configs use)
from featviz import cli, configs

ROOT = Path(__file__).resolve().parents[2]


def test_a_bare_name_finds_the_shipped_config_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert configs.find("quickstart") == configs.DIRECTORY / "quickstart.gin"
    assert configs.find("quickstart.gin") == configs.DIRECTORY / "quickstart.gin"
    (tmp_path / "quickstart.gin").write_text("Visualizer.steps = 1\n")
    assert configs.find("quickstart.gin") == Path("quickstart.gin")  # a file that exists wins
    with pytest.raises(FileNotFoundError, match=r"'quikstart': no such file and no shipped config "
                                                r"of that name; the shipped configs are .*demo_classes.*quickstart"):
        configs.find("quikstart")
    with pytest.raises(FileNotFoundError, match=r"'sub/quickstart.gin': no such file; the shipped"):
        configs.find("sub/quickstart.gin")


def test_shipped_lists_every_config_with_its_first_header_line(capsys):
    shipped = configs.shipped()
    assert set(shipped) == {path.stem for path in configs.DIRECTORY.glob("*.gin")} >= {"quickstart", "demo_classes"}
    assert shipped["quickstart"].startswith("featviz quickstart: class visualization on the bundled demo model")
    assert all(header and not header.startswith("#") for header in shipped.values())
    assert cli.main(["configs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:len(shipped)]] == sorted(shipped)
    assert any(line.startswith("quickstart ") and shipped["quickstart"] in line for line in lines)


def test_sample_images_ship_with_the_package():
    assert configs.sample_image("astronaut") == configs.sample_image("astronaut.jpg") == configs.IMAGES / "astronaut.jpg"
    assert fv.load_image(configs.sample_image("chelsea")).shape[-1] == 3
    with pytest.raises(ValueError, match="no sample image 'nasa'; the shipped ones are astronaut, chelsea"):
        configs.sample_image("nasa")


@pytest.fixture
def user_configs(tmp_path: Path) -> Path:
    """A user's experiment folder: a config including a base beside it, images in a sub-folder."""
    folder = tmp_path / "experiment"
    (folder / "pics").mkdir(parents=True)
    fv.save_png(folder / "pics" / "cat.png", np.full((8, 8, 3), 0.5, np.float32))
    (folder / "base.gin").write_text("import featviz\nIMAGE = 'pics/cat.png'\nVisualizer.steps = 3\n")
    (folder / "main.gin").write_text(
        "include 'base.gin'\n"
        "Fourier.init = %IMAGE\n"
        "ImageSaver.labels = ['pics/cat.png', 'no/such.png']\n"  # a list: only the existing file changes
        "Visualizer.callbacks = [@ImageSaver()]\n"
    )
    return folder


def test_relative_paths_in_configs_mean_beside_the_config(user_configs, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    configs.parse([user_configs / "main.gin"])
    cat = str(user_configs / "pics" / "cat.png")
    assert gin.query_parameter("IMAGE/macro.value") == cat  # bound in the included file
    assert gin.query_parameter("ImageSaver.labels") == [cat, "no/such.png"]
    assert str(gin.query_parameter("Fourier.init")) == "%IMAGE"  # references are kept as written
    assert gin.query_parameter("Visualizer.steps") == 3


def test_command_line_bindings_stay_relative_to_the_working_directory(user_configs, monkeypatch):
    monkeypatch.chdir(user_configs.parent)
    configs.parse([user_configs / "main.gin"], ["IMAGE = 'pics/cat.png'"])
    assert gin.query_parameter("IMAGE/macro.value") == "pics/cat.png"


def test_an_include_shadowed_by_the_working_directory_is_refused(user_configs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.gin").write_text("Visualizer.steps = 99\n")
    with pytest.raises(ValueError, match=r"main.gin, line 1: include 'base.gin' would read 'base.gin' "
                                         r"from the working directory instead of '.*experiment/base.gin'"):
        configs.parse([user_configs / "main.gin"])
    with pytest.raises(SystemExit, match="invalid gin configuration: .*would read 'base.gin'"):
        cli.main(["run", str(user_configs / "main.gin"), "--logdir", str(tmp_path / "run")])


def test_a_missing_include_names_the_config_and_line(tmp_path):
    (tmp_path / "a.gin").write_text("Visualizer.steps = 1\ninclude 'missing.gin'\n")
    with pytest.raises(FileNotFoundError, match=r"a.gin, line 2: included file 'missing.gin' is neither"):
        configs.read([tmp_path / "a.gin"])


def test_the_console_script_hides_tensorflow_start_up_logs_unless_asked(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    with pytest.raises(SystemExit):
        _featviz_console.main(["--verbose", "--version"])
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    with pytest.raises(SystemExit):
        _featviz_console.main(["--version"])
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # the user's own setting is kept
    with pytest.raises(SystemExit):
        _featviz_console.main(["--version"])
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


def test_the_console_script_starts_without_tensorflow_noise(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-m", "_featviz_console", "configs"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "quickstart" in result.stdout


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"featviz {fv.__version__}"
