"""The pipeline of Figure A5: prompt → all-in-focus image → depth, saliency → focus → lens.

The scene (image, depth, saliency) is made once; :func:`refocus` re-runs only the lens, which
is what keeps a sweep's scene identical and the sliders interactive.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import torch
import torch.nn.functional as F
from PIL import Image

from dofgen.camera import CameraSettings
from dofgen.depth import DepthEstimator, fill_holes
from dofgen.focus import focus_distance as saliency_focus
from dofgen.focus_predictor import FocusPredictor, find_focus_predictor
from dofgen.generator import Generator
from dofgen.imageio import linear_to_pil, to_linear
from dofgen.lens import coc_diameter_px, render_linear
from dofgen.loading import resolve_device
from dofgen.saliency import SaliencyEstimator, SpectralResidualSaliency, subject_saliency

#: progress(stage, done, total): stage is "generate", "depth", "saliency" or "lens".
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DefocusResult:
    """One scene and one rendering of it.

    Attributes:
        all_in_focus: the generated (or given) image.
        depth: (H, W) metres.
        saliency: (H, W) in [0, 1].
        focus_distance: metres, used for ``image``.
        focus_source: where the focus distance came from ("saliency", "predictor", "user", "camera").
        camera: the camera ``image`` was rendered with (its focus distance included).
        image: the defocused image.
        method: the lens used.
        timings: seconds per stage.
        notes: things the user should know (truncated prompt, relative depth, ...).
    """

    all_in_focus: Image.Image
    depth: torch.Tensor
    saliency: torch.Tensor
    focus_distance: float
    focus_source: str
    camera: CameraSettings
    image: Image.Image
    method: str = "layered"
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def coc(self) -> torch.Tensor:
        """(H, W) signed circle of confusion in pixels for ``camera`` (derived from the depth)."""
        return coc_diameter_px(self.depth, self.camera, self.all_in_focus.width).cpu()


def on_device(result: DefocusResult, device: str | torch.device) -> DefocusResult:
    """``result`` with its depth and saliency on ``device`` (the lens runs where the depth is);
    on ``"cpu"`` it holds no CUDA tensor (what ZeroGPU can return and ``gr.State`` keep)."""
    return replace(result, depth=result.depth.to(device), saliency=result.saliency.to(device))


def resized(result: DefocusResult, max_side: int) -> DefocusResult:
    """``result``'s scene at most ``max_side`` px on its longer side (unchanged when smaller).

    The image is area-averaged (Lanczos), saliency area-averaged, depth sampled at the
    nearest pixel (averaging depth across an edge would invent surfaces between the two);
    blur in pixels scales with the width, so a render looks the same, smaller. The rendered
    ``image`` is resized too (no lens runs here).
    """
    width, height = result.all_in_focus.size
    if max(width, height) <= max_side:
        return result
    scale = max_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    depth = F.interpolate(result.depth[None, None], size=size[::-1], mode="nearest-exact")[0, 0]
    saliency = F.interpolate(result.saliency[None, None].float(), size=size[::-1], mode="area")[0, 0]
    return replace(
        result, all_in_focus=result.all_in_focus.resize(size, Image.Resampling.LANCZOS), depth=depth, saliency=saliency,
        image=result.image.resize(size, Image.Resampling.LANCZOS),
    )


def refocus(
    result: DefocusResult,
    camera: CameraSettings,
    focus_distance: float | None = None,
    method: str | None = None,
    *,
    blades: int = 0,
    highlight_boost: float | None = None,
    matte: torch.Tensor | None = None,
    focus_source: str | None = None,
    quality: str = "accurate",
    should_stop: Callable[[], bool] | None = None,
) -> DefocusResult:
    """Re-run only the lens on ``result``'s scene.

    ``focus_distance`` None keeps the result's focus; a value overrides it (and the
    camera's) and is recorded as the user's unless ``focus_source`` says otherwise.
    ``method`` None keeps the result's lens. ``highlight_boost`` None is the lens's default;
    ``quality`` ``"fast"`` suits live previews; ``should_stop`` stops a baseline lens's
    gather with :class:`dofgen.lens.RenderStopped` (see :func:`dofgen.lens.render`).
    """
    source = focus_source or (result.focus_source if focus_distance is None else "user")
    focus = result.focus_distance if focus_distance is None else float(focus_distance)
    camera = camera.replace(focus_distance_m=focus)
    method = method or result.method
    start = time.perf_counter()
    linear = to_linear(result.all_in_focus, result.depth.device)  # the lens runs where the depth is
    with torch.inference_mode():
        out = render_linear(linear, result.depth, camera, method, blades=blades, highlight_boost=highlight_boost, matte=matte, quality=quality, should_stop=should_stop)
    timings = dict(result.timings, lens=time.perf_counter() - start)
    return replace(result, focus_distance=focus, focus_source=source, camera=camera, image=linear_to_pil(out), method=method, timings=timings)


class Focus(NamedTuple):
    """A focus distance (metres) and where it came from ("saliency", "predictor", "user", ...)."""

    distance_m: float
    source: str


@dataclass
class Run:
    """One run of the pipeline: its progress callback, the notes for the user and the seconds
    per stage it gathers as it goes."""

    progress: Progress | None
    notes: list[str]
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time stage ``name`` into ``timings``, then report it done to ``progress``."""
        start = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - start
        if self.progress:
            self.progress(name, 1, 1)

    def steps(self, name: str) -> Callable[[int, int], None] | None:
        """A per-step callback for stage ``name`` (None without ``progress``)."""
        progress = self.progress
        return (lambda done, total: progress(name, done, total)) if progress else None

    def scene(self, image: Image.Image, depth: torch.Tensor, saliency: torch.Tensor, focus: Focus, camera: CameraSettings, method: str) -> DefocusResult:
        """The scene before the lens (``image`` is the all-in-focus image), focused at ``focus``."""
        return DefocusResult(
            all_in_focus=image, depth=depth, saliency=saliency, focus_distance=focus.distance_m, focus_source=focus.source,
            camera=camera.replace(focus_distance_m=focus.distance_m), image=image, method=method,
            timings=dict(self.timings), notes=tuple(self.notes),
        )


