"""The Explore tab's components, laid out: the picture and the camera controls on the left,
the ways to make a scene and the lens options on the right, the sweeps and maps below."""

from __future__ import annotations

from dataclasses import dataclass, fields

import gradio as gr

from dofgen import scenes
from dofgen.camera import STANDARD_STOPS
from dofgen.lens import DEFAULT_HIGHLIGHT_BOOST
from dofgen.ui.baseline import BASELINE_BUDGET_S
from dofgen.ui.compare import COMPARE_F_NUMBER
from dofgen.ui.controls import BLADE_CHOICES, METHOD_LABELS, Controls
from dofgen.ui.scales import SCALES_CSS
from dofgen.ui.uploads import DEPTH_LIMITS, PHOTO_LIMITS
from dofgen.ui.views import FOCUS_LIMITS_M

#: CSS: the picture and the sweep sized to their content (no letterbox bars in a fixed box),
#: at most 70 % of the window's height (48 % on a phone, so the sliders show under it); the
#: picture's label and toolbar in a row above it, never over its corners; the scene maps whole,
#: each at its own aspect ratio, all four in view without a scroll box, captions under them.
CSS = SCALES_CSS + """
#explore-image, #explore-video { height: auto !important; }
#explore-image { padding-top: 34px !important; }
#explore-image > label[data-testid=block-label] { top: 0; left: 0; }
#explore-image .image-container { position: static; }
#explore-image .image-container > .icon-button-wrapper { top: 2px; right: 2px; }
#explore-maps .grid-wrap { height: auto !important; max-height: none !important; overflow: visible !important; }
#explore-maps .thumbnail-item { aspect-ratio: auto !important; height: auto !important; }
#explore-maps .thumbnail-item img { width: 100%; height: auto !important; object-fit: contain; }
#explore-maps .thumbnail-item .caption-label { position: static !important; max-width: none; text-align: center; border: none; }
#explore-image .image-container, #explore-image img, #explore-video video { max-height: min(70vh, 620px); height: auto; }
@media (max-width: 640px) {
  #explore-image .image-container, #explore-image img, #explore-video video { max-height: 48vh; }
}
"""
Parts = dict[str, gr.components.Component]


@dataclass(frozen=True)
class ExploreLayout:
    """The tab's components; the lens controls are named as the fields of :class:`Controls`."""

    state: gr.State
    image: gr.Image
    focus_info: gr.Markdown
    f_number: gr.Slider
    focal_length_mm: gr.Slider
    auto_focus: gr.Checkbox
    focus_distance_m: gr.Slider
    png_button: gr.Button
    png_file: gr.File
    compare_button: gr.Button
    compare: gr.ImageSlider
    scene: gr.Dropdown
    caption: gr.Markdown
    prompt: gr.Textbox
    seed: gr.Number
    generate: gr.Button
    photo: gr.File
    photo_preview: gr.Image
    depth_file: gr.File
    use: gr.Button
    notes: gr.Markdown
    blades: gr.Radio
    highlight_boost: gr.Slider
    method_label: gr.Radio
    cancel: gr.Button
    sweep_aperture: gr.Button
    sweep_focus: gr.Button
    cancel_sweep: gr.Button
    video: gr.Video
    maps_button: gr.Button
    maps: gr.Gallery

    def controls(self) -> list[gr.components.Component]:
        """The inputs of a lens view, in the order of :class:`Controls`."""
        return [getattr(self, field.name) for field in fields(Controls)]

    def view_outputs(self) -> list[gr.components.Component]:
        """What a lens view updates: state, picture, focus line, focus slider."""
        return [self.state, self.image, self.focus_info, self.focus_distance_m]

    def scene_outputs(self, caption: gr.Markdown) -> list[gr.components.Component]:
        """What a new scene updates, its caption or notes in ``caption``."""
        return [
            self.state, self.image, self.focus_info, caption, self.f_number, self.focal_length_mm,
            self.focus_distance_m, self.auto_focus, self.video, self.png_file,
        ]


def build_layout() -> ExploreLayout:
    """Lay out the Explore tab inside the current ``gr.Blocks``."""
    state = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            picture = _picture_and_camera()
        with gr.Column(scale=2, min_width=280):
            sources = _scene_sources()
            lens = _lens_options()
    return ExploreLayout(state=state, **picture, **sources, **lens, **_sweeps_and_maps())


