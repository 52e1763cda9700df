"""The Study tab: paired aperture-sweep videos, ours against one baseline, 20 questions.

Blinding: a participant's browser never receives a method id, and cannot link two videos:
each view is a fresh copy under a random name, with random padding, its metadata stripped
(``study.blind``). The question's methods stay on the server.

Identity: the server makes each participant id and hands the browser a token signed with
the study secret (``study.codes``), kept in localStorage; a reload, or a server restart,
continues the same participant on the question the server says is on screen. Completion
codes are keyed with the same secret and issued only once every answer is stored.

Votes have capacity nothing else can take: the browser sends study events past the queue
(``queue=False``), and API clients, which always queue, land in the ``study`` concurrency
group, whose waiting events count against their own ``max_size``, not the shared one
(``reserve_queue``). Refusals are one line on screen, never an exception.
"""

from __future__ import annotations

import contextvars
import os
import signal
import tempfile
import threading
from pathlib import Path

import gradio as gr
from gradio import queueing, route_utils

from study.blind import ViewFiles
from study.codes import completion_code, new_participant, participant_of
from study.manifest import Manifest, ManifestError, load_manifest
from study.ratelimit import RateLimit, client_key
from study.store import VoteRefused, VoteStore, now
from study.sync import HubSync, from_environment, wait_until

DEFAULT_MANIFEST = Path(__file__).resolve().parent.parent.parent / "assets" / "study" / "demo" / "manifest.jsonl"
#: URL parameters recorded with a new participant (``STUDY_URL_PARAMS``): Prolific's and MTurk's.
URL_PARAMS = "PROLIFIC_PID,STUDY_ID,SESSION_ID,workerId,assignmentId,hitId"
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
DEMO_NOTE = (
    "*These are demo videos rendered from the app's bundled scenes, so that the study can be tried "
    "out; the real study's videos are made with the generator and depth models.*"
)
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
#: The screen's outputs, in order (what ``StudyService.screen`` returns).
FIELDS = ("token", "intro", "question", "done", "status", "progress", "left", "right", "shown_index", "notice", "done_text", "completion_url")
#: The study's concurrency group: its own workers and its own queue capacity.
GROUP = "study"
_PUSHING = contextvars.ContextVar("dofgen_study_pushing", default=None)


def env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is 1, true or yes (``STUDY_ONLY``, ``STUDY_CLOSED``)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


class ReservedQueue(queueing.Queue):
    """Gradio's queue, where the study's group and all other groups each have ``max_size``."""

    def __len__(self) -> int:
        group = _PUSHING.get()
        return sum(
            len(events.queue) for name, events in self.event_queue_per_concurrency_id.items() if group is None or (name == GROUP) == (group == GROUP)
        )

    async def push(self, body, request, username):
        fn = route_utils.get_fn(self.blocks, None, body) if body.fn_index is not None else None
        token = _PUSHING.set(getattr(fn, "concurrency_id", "") or "")
        try:
            return await super().push(body, request, username)
        finally:
            _PUSHING.reset(token)


def reserve_queue(demo: gr.Blocks) -> gr.Blocks:
    """Give the study's events a queue capacity of their own (call after ``demo.queue``)."""
    demo._queue.__class__ = ReservedQueue
    return demo


