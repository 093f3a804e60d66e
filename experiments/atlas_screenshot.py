"""The README's atlas screenshot: one layer page of a demo sweep, in headless Chromium.

    featviz sweep demo_sweep --layers conv3 --logdir runs/demo_sweep_conv3
    python experiments/atlas_screenshot.py runs/demo_sweep_conv3/atlas conv3 experiments/figures/atlas_layer.png
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("atlas", type=Path)
    parser.add_argument("layer")
    parser.add_argument("out", type=Path)
    parser.add_argument("--width", type=int, default=900, help="viewport width in CSS pixels")
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": args.width, "height": 600})
        page.goto((args.atlas / "groups" / f"{args.layer}.html").resolve().as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=str(args.out), full_page=False)
        browser.close()
    # A small palette PNG keeps the repository light.
    Image.open(args.out).convert("RGB").quantize(128).save(args.out, optimize=True)


if __name__ == "__main__":
    main()
