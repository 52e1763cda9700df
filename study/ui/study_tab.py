"""The Study tab: paired aperture-sweep videos, ours against one baseline, 20 questions.

Layout and wiring only; the flow is :class:`study.service.StudyService`'s. The browser keeps
the participant's signed token in localStorage and sends study events past the queue
(``queue=False``); refusals are one line on screen, never an exception.
"""

from __future__ import annotations

import os
import signal
import threading

import gradio as gr

from study.config import keep_uvicorn_from_rewriting_addresses
from study.ratelimit import client_key
from study.service import Screen, StudyService
from study.ui.queue import GROUP

STORAGE_KEY = "dofgen-study-participant"
INSTRUCTIONS = """
### Which video handles the camera better?

Each question shows two short videos of the same picture while the lens aperture closes,
from f/1.8 (a wide aperture: strong background blur) to f/22 (a narrow one: nearly everything
sharp). Pick the video that

1. **keeps the scene the same** — the same objects, shapes and colours in every frame;
2. **reduces the blur as the aperture closes**, steadily, the way a real lens does;
3. **keeps the main subject in focus** throughout.

There are up to 20 questions, about five minutes in all. There are no right answers; go with
your impression. We store your choices with a random participant number — no name, no
address, nothing that identifies you — to publish aggregated results. You can stop at any
time; a page refresh brings you back where you were.
"""
#: Makes the study's videos muted and inline so browsers let them autoplay and loop.
HEAD = """<script>
new MutationObserver(() => {
  for (const v of document.querySelectorAll('#study-left-video video, #study-right-video video')) {
    if (!v.muted) { v.muted = true; v.playsInline = true; v.loop = true; v.play().catch(() => {}); }
  }
}).observe(document.documentElement, {childList: true, subtree: true});
</script>"""
READ_TOKEN = f"() => [window.localStorage.getItem('{STORAGE_KEY}') || '']"
KEEP_TOKEN = f"(token) => {{ if (token) window.localStorage.setItem('{STORAGE_KEY}', token); return []; }}"
REDIRECT = "(url) => { if (url) window.location.assign(url); return []; }"
#: The screen's outputs, in order (what every handler here returns).
FIELDS = ("token", "intro", "question", "done", "status", "progress", "left", "right", "shown_index", "notice", "done_text", "completion_url")

_SERVICE: StudyService | None = None
_SERVICE_LOCK = threading.Lock()


def service() -> StudyService:
    """The app's study service, made on first use; its view files are served as they are
    (no cache copy; deleted once answered)."""
    global _SERVICE
    with _SERVICE_LOCK:
        if _SERVICE is None:
            _SERVICE = StudyService()
            gr.set_static_paths([_SERVICE.views.folder])
        return _SERVICE


def outputs(screen: Screen) -> tuple:
    """The page's outputs (:data:`FIELDS`) for ``screen``."""
    visible = {page: gr.update(visible=screen.page == page) for page in ("intro", "question", "done")}
    return (screen.token, visible["intro"], visible["question"], visible["done"], screen.status, screen.progress,
            screen.left, screen.right, screen.shown_index, screen.notice, screen.done_text, screen.completion_url)


def resume(token: str | None, request: gr.Request = None) -> tuple:
    """On page load: a returning participant continues on the question on screen."""
    return outputs(service().resume(token))


def begin(token: str | None, consent: object, request: gr.Request = None) -> tuple:
    """Start after consent: a new server-made participant, or the returning one."""
    query = dict(getattr(request, "query_params", {}) or {}) if request is not None else {}
    svc = service()
    return outputs(svc.begin(token, consent, client_key(request, svc.config.trusted_proxies), query))


def vote_left(token: str | None, shown_index: object) -> tuple:
    return outputs(service().vote(token, shown_index, "left"))


def vote_right(token: str | None, shown_index: object) -> tuple:
    return outputs(service().vote(token, shown_index, "right"))


def upload_on_sigterm(svc: StudyService) -> None:
    """On SIGTERM (a Space restarting), upload the data folder once more, then exit."""
    if svc.sync is None or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum, frame) -> None:
        svc.sync.stop()
        signal.signal(signal.SIGTERM, previous if callable(previous) else signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, handler)


def build_study_tab(demo: gr.Blocks) -> None:
    """Lay out the Study tab inside ``demo``; loads the study (and restores it from the Hub) now."""
    keep_uvicorn_from_rewriting_addresses()
    upload_on_sigterm(service())
    token = gr.Textbox(visible="hidden", elem_id="study-token", show_label=False)
    with gr.Column(visible=True) as intro:
        gr.Markdown(INSTRUCTIONS)
        status = gr.Markdown(elem_id="study-status")
        consent = gr.Checkbox(label="I am 18 or older and agree to take part as described above.", elem_id="study-consent")
        start = gr.Button("Start", variant="primary", elem_id="study-start")
    with gr.Column(visible=False) as question:
        progress = gr.Markdown(elem_id="study-progress")
        with gr.Row(elem_id="study-pair"):
            left = gr.Video(label="Video A", autoplay=True, loop=True, interactive=False, elem_id="study-left-video", min_width=300, buttons=[])
            right = gr.Video(label="Video B", autoplay=True, loop=True, interactive=False, elem_id="study-right-video", min_width=300, buttons=[])
        notice = gr.Markdown(elem_id="study-notice")
        with gr.Row():
            pick_left = gr.Button("A is better", variant="primary", elem_id="study-vote-left")
            pick_right = gr.Button("B is better", variant="primary", elem_id="study-vote-right")
        shown_index = gr.Textbox(value="-1", visible="hidden", elem_id="study-index", show_label=False)
    with gr.Column(visible=False) as done:
        done_text = gr.Markdown(elem_id="study-done")
    completion_url = gr.Textbox(visible="hidden", elem_id="study-completion-url", show_label=False)
    screen = [token, intro, question, done, status, progress, left, right, shown_index, notice, done_text, completion_url]
    study = dict(queue=False, concurrency_id=GROUP, concurrency_limit=8, show_progress="hidden")  # see study.ui.queue
    demo.load(resume, token, screen, js=READ_TOKEN, api_name="resume", **study)
    start.click(begin, [token, consent], screen, api_name="begin", **study).then(None, token, None, js=KEEP_TOKEN, **study)
    for button, handler in ((pick_left, vote_left), (pick_right, vote_right)):
        button.click(handler, [token, shown_index], screen, api_name=handler.__name__, **study).then(
            None, completion_url, None, js=REDIRECT, **study
        )
