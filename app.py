"""dofgen: fine-grained defocus blur control — the Gradio app (a Hugging Face Space)."""

import gradio as gr
from starlette.middleware import Middleware

from dofgen import __version__, config
from dofgen.ui.explore import CSS as EXPLORE_CSS
from dofgen.ui.explore import HEAD as EXPLORE_HEAD
from dofgen.ui.explore import build_explore_tab
from dofgen.ui.scales import SCALES_JS
from dofgen.ui.server import BodyLimit, choose_port, prune_cache_safely
from dofgen.ui.uploads import MAX_TRANSFER_BYTES, MAX_UPLOAD_BYTES
from study.config import StudyConfig, StudyConfigError
from study.ui import HEAD, build_results_tab, build_study_tab, reserve_queue

TITLE = "dofgen — fine-grained defocus blur control"
#: Queue: each group runs apart from the others, so none holds another back: the default
#: lens's views up to 2 renders at once (its live previews are not queued), the baseline
#: lenses 1, sweeps and PNG exports 1, generations and photos 1 (set on their events in
#: dofgen/ui/explore.py); everything else up to 2. At most 64 requests wait.
QUEUE = dict(default_concurrency_limit=2, max_size=64)
#: A request body over the page's upload limit plus this is refused (413) before it is read:
#: an upload at the limit and its form's overhead pass.
FORM_OVERHEAD_BYTES = 2**20


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
    """Queue and launch with the app's limits; where the page has the Explore tab, its CSS,
    script and page head, and transfers up to MAX_TRANSFER_BYTES (the tab checks each file
    against its own, smaller limits and says what to do); a study-only page names nothing of
    it and takes files up to MAX_UPLOAD_BYTES. A request body over the page's limit (plus
    :data:`FORM_OVERHEAD_BYTES`) is refused before it is read; the cache is pruned even under load."""
    explore = any(getattr(block, "elem_id", None) == "explore-image" for block in demo.blocks.values())
    if explore:
        css, js, head, transfers = EXPLORE_CSS, SCALES_JS, HEAD + EXPLORE_HEAD, MAX_TRANSFER_BYTES
    else:
        css, js, head, transfers = None, None, HEAD, MAX_UPLOAD_BYTES
    prune_cache_safely()
    body_limit = Middleware(BodyLimit, limit=transfers + FORM_OVERHEAD_BYTES)
    reserve_queue(demo.queue(**QUEUE)).launch(
        max_file_size=transfers, head=head, css=css, js=js, app_kwargs={"middleware": [body_limit]}, **kwargs
    )
    return demo


if __name__ == "__main__":
    host = config.value(config.SERVER_NAME)
    port, note = choose_port(host)
    if note:
        print(note)
    try:
        app = build_app()
    except StudyConfigError as error:  # a study variable the study cannot use: one line saying which and how
        raise SystemExit(f"app.py: {error}") from None
    launch(app, server_name=host, server_port=port)
