"""Blinded video files: metadata stripped, each view a distinct encoding of the same picture."""

import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

from study.blind import ViewFiles, padding, strip_metadata
from study.config import parse_rate as parse
from study.ratelimit import RateLimit

from tests.support.study_helpers import tiny_video


def _frames(path) -> list[bytes]:
    reader = imageio_ffmpeg.read_frames(str(path))
    next(reader)
    return [bytes(frame) for frame in reader]


@pytest.fixture()
def tagged(tmp_path):
    """An imported video whose container names its method in every tag it can."""
    source = tiny_video(tmp_path / "source.mp4", shade=60)
    target = tmp_path / "camera_tokens-p3.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(source), "-c", "copy", "-metadata", "title=camera_tokens render",
         "-metadata", "comment=method sdxl_taf", "-metadata:s:v", "handler_name=deepdof_taf", str(target)],
        check=True,
    )
    assert all(tag in target.read_bytes() for tag in (b"camera_tokens", b"sdxl_taf", b"deepdof_taf", b"x264", b"Lavf"))
    return target


def test_metadata_is_stripped_and_frames_kept(tagged, tmp_path):
    clean = strip_metadata(tagged, tmp_path / "clean.mp4").read_bytes()
    for tag in (b"camera_tokens", b"sdxl_taf", b"deepdof_taf", b"x264", b"Lavf"):
        assert tag not in clean
    assert _frames(tmp_path / "clean.mp4") == _frames(tagged)


def _packets(path) -> list[str]:
    """The attacker's rule: an MD5 per compressed sample (H.264 packet), whatever the container."""
    out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout
    return [line.rsplit(",", 1)[-1].strip() for line in out.splitlines() if not line.startswith("#")]


def _psnr(a: bytes, b: bytes) -> float:
    x, y = (np.frombuffer(v, np.uint8).astype(float) for v in (a, b))
    return 10 * np.log10(255**2 / max(np.mean((x - y) ** 2), 1e-12))


def test_each_view_is_a_distinct_playable_file(tagged, tmp_path):
    views = ViewFiles(tmp_path / "served")
    issued = [views.issue(tagged) for _ in range(6)]
    assert len({p.name for p in issued}) == 6 and len({p.stat().st_size for p in issued}) > 1
    assert all(p.parent == tmp_path / "served" for p in issued) and tagged.name not in {p.name for p in issued}
    assert sorted(p.name for p in (tmp_path / "served").iterdir()) == sorted(p.name for p in issued)  # no partial file left
    for path in issued:
        assert not any(tag in path.read_bytes() for tag in (b"camera_tokens", b"sdxl_taf", b"deepdof_taf", b"x264", b"Lavf", b"Lavc"))
    packets = [_packets(p) for p in issued]
    assert all(len(p) == len(packets[0]) == 2 for p in packets)
    assert len({tuple(p) for p in packets}) == 6  # no two views with the same compressed samples (per packet: the test below)
    source, first = _frames(tagged), _frames(issued[0])
    assert len(first) == len(source) and min(_psnr(a, b) for a, b in zip(source, first)) > 38  # the same picture
    views.release(issued[:3] + [tagged])
    assert [p.exists() for p in issued] == [False] * 3 + [True] * 3 and tagged.exists()


def test_a_real_stimulus_stays_visually_the_same(tmp_path):
    """A demo stimulus (512 x 352, 15 frames): every view over 40 dB from the source, no packet
    (compressed sample) shared by two views."""
    from pathlib import Path

    from study.blind import reencode

    source = Path(__file__).resolve().parent.parent / "assets" / "study" / "demo" / "videos" / "motorcycle-ours.mp4"
    a, b, c = (reencode(source, tmp_path / f"{n}.mp4") for n in "abc")
    packets = [_packets(view) for view in (a, b, c)]
    assert len({h for p in packets for h in p}) == 45 and len(_packets(source)) == 15
    assert min(_psnr(x, y) for x, y in zip(_frames(source), _frames(a))) > 40


def test_padding_is_a_box_players_skip():
    box = padding(100)
    assert len(box) == 100 and box[4:8] == b"free" and int.from_bytes(box[:4], "big") == 100


def test_rate_limit_window():
    clock = [0.0]
    limit = RateLimit("2/10", clock=lambda: clock[0])
    assert [limit.allow("a"), limit.allow("a")] == [0.0, 0.0]
    assert limit.allow("a") == pytest.approx(10.0) and limit.allow("b") == 0.0
    clock[0] = 10.5
    assert limit.allow("a") == 0.0
    with pytest.raises(ValueError, match="5/600"):
        parse("lots")
    assert np.isfinite(parse("5/600")[1])


def test_wrong_tokens_back_off_exponentially_in_bounded_memory():
    from study.ratelimit import Backoff

    clock = [0.0]
    backoff = Backoff(base_s=1.0, max_s=8.0, clients=3, clock=lambda: clock[0])
    waits = []
    for _ in range(5):
        backoff.failed("a")
        waits.append(backoff.wait("a"))
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0] and backoff.wait("b") == 0.0
    backoff.succeeded("a")
    assert backoff.wait("a") == 0.0
    for key in "bcde":
        backoff.failed(key)
    assert len(backoff._failures) == 3 and backoff.wait("b") == 0.0 and backoff.wait("e") == 1.0  # the oldest forgotten