class StudyService:
    """The manifest, the vote store, the Hub sync and the blinded view files, shared by all sessions."""

    def __init__(self, manifest_path: str | Path | None = None, data_dir: str | Path | None = None, hub_api=None) -> None:
        path = Path(manifest_path or os.environ.get("STUDY_MANIFEST") or DEFAULT_MANIFEST)
        self.error = ""
        self.manifest: Manifest | None = None
        try:
            self.manifest = load_manifest(path)
        except ManifestError as error:
            self.error = f"The study is not running: {error}"
        self.store = VoteStore(data_dir, self.manifest)
        self.sync: HubSync | None = from_environment(self.store.folder, on_restore=self.store.refresh, api=hub_api)
        if self.sync is not None:  # resume and balancing need the restored folder; the Hub may be down
            wait_until(lambda: self.sync.restored or self.sync.failures > 0, float(os.environ.get("STUDY_RESTORE_WAIT_S", "20")))
        self.views = ViewFiles(Path(tempfile.mkdtemp(prefix="dofgen-study-")) / "v")
        gr.set_static_paths([self.views.folder])  # served as they are: no cache copy, deleted once answered
        self.limit = RateLimit()
        self.url_params = [p.strip() for p in os.environ.get("STUDY_URL_PARAMS", URL_PARAMS).split(",") if p.strip()]
        self.completion_url = os.environ.get("STUDY_COMPLETION_URL", "")
        self._shown: dict[str, tuple[int, str, str, str]] = {}  # participant -> (index, left, right, shown_at)
        self._lock = threading.Lock()

    def recruitment(self, request: gr.Request | None) -> dict[str, str]:
        """The recruiter's URL parameters of the page (``PROLIFIC_PID``...), printable, 200 characters at most."""
        params = dict(getattr(request, "query_params", {}) or {}) if request is not None else {}
        return {k: str(params[k])[:200] for k in self.url_params if k in params and str(params[k]).isprintable()}

    def view(self, participant_id: str, index: int) -> tuple[str, str]:
        """(left, right) video files for the question on screen: fresh copies the first time it
        is shown, the same on a repeat; the previous question's copies are deleted."""
        question = self.store.questions(participant_id)[index]
        with self._lock:
            shown = self._shown.get(participant_id)
            if shown is not None and shown[0] == index:
                return shown[1:3]
        files = [str(self.views.issue(self.manifest.video(question.prompt_id, method).video)) for method in (question.left_method, question.right_method)]
        with self._lock:  # copies are made outside the lock; a concurrent repeat keeps the first pair
            shown = self._shown.get(participant_id)
            if shown is not None and shown[0] == index:
                self.views.release(files)
                return shown[1:3]
            if shown is not None:
                self.views.release(shown[1:3])
            self._shown[participant_id] = (index, *files, now())
            return files[0], files[1]

    def shown_at(self, participant_id: str, index: int) -> str | None:
        """When this process first showed question ``index`` to the participant (None: not known here)."""
        with self._lock:
            shown = self._shown.get(participant_id)
            return shown[3] if shown is not None and shown[0] == index else None

    def forget_view(self, participant_id: str) -> None:
        with self._lock:
            shown = self._shown.pop(participant_id, None)
        if shown is not None:
            self.views.release(shown[1:3])

    def intro(self, status: str = "", token: str = "") -> tuple:
        show, hide = gr.update(visible=True), gr.update(visible=False)
        note = status or (DEMO_NOTE if self.manifest is not None and self.manifest.demo else "")
        return token, show, hide, hide, note, "", None, None, "-1", "", "", ""

    def screen(self, participant_id: str, token: str, notice: str = "") -> tuple:
        """Outputs (``FIELDS``) for the participant's question on screen, or the end."""
        show, hide = gr.update(visible=True), gr.update(visible=False)
        questions = self.store.questions(participant_id)
        index = self.store.current(participant_id)
        if index >= len(questions):
            self.forget_view(participant_id)
            code = completion_code(self.store.secret, participant_id)
            url = self.completion_url.replace("{code}", code)
            done = f"### Thank you!\nYou answered all {len(questions)} questions. Your completion code is **{code}**."
            if url:
                done += f"\n\nTaking you back to the recruiting site… [continue]({url})"
            return token, hide, hide, show, "", "", None, None, "-1", "", done, url
        left, right = self.view(participant_id, index)
        shortfall = f" (this study has {len(questions)} questions)" if len(questions) < 20 else ""
        progress = f"**Question {index + 1} of {len(questions)}**{shortfall}\n\n<progress value='{index}' max='{len(questions)}' style='width:100%'></progress>"
        return token, hide, show, hide, "", progress, left, right, str(index), notice, "", ""

    def known(self, token: object) -> str | None:
        """The participant a token names, if it is genuine and has questions here."""
        participant_id = participant_of(self.store.secret, token)
        return participant_id if participant_id and self.store.has_participant(participant_id) else None

    def pending_restore(self) -> bool:
        return self.sync is not None and not self.sync.restored


