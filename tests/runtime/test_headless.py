"""A headless runtime: the bootstrap without UI or HTTP server runs a txt2img job through the one job queue.

The runtime is started in a fresh interpreter, so that what it imported can be checked: gradio, FastAPI and
the UI, API and server packages must not be needed to build it and generate.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys

from modules.models.tiny_factory import make_tiny_checkpoint
from modules.runtime.headless import start_headless
from modules.runtime.jobs import DONE, job_queue

data_dir = sys.argv[1]
make_tiny_checkpoint("sd1", f"{data_dir}/models/Stable-diffusion", name="tiny")
runtime = start_headless(["--data-dir", data_dir])

from modules import shared  # A1111's view shows the runtime's services

fields = dict(prompt="a photo of a cat", steps=2, width=64, height=64, sampler_name="Euler", seed=1)
processed = runtime.txt2img(task_id="task(headless-1)", **fields)
job = runtime.submit_txt2img(task_id="task(headless-2)", **fields)
job.done.wait(300)
second = job.take_result()
record = job_queue().get("task(headless-1)")

loaded = sorted(m for m in sys.modules
                if m.split(".")[0] in ("gradio", "fastapi", "starlette", "uvicorn")
                or m.startswith(("modules.ui", "modules.api", "modules.server", "modules.app_server")))
print("RESULT " + json.dumps({
    "model_load": runtime.startup.model_load,
    "shared_is_runtime": shared.opts is runtime.services.opts and shared.sd_model is runtime.services.sd_model,
    "sizes": [image.size for image in processed.images],
    "second_sizes": [image.size for image in second.images],
    "same_seed_same_picture": processed.images[0].tobytes() == second.images[0].tobytes(),
    "queued": record is not None and record.kind == "txt2img" and record.status == DONE,
    "second_status": job.status,
    "infotext": processed.infotexts[0],
    "loaded": loaded,
}))
"""


def test_headless_runtime_runs_txt2img_through_the_job_queue_without_ui_or_server(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "data")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stdout[-4000:] + result.stderr[-4000:]
    found = json.loads(lines[-1][len("RESULT "):])
    assert found["model_load"] == "loaded"
    assert found["shared_is_runtime"]
    assert found["sizes"] == [[64, 64]] and found["second_sizes"] == [[64, 64]]
    assert found["same_seed_same_picture"]
    assert found["queued"] and found["second_status"] == "done"
    assert "Steps: 2" in found["infotext"] and "Sampler: Euler" in found["infotext"]
    assert found["loaded"] == [], f"a headless runtime imported UI/server modules: {found['loaded']}"
