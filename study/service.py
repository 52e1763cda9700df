"""The study as a service (Section E): one manifest, vote store, Hub sync and set of blinded
view files shared by every participant, and the flow consent → questions → completion code.

No Gradio here: each step returns a :class:`Screen`, which ``study.ui`` turns into the page.

Blinding: a participant never receives a method id, and cannot link two videos by their
bytes: each view is a fresh encoding under a random name, with random padding, its metadata
stripped (``study.blind``); nor by their content within a session, as no prompt repeats for a
participant (``study.assign``).
Identity: the server makes each participant id and hands the browser a token signed with the
study secret (``study.codes``); a reload, or a server restart, continues the same participant
on the question the server says is on screen. Completion codes are issued only once every
answer is stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from study.blind import ViewFiles
from study.assign import question_count
from study.codes import completion_code, new_participant, participant_of, token_for
from study.config import StudyConfig
from study.expiry import expired, view_folder
from study.manifest import Manifest, ManifestError, load_manifest
from study.ratelimit import RateLimit
from study.store import VoteRefused, VoteStore, now
from study.sync import HubSync, from_config, wait_until

DEMO_NOTE = (
    "*These are demo videos rendered from the app's bundled scenes, so that the study can be tried "
    "out; the real study's videos are made with the generator and depth models.*"
)


@dataclass(frozen=True)
class Screen:
    """What the participant's page shows: ``page`` is "intro", "question" or "done"."""

    page: str
    token: str = ""
    status: str = ""
    progress: str = ""
    left: str | None = None
    right: str | None = None
    shown_index: str = "-1"
    notice: str = ""
    done_text: str = ""
    completion_url: str = ""


