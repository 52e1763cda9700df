"""Per-view video copies are bounded: deleted at start-up when their process has ended, and
after ``STUDY_VIEW_EXPIRY_S`` (30 minutes) unanswered."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from study import expiry
from study.service import StudyService
from tests.support.study_helpers import write_manifest

ROOT = Path(__file__).resolve().parent.parent
MAKE = "import sys; from pathlib import Path; from study.expiry import view_folder; f = view_folder(Path(sys.argv[1])); (f / 'copy.mp4').write_bytes(b'x' * 1000); print(f, flush=True); sys.stdin.read()"


def _other_process(root: Path) -> tuple[subprocess.Popen, Path]:
    """A process that made its view folder under ``root`` (with one copy) and waits for stdin to close."""
    process = subprocess.Popen([sys.executable, "-c", MAKE, str(root)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return process, Path(process.stdout.readline().strip())


def test_start_up_deletes_the_folders_of_ended_processes_only(tmp_path: Path) -> None:
    ended, ended_folder = _other_process(tmp_path)
    ended.communicate("")  # it exits: its lock goes with it
    assert (ended_folder / "copy.mp4").is_file()
    living, living_folder = _other_process(tmp_path)  # its start-up deletes the ended one's folder
    try:
        assert not ended_folder.exists() and living_folder.is_dir()
        mine = expiry.view_folder(tmp_path)
        assert (living_folder / "copy.mp4").is_file()
        assert mine.is_dir() and mine.parent == tmp_path
        assert expiry.clear_ended(tmp_path) == []  # mine is held by this process
    finally:
        living.communicate("")
    assert expiry.clear_ended(tmp_path) == [living_folder]


def test_expired_picks_views_on_screen_longer_than_the_limit() -> None:
    at = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    shown = {
        "old": (3, "a.mp4", "b.mp4", (at - timedelta(minutes=31)).isoformat(timespec="milliseconds")),
        "fresh": (0, "c.mp4", "d.mp4", (at - timedelta(minutes=29)).isoformat(timespec="milliseconds")),
    }
    assert expiry.expired(shown, 30 * 60, at) == ["old"]
    assert expiry.expired(shown, 28 * 60, at) == ["old", "fresh"]


def test_unanswered_copies_expire_and_a_returning_participant_gets_fresh_ones(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STUDY_NEW_PARTICIPANTS", "100/60")
    service = StudyService(write_manifest(tmp_path / "stimuli", prompts=5), tmp_path / "data")
    screens = [service.begin("", True, f"10.0.0.{n}", {}) for n in range(3)]
    files = [Path(screen.left) for screen in screens] + [Path(screen.right) for screen in screens]
    assert all(path.is_file() for path in files) and len(list(service.views.folder.iterdir())) == 6
    assert service.expire_views() == 0
    with service._lock:  # the first participant left their question 31 minutes ago
        participant = next(iter(service._shown))
        index, left, right, _ = service._shown[participant]
        service._shown[participant] = (index, left, right, (datetime.now(timezone.utc) - timedelta(minutes=31)).isoformat())
    assert service.expire_views() == 1
    assert not Path(left).exists() and not Path(right).exists()
    assert len(list(service.views.folder.iterdir())) == 4
    back = service.resume(screens[0].token)
    assert back.page == "question" and back.shown_index == screens[0].shown_index
    assert Path(back.left).is_file() and Path(back.left) != Path(left)
