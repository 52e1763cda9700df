import pytest
import torch
from PIL import Image, ImageDraw

from dofgen.saliency import SaliencyEstimator, SpectralResidualSaliency, load_saliency, spectral_residual

from tests.support.tiny_models import save_tiny_clipseg


def _blob_image(centre: tuple[int, int], size: tuple[int, int] = (160, 120)) -> Image.Image:
    image = Image.new("RGB", size, (90, 110, 100))
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 8):  # a regular pattern: predictable, so not salient
        draw.line([(x, 0), (x, size[1])], fill=(100, 118, 108))
    cx, cy = centre
    draw.ellipse([cx - 10, cy - 10, cx + 10, cy + 10], fill=(230, 40, 40))
    return image


@pytest.mark.parametrize("centre", [(40, 30), (120, 90), (80, 60)])
def test_spectral_residual_finds_the_blob(centre):
    saliency = SpectralResidualSaliency()(_blob_image(centre))
    assert saliency.shape == (120, 160)
    assert float(saliency.min()) >= 0.0 and float(saliency.max()) == pytest.approx(1.0)
    ys, xs = torch.meshgrid(torch.arange(120), torch.arange(160), indexing="ij")
    inside = (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2 < 12**2
    far = (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2 > 40**2
    assert saliency[inside].mean() > 3 * saliency[far].mean()
    peak = torch.nonzero(saliency == saliency.max())[0]
    assert abs(int(peak[0]) - centre[1]) < 15 and abs(int(peak[1]) - centre[0]) < 15


def test_flat_image_has_empty_saliency():
    assert torch.count_nonzero(spectral_residual(torch.full((3, 50, 70), 0.4))) == 0


def test_tiny_clipseg_through_from_pretrained(tmp_path):
    folder = save_tiny_clipseg(tmp_path / "clipseg")
    estimator = SaliencyEstimator.from_pretrained(str(folder), device="cpu")
    image = _blob_image((50, 50))
    saliency = estimator(image)
    assert saliency.shape == (120, 160)
    assert float(saliency.min()) >= 0.0 and float(saliency.max()) <= 1.0
    assert torch.equal(estimator(image), saliency)
    assert isinstance(load_saliency(str(folder)), SaliencyEstimator)


def test_saliency_choice(tmp_path, monkeypatch):
    monkeypatch.setenv("DOFGEN_SALIENCY", "spectral")
    assert isinstance(load_saliency(), SpectralResidualSaliency)
    with pytest.raises(RuntimeError, match="DOFGEN_SALIENCY"):
        SaliencyEstimator.from_pretrained(str(tmp_path / "missing"))
    fallback = load_saliency(str(tmp_path / "missing"))  # an unloadable model: the weight-free estimator, and why
    assert isinstance(fallback, SpectralResidualSaliency) and "DOFGEN_SALIENCY" in fallback.reason