class StudyService:
    """The manifest, the vote store, the Hub sync and the blinded view files, shared by all sessions."""

    def __init__(
        self, manifest_path: str | Path | None = None, data_dir: str | Path | None = None, hub_api=None,
        config: StudyConfig | None = None,
    ) -> None:
        """``manifest_path`` and ``data_dir`` override the config's; ``config`` None: from the environment."""
        self.config = config = config or StudyConfig.from_env()
        self.error = ""
        self.manifest: Manifest | None = None
        try:
            self.manifest = load_manifest(Path(manifest_path or config.manifest))
        except ManifestError as error:
            self.error = f"The study is not running: {error}"
        self.store = VoteStore(data_dir, self.manifest, config=config)
        self.sync: HubSync | None = from_config(config, self.store.folder, on_restore=self.store.refresh, api=hub_api)
        if self.sync is not None:  # resume and balancing need the restored folder; the Hub may be down
            wait_until(lambda: self.sync.restored or self.sync.failures > 0, config.restore_wait_s)
        self.views = ViewFiles(view_folder() / "v")  # earlier processes' copies are deleted here
        self.limit = RateLimit(config.new_participants)
        self.shortfall = self._shortfall()
        if self.shortfall:
            logging.getLogger(__name__).warning(self.shortfall)
        self._shown: dict[str, tuple[int, str, str, str]] = {}  # participant -> (index, left, right, shown_at)
        self._lock = threading.Lock()
        self._expired_at = time.monotonic()

    def expire_views(self) -> int:
        """Delete the copies of views unanswered for ``STUDY_VIEW_EXPIRY_S`` (a participant
        who comes back gets fresh ones); return how many views went."""
        with self._lock:
            self._expired_at = time.monotonic()
            stale = expired(self._shown, self.config.view_expiry_s)
        for participant_id in stale:
            self.forget_view(participant_id)
        return len(stale)

    def _shortfall(self) -> str:
        """What a manifest with too few prompts does to the questions ("" when it has enough)."""
        if self.manifest is None:
            return ""
        pairs, catch = self.manifest.pairs(), self.manifest.catch_pairs()
        asked = self.config.questions + min(self.config.attention_checks, len({p for p, _ in catch}))
        questions, checks = question_count(pairs, catch, self.config.questions, self.config.attention_checks)
        if questions + checks >= asked:
            return ""
        prompts = len({p for p, _ in pairs} | {p for p, _ in catch})
        return (f"The manifest has {prompts} prompts and each participant sees a prompt at most once, so each gets {questions} "
                f"questions and {checks} attention checks instead of STUDY_QUESTIONS={self.config.questions} and {asked - self.config.questions}.")

    def recruitment(self, query_params: Mapping[str, object]) -> dict[str, str]:
        """The recruiter's URL parameters of the page (``PROLIFIC_PID``...), printable, 200 characters at most."""
        return {k: str(query_params[k])[:200] for k in self.config.url_params if k in query_params and str(query_params[k]).isprintable()}

    def view(self, participant_id: str, index: int) -> tuple[str, str]:
        """(left, right) video files for the question on screen: fresh copies the first time it
        is shown, the same on a repeat; the previous question's copies are deleted."""
        question = self.store.questions(participant_id)[index]
        with self._lock:
            shown = self._shown.get(participant_id)
            if shown is not None and shown[0] == index:
                return shown[1:3]
        if time.monotonic() - self._expired_at > min(60.0, self.config.view_expiry_s / 2):
            self.expire_views()
        sources = [self.manifest.video(question.prompt_id, method).video for method in (question.left_method, question.right_method)]
        with ThreadPoolExecutor(2) as pool:  # each is encoded afresh (study.blind): both at once
            files = [str(path) for path in pool.map(self.views.issue, sources)]
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

    def intro(self, status: str = "", token: str = "") -> Screen:
        """The consent page, with ``status`` (or the demo note) under it."""
        note = status or (DEMO_NOTE if self.manifest is not None and self.manifest.demo else "")
        return Screen("intro", token=token, status=note)

    def screen(self, participant_id: str, token: str, notice: str = "") -> Screen:
        """The participant's question on screen, or the end with their completion code."""
        questions = self.store.questions(participant_id)
        index = self.store.current(participant_id)
        if index >= len(questions):
            self.forget_view(participant_id)
            code = completion_code(self.store.secret, participant_id)
            url = self.config.completion_url.replace("{code}", code)
            done = f"### Thank you!\nYou answered all {len(questions)} questions. Your completion code is **{code}**."
            if url:
                done += f"\n\nTaking you back to the recruiting site… [continue]({url})"
            return Screen("done", token=token, done_text=done, completion_url=url)
        left, right = self.view(participant_id, index)
        shortfall = f" (this study has {len(questions)} questions)" if self.shortfall else ""
        progress = f"**Question {index + 1} of {len(questions)}**{shortfall}\n\n<progress value='{index}' max='{len(questions)}' style='width:100%'></progress>"
        return Screen("question", token=token, progress=progress, left=left, right=right, shown_index=str(index), notice=notice)

    def known(self, token: object) -> str | None:
        """The participant a token names, if it is genuine and has questions here."""
        participant_id = participant_of(self.store.secret, token)
        return participant_id if participant_id and self.store.has_participant(participant_id) else None

    def pending_restore(self) -> bool:
        return self.sync is not None and not self.sync.restored

    def resume(self, token: str | None) -> Screen:
        """On page load: a returning participant continues on the question on screen."""
        if self.error:
            return self.intro(self.error)
        participant_id = self.known(token)
        if participant_id:
            return self.screen(participant_id, token)
        if participant_of(self.store.secret, token) and self.pending_restore():
            return self.intro("The study is reconnecting to its storage; please reload this page in a minute.")
        return self.intro()

    def begin(self, token: str | None, consent: object, client: str, query_params: Mapping[str, object]) -> Screen:
        """Start after consent (exactly True): a new server-made participant, or the returning one
        (by token, or by the recruiter's ``PROLIFIC_PID`` or ``workerId``). ``client`` is who asks
        (``study.ratelimit.client_key``, for the rate limit); ``query_params`` the page's URL parameters."""
        if self.error:
            return self.intro(self.error)
        if consent is not True:
            return self.intro("Please tick the box to agree before you start.")
        participant_id = self.known(token)
        if participant_id:
            return self.screen(participant_id, token)
        recruitment = self.recruitment(query_params)
        participant_id = self.store.recruited(recruitment)  # the same recruited person again: resumed, not new
        if participant_id is None:
            wait = self.limit.allow(client)
            if wait:
                return self.intro(f"Too many new participants from your connection; please try again in {int(wait) + 1} s.")
            participant_id = self.store.start(new_participant(self.store.secret)[0], recruitment)
        return self.screen(participant_id, token_for(self.store.secret, participant_id))

    def vote(self, token: str | None, shown_index: object, choice: str) -> Screen:
        """Store the vote for the question the server has on screen; the client's index is only
        checked against it (a stale repeat shows the current question and stores nothing)."""
        participant_id = self.known(token)
        if participant_id is None:
            return self.intro("Please press Start first.")
        current = self.store.current(participant_id)
        try:
            index = int(str(shown_index))
        except ValueError:
            return self.screen(participant_id, token, "Your answer was not stored: the question on screen is unknown.")
        if index < current:  # a double click or a stale tab: already stored
            return self.screen(participant_id, token)
        if index != current:
            return self.screen(participant_id, token, f"Your answer was not stored: question {index + 1} is not the one on screen.")
        try:
            self.store.submit(participant_id, current, choice, shown_at=self.shown_at(participant_id, current))
        except VoteRefused as error:
            return self.screen(participant_id, token, f"Your answer was not stored: {error}.")
        return self.screen(participant_id, token)
