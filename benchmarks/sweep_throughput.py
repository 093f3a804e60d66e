"""Sweep throughput in channels per minute: local vs Ray executors, and against block size.

Each measurement runs the `sweep` job in-process into a fresh directory and times it (model
loading, tracing every block and rendering; for Ray also the actors' start, each importing
TensorFlow and loading the model, but not `ray.init`, a cluster's one-time cost). One JSON line
per measurement is appended to --out.

    python benchmarks/sweep_throughput.py demo-local demo-ray blocks mobilenet-local mobilenet-ray
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import gin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import featviz  # noqa: E402,F401 - registers the configurables
from featviz.jobs import Run  # noqa: E402
from featviz.sweep import LocalExecutor, RayExecutor, sweep  # noqa: E402

DEMO = str(ROOT / "featviz" / "configs" / "demo_sweep.gin")
IMAGENET = str(ROOT / "featviz" / "configs" / "imagenet_sweep.gin")


def measure(name: str, config: str, params: list[str], backend: str) -> dict:
    gin.clear_config()
    gin.parse_config_files_and_bindings([config], params)
    with tempfile.TemporaryDirectory() as directory, gin.unlock_config():
        executor = RayExecutor(num_cpus=1) if backend == "ray" else LocalExecutor()
        start = time.perf_counter()
        manifest = sweep(Run(Path(directory)), executor=executor)
        seconds = time.perf_counter() - start
    channels = sum(len(entry["units"]) for entry in manifest.items.values())
    render = sum(entry["seconds"] for entry in manifest.items.values())
    return {"name": name, "backend": backend, "params": params, "channels": channels,
            "seconds": round(seconds, 1), "render_seconds": round(render, 1),
            "channels_per_minute": round(channels / seconds * 60, 2), "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="+", choices=["demo-local", "demo-ray", "blocks", "mobilenet-local", "mobilenet-ray"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sweep_throughput.jsonl"))
    parser.add_argument("--demo_steps", type=int, default=128)
    parser.add_argument("--mobilenet_steps", type=int, default=32)
    args = parser.parse_args()
    demo = [f"Visualizer.steps={args.demo_steps}"]
    mobilenet = ["load_model.weights=None", "sweep.layers=['conv_pw_1']", f"Visualizer.steps={args.mobilenet_steps}"]
    runs = []
    for what in args.what:
        if what.startswith("demo"):
            runs.append((what, DEMO, demo, what.split("-")[1]))
        elif what.startswith("mobilenet"):
            runs.append((what, IMAGENET, mobilenet, what.split("-")[1]))
        else:
            runs += [(f"block-{size}", DEMO, [*demo, "sweep.layers=['conv3']", "sweep.channels=32",
                                              f"sweep.block_size={size}"], "local") for size in (32, 16, 4, 1)]
    if any(backend == "ray" for *_, backend in runs):
        import ray

        ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    for run in runs:
        result = measure(*run)
        print(json.dumps(result), flush=True)
        with open(args.out, "a") as out:
            out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
