"""Render the bundled demo stimuli for the Study and Results tabs (assets/study/demo/).

Run from the repository root: ``python -m scripts.make_demo_stimuli``. For each bundled scene
(standing in for a prompt) and each method that needs no generator — ``ours`` (layered lens),
``deepdof_taf`` (our all-in-focus scene through the TAF lens), ``drbokeh_lens`` (through the
Dr.Bokeh-style lens, a control) and ``no_lens`` (the unblurred scene, a control) — an aperture
sweep over the study stops, 512 px wide, 2 frames per stop, 135 mm focused at the scene's
suggested distance, no captions (the metrics read the frames). These are demo stimuli only: the
real study's stimuli come from the real models (see README).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

from dofgen import scenes
from dofgen.camera import STUDY_STOPS
from dofgen.pipeline import DefocusPipeline
from dofgen.video import aperture_sweep, write_mp4

ROOT = Path(__file__).resolve().parent.parent

OUT = ROOT / "assets" / "study" / "demo"
WIDTH = 512
FRAMES_PER_STOP = 2
#: A long lens focused at each scene's suggested distance: the background still blurs by
#: 2 px or more at f/22, so every stop differs visibly (and measurably, through H.264).
FOCAL_LENGTH_MM = 135.0
LENSES = {"ours": "layered", "deepdof_taf": "taf", "drbokeh_lens": "drbokeh"}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rows = [{"manifest": {"demo": True, "description": "Demo stimuli rendered from the bundled scenes; not the paper's study."}}]
    pipeline = DefocusPipeline(device="cpu")
    for name in scenes.list():
        scene = scenes.load(name)
        height = round(scene.image.height * WIDTH / scene.image.width / 2) * 2
        image = scene.image.resize((WIDTH, height))
        depth = F.interpolate(scene.depth[None, None], size=(height, WIDTH), mode="nearest")[0, 0]
        camera = scene.camera.replace(f_number=1.8, focal_length_mm=FOCAL_LENGTH_MM, sensor_width_mm=36.0)
        base = pipeline.from_image(image, depth, camera=camera, focus_distance=scene.meta["suggested_focus_m"])
        title = scene.meta.get("title", name)
        for method, lens in LENSES.items():
            result = replace(base, method=lens)
            frames = aperture_sweep(result, STUDY_STOPS, frames_per_stop=FRAMES_PER_STOP)
            video = write_mp4(frames, OUT / "videos" / f"{name}-{method}.mp4", fps=6)
            rows.append({"prompt_id": name, "prompt": title, "method": method, "video": f"videos/{video.name}", "frames_per_stop": FRAMES_PER_STOP})
            print(video, flush=True)
        frames = [base.all_in_focus] * (FRAMES_PER_STOP * (len(STUDY_STOPS) - 1) + 1)
        video = write_mp4(frames, OUT / "videos" / f"{name}-no_lens.mp4", fps=6)
        rows.append({"prompt_id": name, "prompt": title, "method": "no_lens", "video": f"videos/{video.name}", "frames_per_stop": FRAMES_PER_STOP})
    (OUT / "manifest.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(f"wrote {OUT / 'manifest.jsonl'}")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