class DefocusPipeline:
    """Generator, depth and saliency models composed as in Figure A5.

    Any component may be None: without a generator only :meth:`from_image` works; without a
    depth model :meth:`from_image` needs a depth map; without a saliency model, spectral
    residual is used. A trained focus predictor, when given, replaces saliency-weighted
    focus. The lens runs on ``device`` (default: CUDA when available).
    """

    def __init__(
        self,
        generator: Generator | None = None,
        depth: DepthEstimator | None = None,
        saliency: SaliencyEstimator | SpectralResidualSaliency | None = None,
        device: str | torch.device | None = None,
        focus_predictor: FocusPredictor | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.generator = generator
        self.focus_predictor = focus_predictor
        self.depth = depth
        self.saliency = saliency or SpectralResidualSaliency()
        self.notes = (
            ["subject found from depth and spectral residual: the saliency model could not load (set DOFGEN_SALIENCY)"]
            if getattr(self.saliency, "reason", "") else []
        )

    @classmethod
    def from_pretrained(
        cls,
        generator: str | None = None,
        depth: str | None = None,
        saliency: str | None = None,
        device: str | torch.device | None = None,
    ) -> "DefocusPipeline":
        """Load each component from a hub id or folder (None: the configured default;
        saliency ``"spectral"``: no weights); a ``focus_predictor/`` folder in the generator's
        checkpoint is loaded too."""
        from dofgen import depth as depth_module
        from dofgen import generator as generator_module
        from dofgen.saliency import load_saliency

        generator = generator or generator_module.model_id_from_env()
        return cls(
            generator=generator_module.load_from_env(generator, device=device),
            depth=DepthEstimator.from_pretrained(depth or depth_module.model_id_from_env(), device=device),
            saliency=load_saliency(saliency),
            device=device,
            focus_predictor=find_focus_predictor(generator, device),
        )

    def __call__(
        self,
        prompt: str,
        camera: CameraSettings,
        seed: int = 0,
        focus_distance: float | None = None,
        method: str = "layered",
        *,
        width: int | None = None,
        height: int | None = None,
        progress: Progress | None = None,
    ) -> DefocusResult:
        """Generate the scene for ``prompt`` and render it through the lens with ``camera``;
        ``width``/``height`` default to the generator's native size."""
        generator = self._generator()
        run = Run(progress, self.notes + (generator.prompt_notes(prompt) if isinstance(prompt, str) and prompt.strip() else []))
        image = self.generate(prompt, camera, seed, width, height, run)
        depth = self.estimate_depth(image, None, run)
        saliency = self.estimate_saliency(image, depth, run)
        focus = self.choose_focus(image, depth, saliency, camera, focus_distance)
        return self.render(run.scene(image, depth, saliency, focus, camera, method), run)

    def from_image(
        self,
        image: Image.Image,
        depth: torch.Tensor | None = None,
        camera: CameraSettings | None = None,
        focus_distance: float | None = None,
        method: str = "layered",
        progress: Progress | None = None,
        focus_source: str = "user",
        render: bool = True,
    ) -> DefocusResult:
        """A user's photo: the camera from its EXIF unless given, depth ((H, W) metres) from
        the model unless given; ``focus_source`` names where a given ``focus_distance`` came
        from. ``render=False`` stops before the lens (``image`` is then the all-in-focus
        image), for callers that render the scene at another size first."""
        run = Run(progress, list(self.notes))
        if camera is None:
            exif = CameraSettings.from_exif(image)
            camera = exif.camera
            run.notes.append(f"camera from EXIF: {', '.join(exif.from_exif)}" if exif.from_exif else "no usable EXIF; default camera")
        image = image.convert("RGB")
        depth = self.estimate_depth(image, depth, run)
        saliency = self.estimate_saliency(image, depth, run)
        focus = self.choose_focus(image, depth, saliency, camera, focus_distance, focus_source)
        scene = run.scene(image, depth, saliency, focus, camera, method)
        return self.render(scene, run) if render else scene

    def _generator(self) -> Generator:
        if self.generator is None:
            raise RuntimeError("this pipeline has no generator; set DOFGEN_GENERATOR or use from_image()")
        return self.generator

    def generate(self, prompt: str, camera: CameraSettings, seed: int, width: int | None, height: int | None, run: Run) -> Image.Image:
        """The all-in-focus image x for ``prompt`` (at the generator's native size unless given)."""
        generator = self._generator()
        native = generator.native_size()
        with run.stage("generate"):
            return generator.generate(
                prompt, seed, camera, width or native["width"], height or native["height"], progress=run.steps("generate")
            )

    def estimate_depth(self, image: Image.Image, depth: torch.Tensor | None, run: Run) -> torch.Tensor:
        """Depth D of ``image``, (H, W) metres on ``device``: from the depth model, or ``depth``
        ((H, W) or any shape with H x W elements, metres) checked and its holes filled."""
        with run.stage("depth"):
            if depth is not None:
                return self._given_depth(image, depth, run.notes).to(self.device)
            if self.depth is None:
                raise RuntimeError("no depth map was given and no depth model is loaded; set DOFGEN_DEPTH")
            estimate = self.depth(image)
            if not estimate.metric:
                run.notes.append(estimate.conversion)
            return estimate.depth.to(self.device)

    @staticmethod
    def _given_depth(image: Image.Image, depth: torch.Tensor, notes: list[str]) -> torch.Tensor:
        """A given (..., H, W) depth as (H, W), its holes filled (and noted)."""
        if tuple(depth.shape[-2:]) != (image.height, image.width):
            raise ValueError(f"depth {tuple(depth.shape[-2:])} does not match the image {(image.height, image.width)}")
        depth, holes = fill_holes(depth.reshape(image.height, image.width))
        if holes:
            notes.append(f"{holes} depth holes filled")
        return depth

    def estimate_saliency(self, image: Image.Image, depth: torch.Tensor, run: Run) -> torch.Tensor:
        """Saliency S of ``image``, (H, W) in [0, 1] on the CPU; a model that needs it gets the
        subject prior from ``depth`` ((H, W) metres)."""
        with run.stage("saliency"):
            saliency = self.saliency(image)
            if getattr(self.saliency, "needs_subject_prior", False):
                saliency = subject_saliency(saliency.to(depth.device), depth).cpu()
            return saliency

    def choose_focus(
        self,
        image: Image.Image,
        depth: torch.Tensor,
        saliency: torch.Tensor,
        camera: CameraSettings,
        focus_distance: float | None = None,
        focus_source: str = "user",
    ) -> Focus:
        """Focus distance F: ``focus_distance`` when given (from ``focus_source``), else the
        focus predictor's or the saliency-weighted depth of (H, W) ``depth`` and ``saliency``,
        at least 1.5 focal lengths away."""
        if focus_distance is not None:
            return Focus(float(focus_distance), focus_source)
        if self.focus_predictor is not None:
            focus = Focus(self.focus_predictor.predict(image, depth), "predictor")
        else:
            focus = Focus(saliency_focus(depth, saliency), "saliency")
        return focus._replace(distance_m=max(focus.distance_m, float(camera.focal_length_mm) / 1000.0 * 1.5))

    def render(self, scene: DefocusResult, run: Run) -> DefocusResult:
        """The shallow depth-of-field image x̂ of ``scene`` through the lens, with its camera."""
        with run.stage("lens"):
            return refocus(scene, scene.camera)