def _picture_and_camera() -> Parts:
    image = gr.Image(
        label="Refocused — click to focus there", type="filepath", elem_id="explore-image",
        interactive=False, height="min(70vh, 620px)",
    )
    focus_info = gr.Markdown(elem_id="explore-focus-info")
    f_number = gr.Slider(
        STANDARD_STOPS[0], STANDARD_STOPS[-1], value=2.8, step=0.1, label="Aperture (f-number)",
        info="Smaller: more blur. The track is even in stops, full stops marked; arrow keys move a third of a stop, Page Up/Down a full stop; the box takes any f-number.",
        elem_id="explore-aperture",
    )
    focal = gr.Slider(
        4, 200, value=50, step=0.1, label="Focal length (mm)", elem_id="explore-focal-length",
        info="Changes the blur, not the framing: the picture stays as taken. Under the picture: the full-frame equivalent.",
    )
    with gr.Row():
        auto = gr.Checkbox(value=True, label="Automatic focus (on the subject)", elem_id="explore-auto-focus", min_width=160)
    focus = gr.Slider(*FOCUS_LIMITS_M, value=2.0, step=0.01, label="Focus distance (m)", info="Moving it turns automatic focus off. The track runs like a focus ring (even in 1/distance) from the scene's nearest surface to ∞; type metres in the box.", elem_id="explore-focus")
    with gr.Row():
        compare_button = gr.Button(f"Compare with f/{COMPARE_F_NUMBER:g}", size="sm", elem_id="explore-compare-button")
        png_button = gr.Button("Full-resolution PNG", size="sm", elem_id="explore-png-button")
        png_file = gr.File(label="PNG", elem_id="explore-png", height=60, visible=False)
    compare = gr.ImageSlider(type="filepath", format="jpeg", elem_id="explore-compare", interactive=False, visible=False, buttons=["fullscreen"])
    return dict(
        image=image, focus_info=focus_info, f_number=f_number, focal_length_mm=focal, auto_focus=auto,
        focus_distance_m=focus, png_button=png_button, png_file=png_file, compare_button=compare_button, compare=compare,
    )


def _scene_sources() -> Parts:
    names = scenes.list()
    with gr.Tabs():
        with gr.Tab("Bundled scene"):
            first = scenes.DEFAULT if scenes.DEFAULT in names else next(iter(names), None)
            scene = gr.Dropdown(names, value=first, label="Scene", elem_id="explore-scene")
            caption = gr.Markdown()
        with gr.Tab("Generate"):
            prompt = gr.Textbox(label="Prompt", placeholder="a corgi on a sunny lawn", lines=2, elem_id="explore-prompt")
            seed = gr.Number(value=0, precision=0, minimum=0, label="Seed", elem_id="explore-seed")
            generate = gr.Button("Generate", variant="primary", elem_id="explore-generate")
            gr.Markdown("Makes an all-in-focus image with a few-step SDXL at its native size, then its depth; the lens adds the blur. The models load on first use.")
        with gr.Tab("Your photo"):
            photo = gr.File(label=f"Photo ({PHOTO_LIMITS}); its EXIF sets the camera", file_types=["image"], elem_id="explore-upload", height=90)
            photo_preview = gr.Image(label="As it will be used", interactive=False, elem_id="explore-upload-preview", height=200)
            depth_file = gr.File(label=f"Depth map, optional ({DEPTH_LIMITS})", file_types=[".npy", ".npz", ".png"], elem_id="explore-depth-upload", height=90)
            use = gr.Button("Use this photo", variant="primary", elem_id="explore-use-photo")
    return dict(
        scene=scene, caption=caption, prompt=prompt, seed=seed, generate=generate, photo=photo,
        photo_preview=photo_preview, depth_file=depth_file, use=use,
    )


def _lens_options() -> Parts:
    notes = gr.Markdown(elem_id="explore-notes")
    blades = gr.Radio(BLADE_CHOICES, value="Circle", label="Aperture blades", elem_id="explore-blades")
    boost = gr.Slider(0.0, 2.0, value=DEFAULT_HIGHLIGHT_BOOST, step=0.05, label="Highlight boost", info="Bright lights bloom into bokeh discs.", elem_id="explore-highlights")
    method = gr.Radio(
        list(METHOD_LABELS), value=next(iter(METHOD_LABELS)), label="Lens",
        info=f"The baselines gather per pixel: they render in their own queue, at a size that keeps them under about {BASELINE_BUDGET_S:.0f} s.",
        elem_id="explore-method",
    )
    cancel = gr.Button("Cancel the baseline render", size="sm", elem_id="explore-cancel", variant="stop", visible=False)
    return dict(notes=notes, blades=blades, highlight_boost=boost, method_label=method, cancel=cancel)


def _sweeps_and_maps() -> Parts:
    with gr.Row():
        sweep_aperture = gr.Button("Aperture sweep (f/1.8 → f/22)", elem_id="explore-sweep-aperture", variant="primary")
        sweep_focus = gr.Button("Focus sweep (near → far)", elem_id="explore-sweep-focus")
        cancel_sweep = gr.Button("Cancel the sweep", elem_id="explore-cancel-sweep", variant="stop", visible=False)
    video = gr.Video(label="Sweep", elem_id="explore-video", autoplay=True, loop=True, interactive=False, height="min(70vh, 620px)", visible=False)
    with gr.Accordion("Scene maps: all in focus, depth, saliency, circle of confusion", open=False):
        maps_button = gr.Button("Show the maps for the current view", elem_id="explore-maps-button")
        maps = gr.Gallery(columns=2, height="auto", object_fit="contain", elem_id="explore-maps", show_label=False)
    return dict(sweep_aperture=sweep_aperture, sweep_focus=sweep_focus, cancel_sweep=cancel_sweep, video=video, maps_button=maps_button, maps=maps)
