"""dofgen: fine-grained defocus blur control — the Gradio app (a Hugging Face Space)."""

import os

import gradio as gr

from dofgen import __version__
from dofgen.ui.explore import build_explore_tab

TITLE = "dofgen — fine-grained defocus blur control"


def build_app() -> gr.Blocks:
    """Compose the app's tabs."""
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(
            f"# {TITLE}\n"
            "Refocus a scene the way a camera would: aperture, focal length and focus distance "
            f"drive a thin-lens, occlusion-aware blur. (dofgen {__version__}, after arXiv 2510.06215)"
        )
        with gr.Tab("Explore"):
            build_explore_tab(demo)
    return demo


if __name__ == "__main__":
    build_app().queue(default_concurrency_limit=2).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
        server_port=int(os.environ.get("PORT", os.environ.get("GRADIO_SERVER_PORT", "7860"))),
    )
