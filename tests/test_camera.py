import io
import math

import pytest
import torch
from PIL import Image

from dofgen.camera import STANDARD_STOPS, STUDY_STOPS, CameraSettings


def test_valid_camera_keeps_values():
    camera = CameraSettings(2.8, 50.0, 3.0)
    assert (camera.f_number, camera.focal_length_mm, camera.focus_distance_m, camera.sensor_width_mm) == (2.8, 50.0, 3.0, 36.0)
    with pytest.raises(AttributeError):
        camera.f_number = 4.0  # frozen


@pytest.mark.parametrize(
    "kwargs, field, allowed",
    [
        (dict(f_number=0.5), "f_number", "0.7 to 64"),
        (dict(f_number=-2.0), "f_number", "0.7 to 64"),
        (dict(f_number=100.0), "f_number", "0.7 to 64"),
        (dict(focal_length_mm=2.0), "focal_length_mm", "4 to 1200 mm"),
        (dict(focal_length_mm=5000.0), "focal_length_mm", "4 to 1200 mm"),
        (dict(sensor_width_mm=0.5), "sensor_width_mm", "1 to 100 mm"),
        (dict(focus_distance_m=0.04), "focus_distance_m", "greater than the focal length"),
    ],
)
def test_out_of_range_names_field_value_and_range(kwargs, field, allowed):
    values = dict(f_number=2.8, focal_length_mm=50.0, focus_distance_m=2.0) | kwargs
    with pytest.raises(ValueError) as error:
        CameraSettings(**values)
    message = str(error.value)
    assert field in message and allowed in message and f"{kwargs[field]:g}" in message


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "wide", None])
def test_non_finite_or_non_numeric_is_refused(bad):
    with pytest.raises(ValueError, match="f_number"):
        CameraSettings(bad, 50.0, 2.0)


def test_tensor_fields_are_accepted_for_gradients():
    f_number = torch.tensor(2.0, requires_grad=True)
    camera = CameraSettings(f_number, 50.0, torch.tensor(2.5))
    assert camera.f_number is f_number
    with pytest.raises(ValueError, match="f_number"):
        CameraSettings(torch.tensor(float("nan")), 50.0, 2.0)


def test_stops():
    assert STUDY_STOPS == (1.8, 2.8, 4.0, 5.6, 8.0, 11.0, 16.0, 22.0)
    assert STANDARD_STOPS[0] == 1.4 and STANDARD_STOPS[-1] == 22.0
    assert list(STANDARD_STOPS) == sorted(STANDARD_STOPS)


def _photo(exif_values: dict[int, object]) -> Image.Image:
    image = Image.new("RGB", (8, 8))
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd.update(exif_values)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    buffer.seek(0)
    return Image.open(buffer)


def test_from_exif_reads_tags_and_crop_factor():
    photo = _photo({33437: 1.8, 37386: 35.0, 41989: 52, 37382: 4.5})
    result = CameraSettings.from_exif(photo)
    camera = result.camera
    assert camera.f_number == pytest.approx(1.8)
    assert camera.focal_length_mm == pytest.approx(35.0)
    assert camera.focus_distance_m == pytest.approx(4.5)
    assert camera.sensor_width_mm == pytest.approx(36.0 * 35.0 / 52.0)
    assert set(result.from_exif) == {"f_number", "focal_length_mm", "focus_distance_m", "sensor_width_mm"}


def test_from_exif_falls_back_on_missing_and_corrupt_tags():
    photo = _photo({33437: 0.0, 37386: 120.0})  # f/0 is corrupt
    result = CameraSettings.from_exif(photo, f_number=4.0)
    assert result.camera.f_number == 4.0 and result.camera.focal_length_mm == pytest.approx(120.0)
    assert result.from_exif == ("focal_length_mm",)
    plain = CameraSettings.from_exif(Image.new("RGB", (4, 4)))
    assert plain.from_exif == () and plain.camera.f_number == 2.8


def test_third_stops_hold_the_full_stops_every_third_step():
    from dofgen.camera import THIRD_STOPS

    assert THIRD_STOPS[::3] == STANDARD_STOPS
    exact = [math.sqrt(2) ** (1 + k / 3) for k in range(len(THIRD_STOPS))]  # f/1.4 opens sqrt(2) per stop
    assert THIRD_STOPS == pytest.approx(exact, rel=0.05)


@pytest.mark.parametrize("f_number, focal, focus, sensor", [(1.8, 85.0, 1.94, 36.0), (8.0, 24.0, 3.0, 36.0), (2.2, 6.9, 1.2, 9.6), (16.0, 50.0, 40.0, 36.0)])
def test_depth_of_field_limits_are_where_the_thin_lens_blur_reaches_the_coc(f_number, focal, focus, sensor):
    from dofgen.camera import circle_of_confusion_mm, depth_of_field
    from dofgen.lens import coc_diameter_px

    camera = CameraSettings(f_number, focal, focus, sensor)
    coc = circle_of_confusion_mm(camera)
    dof = depth_of_field(camera, coc)
    assert dof.near_m < focus < dof.far_m
    # coc_diameter_px with width_px = the sensor's width in mm gives the circle in millimetres
    ends = [dof.near_m] + ([dof.far_m] if math.isfinite(dof.far_m) else [])
    blur = coc_diameter_px(torch.tensor(ends, dtype=torch.float64), camera, sensor).abs()
    assert blur.tolist() == pytest.approx([coc] * len(ends), rel=1e-9)
    inside = torch.tensor([dof.near_m * 1.01, focus, min(dof.far_m, 1e6) * 0.99], dtype=torch.float64)
    assert (coc_diameter_px(inside, camera, sensor).abs() < coc).all()
    assert math.isinf(dof.far_m) == (focus >= dof.hyperfocal_m)


def test_depth_of_field_of_a_known_case():
    from dofgen.camera import circle_of_confusion_mm, depth_of_field

    camera = CameraSettings(8.0, 50.0, 3.0)
    assert circle_of_confusion_mm(camera) == pytest.approx(math.hypot(36, 24) / 1500) == pytest.approx(0.0288, abs=1e-4)
    dof = depth_of_field(camera, 0.03)  # by hand: H = 0.05^2 / (8 * 3e-5) + 0.05 = 10.4667 m
    assert (dof.hyperfocal_m, dof.near_m, dof.far_m) == pytest.approx((10.4667, 31.25 / 13.3667, 31.25 / 7.4667), rel=1e-4)
    with pytest.raises(ValueError, match="coc_mm"):
        depth_of_field(camera, 0.0)


def test_equivalent_focal_length_inverts_the_exif_crop_factor():
    from dofgen.camera import equivalent_focal_length_mm

    phone = Image.new("RGB", (8, 6))
    exif = phone.getexif()
    exif.get_ifd(0x8769).update({0x920A: 6.9, 0xA405: 26})  # FocalLength, FocalLengthIn35mmFilm
    buffer = io.BytesIO()
    phone.save(buffer, format="JPEG", exif=exif)
    camera = CameraSettings.from_exif(Image.open(buffer)).camera
    assert equivalent_focal_length_mm(camera) == pytest.approx(26.0, rel=1e-6)
    assert equivalent_focal_length_mm(CameraSettings(2.8, 50.0, 2.0)) == 50.0
