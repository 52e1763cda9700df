"""Blinded video files: metadata stripped, each view a distinct, playable file."""

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


def test_each_view_is_a_distinct_playable_file(tagged, tmp_path):
    views = ViewFiles(tmp_path / "served")
    issued = [views.issue(tagged) for _ in range(6)]
    assert len({p.name for p in issued}) == 6 and len({p.stat().st_size for p in issued}) > 1
    assert len({p.read_bytes() for p in issued}) == 6
    assert all(p.parent == tmp_path / "served" for p in issued) and tagged.name not in {p.name for p in issued}
    assert _frames(issued[0]) == _frames(tagged)  # the padding is skipped by the decoder
    views.release(issued[:3] + [tagged])
    assert [p.exists() for p in issued] == [False] * 3 + [True] * 3 and tagged.exists()


def test_padding_is_a_box_players_skip():
    box = padding(".mp4", 100)
    assert len(box) == 100 and box[4:8] == b"free" and int.from_bytes(box[:4], "big") == 100
    void = padding(".webm", 100)
    assert len(void) == 100 and void[0] == 0xEC and int.from_bytes(void[1:9], "big") & ~(1 << 56) == 91


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
