"""The atlas of a real demo sweep in headless Chromium (Debian's `chromium`, driven by Playwright)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import featviz as fv
from featviz import cli
from featviz.demo import generate

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)")


@pytest.fixture(scope="module")
def atlas(tmp_path_factory) -> Path:
    """A demo sweep of conv1's first 6 channels with dataset examples; its atlas directory."""
    root = tmp_path_factory.mktemp("browser")
    images, _ = generate(8, 64, seed=1)
    for i, image in enumerate(images):
        fv.save_png(root / "photos" / f"{i}.png", image)
    argv = ["sweep", str(ROOT / "featviz" / "configs" / "demo_sweep.gin"), "--logdir", str(root / "sweep"),
            "--layers", "conv1", "--examples", str(root / "photos"), "--gin_param=sweep.channels=6",
            "--gin_param=sweep.block_size=6", "--gin_param=Visualizer.steps=16"]
    assert cli.main(argv) == 0
    return root / "sweep" / "atlas"


def test_the_atlas_opens_from_disk_shows_every_render_and_links_to_unit_pages(atlas):
    manifest = fv.Manifest(atlas.parent, "demo", (atlas.parent / "sweep_config.gin").read_text())
    (entry,) = manifest.items.values()
    rendered = len(entry["units"]) - len(entry["failures"])
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((atlas / "index.html").as_uri())
        assert errors == []
        page.click("text=conv1")
        page.wait_for_load_state("load")
        loaded = page.eval_on_selector_all(
            ".grid img", "images => images.map(i => i.complete && i.naturalWidth > 0)")
        assert loaded == [True] * rendered
        page.click(".grid a >> nth=0")
        page.wait_for_load_state("load")
        assert page.eval_on_selector("img.full", "i => i.naturalWidth") == 64
        examples = page.eval_on_selector_all(".examples img", "images => images.map(i => i.naturalWidth > 0)")
        assert examples and all(examples)
        assert "Visualizer.seed = 0" in page.inner_text("pre")
        assert errors == []
        browser.close()
