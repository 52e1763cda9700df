"""dofgen: fine-grained defocus blur control — the Gradio app (a Hugging Face Space)."""

import gradio as gr
from starlette.middleware import Middleware

from dofgen import __version__, config
from dofgen.ui.explore import CSS as EXPLORE_CSS
from dofgen.ui.explore import MAX_UPLOAD_BYTES, build_explore_tab
from dofgen.ui.server import BodyLimit, choose_port, prune_cache_safely
from study.config import StudyConfig
from study.ui import HEAD, build_results_tab, build_study_tab, reserve_queue

TITLE = "dofgen — fine-grained defocus blur control"
#: Queue: each group runs apart from the others, so none holds another back: the default
#: lens (slider previews and views) up to 2 renders at once, the baseline lenses 1, sweeps and
#: PNG exports 1, generations and photos 1 (set on their events in dofgen/ui/explore.py);
#: everything else up to 2. At most 64 requests wait.
QUEUE = dict(default_concurrency_limit=2, max_size=64)
#: A request body over this is refused (413) before it is read: an upload at the limit and
#: its form's overhead pass.
MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 2**20


def delete_cache() -> tuple[int, int]:
    """Gradio's cache (every returned picture, video and upload is copied there): files older
    than ``DOFGEN_CACHE_MAX_AGE_S`` go, checked every minute (or every half of that age)."""
    text = config.value(config.CACHE_MAX_AGE_S) or config.CACHE_MAX_AGE_S.default
    if not text.strip().isdigit() or int(text) < 2:
        raise SystemExit(f"{config.CACHE_MAX_AGE_S.name} must be a whole number of seconds, 2 or more; got {text!r}.")
    return min(60, int(text) // 2), int(text)


def build_app() -> gr.Blocks:
    """Compose the app's tabs (``STUDY_ONLY=1``: the study for participants, results for researchers)."""
    if StudyConfig.from_env().only:
        return build_study_app()
    with gr.Blocks(title=TITLE, delete_cache=delete_cache()) as demo:
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
    with gr.Blocks(title="A short video study", delete_cache=delete_cache()) as demo:
        build_study_tab(demo)
    with demo.route("Researcher", "researcher", show_in_navbar=False):
        build_results_tab(demo)
    return demo


def launch(demo: gr.Blocks, **kwargs) -> gr.Blocks:
    """Queue and launch with the app's limits (uploads up to 20 MB, request bodies up to
    :data:`MAX_BODY_BYTES`, the cache pruned even under load); the Explore tab's CSS only where the page has that tab (a
    study-only page names nothing of it)."""
    explore = any(getattr(block, "elem_id", None) == "explore-image" for block in demo.blocks.values())
    css = EXPLORE_CSS if explore else None
    prune_cache_safely()
    reserve_queue(demo.queue(**QUEUE)).launch(
        max_file_size=MAX_UPLOAD_BYTES, head=HEAD, css=css, app_kwargs={"middleware": [Middleware(BodyLimit, limit=MAX_BODY_BYTES)]}, **kwargs
    )
    return demo


if __name__ == "__main__":
    host = config.value(config.SERVER_NAME)
    port, note = choose_port(host)
    if note:
        print(note)
    launch(build_app(), server_name=host, server_port=port)
