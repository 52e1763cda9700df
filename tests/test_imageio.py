import numpy as np
import torch
from PIL import Image

from dofgen.color import linear_to_srgb, srgb_to_linear
from dofgen.imageio import linear_to_pil, to_linear, to_pil, to_tensor


def test_lookup_tables_match_the_transfer_function():
    image = Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2))
    assert torch.allclose(to_linear(image), srgb_to_linear(to_tensor(image)), atol=1e-6)
    linear = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0)) ** 3
    fast = np.asarray(linear_to_pil(linear), dtype=np.int16)
    exact = np.asarray(to_pil(linear_to_srgb(linear)), dtype=np.int16)
    assert np.abs(fast - exact).max() <= 1 and (fast != exact).mean() < 0.01
    assert np.asarray(linear_to_pil(torch.tensor([[[-1.0, 0.0, 1.0, 2.0]]]).expand(3, 1, 4))).tolist()[0] == [[0] * 3, [0] * 3, [255] * 3, [255] * 3]
