"""dofgen: fine-grained defocus blur control — the Gradio app (a Hugging Face Space)."""

import os

import gradio as gr

from dofgen import __version__
from dofgen.ui.explore import MAX_UPLOAD_BYTES, build_explore_tab
from dofgen.ui.results import build_results_tab
from dofgen.ui.study import HEAD, build_study_tab, env_flag, reserve_queue

TITLE = "dofgen — fine-grained defocus blur control"
#: Queue: up to 4 lens renders at once (sliders), 1 sweep and 1 generation at a time, each
#: in its own group, so a long sweep never holds a slider back; 64 requests wait at most.
QUEUE = dict(default_concurrency_limit=2, max_size=64)


def build_app() -> gr.Blocks:
    """Compose the app's tabs (``STUDY_ONLY=1``: the study for participants, results for researchers)."""
    if env_flag("STUDY_ONLY"):
        return build_study_app()
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(
            f"# {TITLE}\n"
            "Refocus a scene the way a camera would: aperture, focal length and focus distance "
            f"drive a thin-lens, occlusion-aware blur. (dofgen {__version__}, after arXiv 2510.06215)"
        )
        with gr.Tab("Explore"):
            build_explore_tab(demo)
        with gr.Tab("Study"):
            build_study_tab(demo)
        with gr.Tab("Results"):
            build_results_tab(demo)
    return demo


def build_study_app() -> gr.Blocks:
    """While a study runs: participants get the Study alone at ``/``; researchers open
    ``/researcher`` (not linked) for the token-gated Results."""
    with gr.Blocks(title="A short video study") as demo:
        build_study_tab(demo)
    with demo.route("Researcher", "researcher", show_in_navbar=False):
        build_results_tab(demo)
    return demo


def launch(demo: gr.Blocks, **kwargs) -> gr.Blocks:
    """Queue and launch with the app's limits (uploads up to 20 MB)."""
    reserve_queue(demo.queue(**QUEUE)).launch(max_file_size=MAX_UPLOAD_BYTES, head=HEAD, **kwargs)
    return demo


if __name__ == "__main__":
    launch(
        build_app(),
        server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
        server_port=int(os.environ.get("PORT", os.environ.get("GRADIO_SERVER_PORT", "7860"))),
    )