_SERVICE: StudyService | None = None
_SERVICE_LOCK = threading.Lock()


def service() -> StudyService:
    """The app's study service, made on first use."""
    global _SERVICE
    with _SERVICE_LOCK:
        if _SERVICE is None:
            _SERVICE = StudyService()
        return _SERVICE


def resume(token: str | None, request: gr.Request = None) -> tuple:
    """On page load: a returning participant continues on the question on screen."""
    svc = service()
    if svc.error:
        return svc.intro(svc.error)
    participant_id = svc.known(token)
    if participant_id:
        return svc.screen(participant_id, token)
    if participant_of(svc.store.secret, token) and svc.pending_restore():
        return svc.intro("The study is reconnecting to its storage; please reload this page in a minute.")
    return svc.intro()


def begin(token: str | None, consent: object, request: gr.Request = None) -> tuple:
    """Start after consent (exactly True): a new server-made participant, or the returning one."""
    svc = service()
    if svc.error:
        return svc.intro(svc.error)
    if consent is not True:
        return svc.intro("Please tick the box to agree before you start.")
    participant_id = svc.known(token)
    if participant_id:
        return svc.screen(participant_id, token)
    wait = svc.limit.allow(client_key(request))
    if wait:
        return svc.intro(f"Too many new participants from your connection; please try again in {int(wait) + 1} s.")
    participant_id, token = new_participant(svc.store.secret)
    svc.store.questions(participant_id, svc.recruitment(request))
    return svc.screen(participant_id, token)


def vote(token: str | None, shown_index: object, choice: str) -> tuple:
    """Store the vote for the question the server has on screen; the client's index is only
    checked against it (a stale repeat shows the current question and stores nothing)."""
    svc = service()
    participant_id = svc.known(token)
    if participant_id is None:
        return svc.intro("Please press Start first.")
    current = svc.store.current(participant_id)
    try:
        index = int(str(shown_index))
    except ValueError:
        return svc.screen(participant_id, token, "Your answer was not stored: the question on screen is unknown.")
    if index < current:  # a double click or a stale tab: already stored
        return svc.screen(participant_id, token)
    if index != current:
        return svc.screen(participant_id, token, f"Your answer was not stored: question {index + 1} is not the one on screen.")
    try:
        svc.store.submit(participant_id, current, choice, shown_at=svc.shown_at(participant_id, current))
    except VoteRefused as error:
        return svc.screen(participant_id, token, f"Your answer was not stored: {error}.")
    return svc.screen(participant_id, token)


def vote_left(token: str | None, shown_index: object) -> tuple:
    return vote(token, shown_index, "left")


def vote_right(token: str | None, shown_index: object) -> tuple:
    return vote(token, shown_index, "right")


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
    outputs = [token, intro, question, done, status, progress, left, right, shown_index, notice, done_text, completion_url]
    study = dict(queue=False, concurrency_id=GROUP, concurrency_limit=8, show_progress="hidden")  # see reserve_queue
    demo.load(resume, token, outputs, js=READ_TOKEN, api_name="resume", **study)
    start.click(begin, [token, consent], outputs, api_name="begin", **study).then(None, token, None, js=KEEP_TOKEN, **study)
    for button, handler in ((pick_left, vote_left), (pick_right, vote_right)):
        button.click(handler, [token, shown_index], outputs, api_name=handler.__name__, **study).then(
            None, completion_url, None, js=REDIRECT, **study
        )
