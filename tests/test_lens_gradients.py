"""Every lens is differentiable in image, depth, focus distance and f-number."""

import pytest
import torch

from dofgen.camera import CameraSettings
from dofgen.lens import METHODS, render

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", METHODS)
def test_gradients_are_finite_and_non_zero(method, device):
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 32, 32, generator=generator).to(device).requires_grad_()
    base = torch.full((32, 32), 4.0)
    base[8:24, 8:24] = 1.2
    base = base + torch.linspace(0, 0.5, 32)  # a ramp, so no pixel sits exactly on a level
    depth = base.to(device).requires_grad_()
    f_number = torch.tensor(1.8, device=device, requires_grad=True)
    focus = torch.tensor(2.0, device=device, requires_grad=True)
    # 3 px of blur behind the focus distance and 4 px in front: the output depends on depth
    out = render(image, depth, CameraSettings(f_number, 50.0, focus, sensor_width_mm=4.0), method)
    assert out.device.type == device
    weights = torch.rand(out.shape, generator=generator).to(device)
    (out * weights).sum().backward()
    for name, tensor in [("image", image), ("depth", depth), ("f_number", f_number), ("focus", focus)]:
        grad = tensor.grad
        assert grad is not None, name
        assert torch.isfinite(grad).all(), name
        assert grad.abs().sum() > 0, name


def test_gradients_after_an_inference_mode_render():
    """Cached kernels made under inference mode must not break a later backward pass."""
    image = torch.rand(3, 24, 24)
    depth = torch.full((24, 24), 5.0)
    with torch.inference_mode():
        render(image, depth, CameraSettings(1.4, 50.0, 1.0, sensor_width_mm=6.0))
    image.requires_grad_()
    render(image, depth, CameraSettings(1.4, 50.0, 1.0, sensor_width_mm=6.0)).sum().backward()
    assert image.grad is not None and torch.isfinite(image.grad).all()
