import imageio_ffmpeg
import numpy as np
import pytest
import torch

from dofgen import scenes
from dofgen.camera import STUDY_STOPS, CameraSettings
from dofgen.metrics import blur_monotonicity
from dofgen.pipeline import DefocusPipeline
from dofgen.video import aperture_sweep, aperture_values, caption, focus_sweep, focus_values, h264_size, read_frames, write_mp4


@pytest.fixture(scope="module")
def tabletop():
    scene = scenes.load("tabletop")
    small = scene.image.resize((250, 166))
    depth = torch.nn.functional.interpolate(scene.depth[None, None], size=(166, 250), mode="nearest")[0, 0]
    return DefocusPipeline().from_image(small, depth, camera=CameraSettings(1.8, 50.0, 1.2, sensor_width_mm=9.0), focus_distance=1.2)


def test_sweep_values():
    values = aperture_values(STUDY_STOPS, 3)
    assert len(values) == 3 * 7 + 1 and values[0] == 1.8 and values[-1] == 22.0
    assert all(b > a for a, b in zip(values, values[1:]))
    assert values[3] == pytest.approx(2.8) and values[1] == pytest.approx(1.8 * (2.8 / 1.8) ** (1 / 3))
    focus = focus_values(0.5, 10.0, 5)
    assert focus[0] == pytest.approx(0.5) and focus[-1] == pytest.approx(10.0)
    assert np.allclose(np.diff(1 / np.array(focus)), (1 / 10 - 1 / 0.5) / 4)


def test_aperture_sweep_is_monotonic_and_plays(tabletop, tmp_path):
    done = []
    # no highlight boost: bloomed lights grow with the aperture, which the energy counts as detail
    frames = aperture_sweep(tabletop, frames_per_stop=2, progress=lambda i, n: done.append((i, n)), highlight_boost=0.0)
    assert len(frames) == 15 and done[-1] == (15, 15)
    assert blur_monotonicity([frames[::2]]) == 100.0  # the study stops themselves
    assert blur_monotonicity([frames]) == 100.0
    path = write_mp4(frames, tmp_path / "sweep.mp4", fps=8)
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    decoded = [np.frombuffer(f, dtype=np.uint8).reshape(meta["size"][1], meta["size"][0], 3) for f in reader]
    assert meta["codec"] == "h264" and "yuv420p" in meta["pix_fmt"]
    assert len(decoded) == 15
    assert meta["size"] == (250, 166)  # even already: as rendered, no padding
    first = np.asarray(frames[0], dtype=np.int16)
    assert np.abs(decoded[0].astype(np.int16) - first).mean() < 4
    assert path.read_bytes()[4:8] == b"ftyp" and path.read_bytes().find(b"moov") < path.read_bytes().find(b"mdat")


def test_focus_sweep_and_captions(tabletop):
    frames = focus_sweep(tabletop, frames=4, captions=True)
    assert len(frames) == 4 and frames[0].size == (250, 166)
    plain = focus_sweep(tabletop, frames=4)
    assert not np.array_equal(np.asarray(frames[0]), np.asarray(plain[0]))  # the caption is burnt in
    labelled = caption(plain[0], "f/2.8")
    corner = np.asarray(labelled)[-30:, :60]
    assert corner.max() >= 240 and corner.min() == 0  # white text on a black box


def test_write_mp4_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        write_mp4([], tmp_path / "a.mp4")
    with pytest.raises(ValueError, match="same size"):
        write_mp4([np.zeros((16, 16, 3), np.uint8), np.zeros((32, 16, 3), np.uint8)], tmp_path / "b.mp4")
    with pytest.raises(ValueError, match="fps"):
        write_mp4([np.zeros((16, 16, 3), np.uint8)], tmp_path / "c.mp4", fps=float("nan"))


def _avc_level(path) -> int:
    """The level the MP4 signals (AVCLevelIndication of its avcC box: 52 is level 5.2)."""
    data = path.read_bytes()
    box = data.find(b"avcC")
    assert box > 0, "no avcC box"
    return data[box + 4 + 3]


def test_odd_sizes_are_cropped_to_even_never_padded(tmp_path):
    frame = np.full((501, 741, 3), 200, np.uint8)
    frame[:, -1] = 0  # the last column goes, the picture stays as it is
    path = write_mp4([frame, frame], tmp_path / "odd.mp4")
    decoded = read_frames(path)
    assert decoded[0].shape == (500, 740, 3) and len(decoded) == 2
    for border in (decoded[0][0], decoded[0][-1], decoded[0][:, 0], decoded[0][:, -1]):
        assert np.abs(border.astype(int) - 200).max() < 8  # no black border
    assert _avc_level(path) <= 52


def test_large_frames_scale_down_to_level_5_2(tmp_path):
    ramp = np.linspace(0, 255, 4096, dtype=np.float32)
    frame = np.stack([np.broadcast_to(ramp, (4096, 4096)), np.broadcast_to(ramp[:, None], (4096, 4096)), np.full((4096, 4096), 90.0)], -1).astype(np.uint8)
    path = write_mp4([frame, frame[::-1]], tmp_path / "big.mp4", fps=12)
    decoded = read_frames(path)
    assert decoded[0].shape == (3072, 3072, 3)
    assert _avc_level(path) <= 52
    # scaled, not cropped: the ramps still run edge to edge
    assert decoded[0][1536, 0, 0] < 12 and decoded[0][1536, -1, 0] > 243 and decoded[0][-1, 1536, 1] > 243
    assert h264_size(4096, 2731) == (3742, 2494) and h264_size(1536, 1024) == (1536, 1024) and h264_size(741, 500) == (740, 500)
