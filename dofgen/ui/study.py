"""The Study tab: paired aperture-sweep videos, ours against one baseline, 20 questions.

Blinding: a participant's browser never receives a method id. Videos are served under
content-hash names, the question's methods stay in server-side state, and no label, element
id or API response names a method.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from study.manifest import Manifest, ManifestError, load_manifest
from study.store import VoteRefused, VoteStore, now, start_hub_sync, valid_participant

DEFAULT_MANIFEST = Path(__file__).resolve().parent.parent.parent / "assets" / "study" / "demo" / "manifest.jsonl"
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


@dataclass(frozen=True)
class Session:
    """Server-side per browser tab: who is answering, and which question is on screen."""

    participant_id: str
    index: int
    shown_at: str


class StudyService:
    """The manifest, the vote store and the blinded video files, shared by all sessions."""

    def __init__(self, manifest_path: str | Path | None = None, data_dir: str | Path | None = None) -> None:
        path = Path(manifest_path or os.environ.get("STUDY_MANIFEST") or DEFAULT_MANIFEST)
        self.error = ""
        self.manifest: Manifest | None = None
        try:
            self.manifest = load_manifest(path)
        except ManifestError as error:
            self.error = f"The study is not running: {error}"
        self.store = VoteStore(data_dir, self.manifest)
        self.scheduler = start_hub_sync(self.store.folder)
        self._served = Path(tempfile.mkdtemp(prefix="dofgen-study-"))
        self._names: dict[Path, str] = {}
        self._lock = threading.Lock()

    def served(self, prompt_id: str, method: str) -> str:
        """The stimulus copied under an opaque, content-hash name."""
        source = self.manifest.video(prompt_id, method).video
        with self._lock:
            if source not in self._names:
                digest = hashlib.sha256(source.read_bytes()).hexdigest()[:32]
                target = self._served / f"{digest}{source.suffix.lower()}"
                if not target.exists():
                    shutil.copyfile(source, target)
                self._names[source] = str(target)
            return self._names[source]


_SERVICE: StudyService | None = None
_SERVICE_LOCK = threading.Lock()


def service() -> StudyService:
    """The app's study service, made on first use."""
    global _SERVICE
    with _SERVICE_LOCK:
        if _SERVICE is None:
            _SERVICE = StudyService()
        return _SERVICE


def completion_code(participant_id: str) -> str:
    """A short code the participant reports; researchers recompute it from the id."""
    return hashlib.sha256(f"dofgen-study:{participant_id}".encode()).hexdigest()[:10].upper()


def _screen(participant_id: str, session: Session | None, status: str = "") -> tuple:
    """Outputs: browser participant id, session, the intro, question and done columns, the
    intro's status, progress, left video, right video, question index on screen, done text."""
    svc = service()
    show, hide = gr.update(visible=True), gr.update(visible=False)
    if session is None:
        return participant_id, None, show, hide, hide, status, "", None, None, -1, ""
    questions = svc.store.questions(session.participant_id)
    if session.index >= len(questions):
        code = completion_code(session.participant_id)
        done = f"### Thank you!\nYou answered all {len(questions)} questions. Your completion code is **{code}**."
        return participant_id, session, hide, hide, show, "", "", None, None, -1, done
    question = questions[session.index]
    shortfall = f" (this study has {len(questions)} questions)" if len(questions) < 20 else ""
    progress = f"**Question {session.index + 1} of {len(questions)}**{shortfall}\n\n<progress value='{session.index}' max='{len(questions)}' style='width:100%'></progress>"
    left = svc.served(question.prompt_id, question.left_method)
    right = svc.served(question.prompt_id, question.right_method)
    return participant_id, session, hide, show, hide, "", progress, left, right, session.index, ""


def _next_session(participant_id: str) -> Session:
    svc = service()
    questions = svc.store.questions(participant_id)
    answered = svc.store.answered(participant_id)
    index = next((q.index for q in questions if q.index not in answered), len(questions))
    return Session(participant_id, index, now())


def resume(participant_id: str | None) -> tuple:
    """On page load: a returning participant continues where they were."""
    svc = service()
    if svc.error:
        return _screen(participant_id or "", None, svc.error)
    if participant_id and svc.store.has_participant(participant_id):
        return _screen(participant_id, _next_session(participant_id))
    return _screen(participant_id or "", None, DEMO_NOTE if svc.manifest.demo else "")


def begin(participant_id: str | None, consent: bool) -> tuple:
    """Start (or continue) answering, after consent."""
    svc = service()
    if svc.error:
        raise gr.Error(svc.error)
    if not consent:
        raise gr.Error("Please tick the box to agree before you start.")
    if not valid_participant(participant_id):
        participant_id = os.urandom(12).hex()
    return _screen(participant_id, _next_session(participant_id))


def vote(session: Session | None, shown_index: float, choice: str) -> tuple:
    """Store the vote for the question on screen, then show the next one."""
    if session is None:
        raise gr.Error("Press Start first.")
    if not isinstance(shown_index, (int, float)) or shown_index != int(shown_index) or int(shown_index) < 0:
        raise gr.Error("That question is not on screen any more.")
    try:
        service().store.submit(session.participant_id, int(shown_index), choice, shown_at=session.shown_at)
    except VoteRefused as error:
        raise gr.Error(f"Your answer was not stored: {error}.") from None
    return _screen(session.participant_id, _next_session(session.participant_id))


def vote_left(session: Session | None, shown_index: float) -> tuple:
    return vote(session, shown_index, "left")


def vote_right(session: Session | None, shown_index: float) -> tuple:
    return vote(session, shown_index, "right")


def build_study_tab(demo: gr.Blocks) -> None:
    """Lay out the Study tab inside ``demo``."""
    participant = gr.BrowserState("", storage_key="dofgen-study-participant")
    session = gr.State(None)
    with gr.Column(visible=True) as intro:
        gr.Markdown(INSTRUCTIONS)
        status = gr.Markdown()
        consent = gr.Checkbox(label="I am 18 or older and agree to take part as described above.", elem_id="study-consent")
        start = gr.Button("Start", variant="primary", elem_id="study-start")
    with gr.Column(visible=False) as question:
        progress = gr.Markdown(elem_id="study-progress")
        with gr.Row():
            left = gr.Video(label="Left", autoplay=True, loop=True, interactive=False, elem_id="study-left-video", min_width=300, buttons=[])
            right = gr.Video(label="Right", autoplay=True, loop=True, interactive=False, elem_id="study-right-video", min_width=300, buttons=[])
        with gr.Row():
            pick_left = gr.Button("Left is better", variant="primary", elem_id="study-vote-left")
            pick_right = gr.Button("Right is better", variant="primary", elem_id="study-vote-right")
        shown_index = gr.Number(value=-1, visible=False, precision=0)
    with gr.Column(visible=False) as done:
        done_text = gr.Markdown(elem_id="study-done")
    outputs = [participant, session, intro, question, done, status, progress, left, right, shown_index, done_text]
    demo.load(resume, participant, outputs)
    start.click(begin, [participant, consent], outputs, concurrency_id="study", concurrency_limit=8)
    pick_left.click(vote_left, [session, shown_index], outputs, concurrency_id="study", concurrency_limit=8)
    pick_right.click(vote_right, [session, shown_index], outputs, concurrency_id="study", concurrency_limit=8)
