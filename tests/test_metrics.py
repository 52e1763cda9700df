import random

import numpy as np
import pytest
import torch
from PIL import Image

from dofgen.camera import STUDY_STOPS, CameraSettings
from dofgen.groundtruth import noise_texture
from dofgen.lens import render
from dofgen.metrics import blur_monotonicity, signal_energy


def _sweeps(count: int, size: int = 48) -> list[torch.Tensor]:
    sweeps = []
    for seed in range(count):
        generator = torch.Generator().manual_seed(seed)
        image = noise_texture(size, size, seed, colour=tuple(torch.rand(3, generator=generator).tolist()))
        depth = torch.linspace(0.6, 9.0, size).expand(size, size).clone()
        top, left = torch.randint(0, size // 2, (2,), generator=generator).tolist()
        depth[top : top + size // 3, left : left + size // 3] = 1.0 + 3.0 * torch.rand(1, generator=generator).item()
        cameras = [CameraSettings(n, 50.0, 2.0, sensor_width_mm=4.0) for n in STUDY_STOPS]
        sweeps.append(torch.stack([render(image, depth, camera) for camera in cameras]))
    return sweeps


def test_energy_is_parseval():
    image = torch.rand(3, 16, 20, dtype=torch.float64)
    assert signal_energy(image).item() == pytest.approx(16 * 20 * image.double().square().sum().item(), rel=1e-9)
    assert signal_energy(torch.rand(5, 3, 8, 8)).shape == (5,)
    centred = image - image.mean(dim=(-2, -1), keepdim=True)
    assert signal_energy(image, include_dc=False).item() == pytest.approx(signal_energy(centred).item(), rel=1e-9)


def test_our_sweeps_score_100_reversed_0_shuffled_about_50():
    sweeps = _sweeps(6)
    assert blur_monotonicity(sweeps) == 100.0
    assert blur_monotonicity([sweep.flip(0) for sweep in sweeps]) == 0.0
    rng = random.Random(0)
    shuffled = []
    for _ in range(60):
        sweep = sweeps[rng.randrange(len(sweeps))]
        order = list(range(sweep.shape[0]))
        rng.shuffle(order)
        shuffled.append(sweep[order])
    assert 40.0 <= blur_monotonicity(shuffled) <= 60.0


def test_accepts_frames_as_arrays_and_images():
    sweep = _sweeps(1)[0]
    arrays = [(frame.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for frame in sweep]
    assert blur_monotonicity([arrays]) == 100.0
    assert blur_monotonicity([[Image.fromarray(a) for a in arrays]]) == 100.0
    with pytest.raises(ValueError, match="two"):
        blur_monotonicity([sweep[:1]])
    with pytest.raises(ValueError, match="no sweeps"):
        blur_monotonicity([])


def test_theorem_f1_on_random_images_and_kernels():
    generator = torch.Generator().manual_seed(1)
    for _ in range(50):
        f = torch.randn(3, 24, 24, generator=generator, dtype=torch.float64)
        h = torch.rand(24, 24, generator=generator, dtype=torch.float64) * (torch.rand(24, 24, generator=generator) < 0.2)
        h[0, 0] += 1e-3  # at least two non-zero entries in practice
        h = h / h.sum()
        g = torch.fft.ifft2(torch.fft.fft2(f) * torch.fft.fft2(h)).real  # circular convolution
        assert signal_energy(g) < signal_energy(f)
        assert signal_energy(g, include_dc=False) < signal_energy(f, include_dc=False)
    delta = torch.zeros(24, 24, dtype=torch.float64)
    delta[0, 0] = 1.0
    g = torch.fft.ifft2(torch.fft.fft2(f) * torch.fft.fft2(delta)).real
    assert signal_energy(g).item() == pytest.approx(signal_energy(f).item())


def test_paper_and_ac_energies_disagree_on_a_linear_light_blur():
    """A black-and-white checkerboard blurred flat in linear light becomes sRGB grey 0.735:
    its mean rose from 0.5, so Section F.2's energy (DC included) calls the blurred frame the
    sharper one, while the AC energy (no detail left) does not."""
    from dofgen.color import linear_to_srgb, srgb_to_linear

    sharp = ((torch.arange(16)[:, None] + torch.arange(16)[None]) % 2).float().expand(3, 16, 16)
    flat = linear_to_srgb(srgb_to_linear(sharp).mean(dim=(-2, -1), keepdim=True).expand_as(sharp))
    assert flat[0, 0, 0].item() == pytest.approx(0.7354, abs=1e-3)
    sweep = torch.stack([flat, sharp])  # f/1.8 (all blur) then f/16 (sharp)
    assert blur_monotonicity([sweep], energy="paper") == 0.0
    assert blur_monotonicity([sweep], energy="ac") == 100.0
    assert blur_monotonicity([sweep]) == 100.0  # the default is "ac"
    # exact energies: the paper's counts the mean's square, 256 pixels x 3 channels
    assert signal_energy(flat).item() == pytest.approx(3 * (256 * 0.7354) ** 2, rel=1e-3)
    assert signal_energy(sharp).item() == pytest.approx(3 * 256 * 128, rel=1e-9)
    # the same blur in the frame's own space keeps the mean: both energies agree (Theorem F.1)
    srgb_flat = sharp.mean(dim=(-2, -1), keepdim=True).expand_as(sharp)
    for energy in ("paper", "ac"):
        assert blur_monotonicity([torch.stack([srgb_flat, sharp])], energy=energy) == 100.0
    with pytest.raises(ValueError, match="energy"):
        blur_monotonicity([sweep], energy="dc")
