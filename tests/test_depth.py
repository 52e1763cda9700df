import pytest
import torch
from PIL import Image

from dofgen.depth import DepthEstimator, fill_holes, relative_to_metres

from tests.support.tiny_models import save_tiny_depth_anything


def test_fill_holes_takes_the_surface_behind():
    depth = torch.full((20, 30), 2.0)
    depth[:, 15:] = 6.0
    depth[5:9, 13:17] = float("nan")  # an occlusion hole on the edge
    depth[0, 0] = -1.0
    depth[12, 25] = float("inf")
    filled, count = fill_holes(depth)
    assert count == 18
    assert torch.isfinite(filled).all() and (filled > 0).all()
    assert filled[12, 25] == 6.0 and filled[0, 0] == 2.0
    assert (filled[5:9, 15:17] == 6.0).all()  # far side of the hole: the background
    untouched = torch.isfinite(depth) & (depth > 0)
    assert torch.equal(filled[untouched], depth[untouched])


def test_fill_holes_shapes_and_errors():
    filled, count = fill_holes(torch.tensor([[float("nan"), 3.0, float("inf")]]))
    assert count == 2 and torch.equal(filled, torch.full((1, 3), 3.0))
    batch = torch.rand(2, 1, 8, 8) + 1.0
    batch[1, 0, :4] = 0.0
    filled, count = fill_holes(batch)
    assert filled.shape == batch.shape and count == 32 and (filled > 0).all()
    with pytest.raises(ValueError, match="no valid value"):
        fill_holes(torch.full((4, 4), float("nan")))
    with pytest.raises(ValueError, match="no valid value"):
        fill_holes(torch.stack([torch.ones(3, 3), torch.zeros(3, 3)]))


def test_relative_depth_is_converted_explicitly():
    inverse = torch.tensor([[1.0, 2.0], [4.0, 0.0]])
    depth, note = relative_to_metres(inverse)
    assert "not metric" in note
    assert depth[0, 1] == pytest.approx(3.0)  # the median pixel sits at 3 m
    assert depth[0, 0] == pytest.approx(2 * depth[0, 1]) and torch.isnan(depth[1, 1])


@pytest.mark.parametrize("metric", [True, False])
def test_tiny_depth_anything_through_from_pretrained(tmp_path, metric):
    folder = save_tiny_depth_anything(tmp_path / "depth", metric=metric)
    estimator = DepthEstimator.from_pretrained(str(folder), device="cpu")
    image = Image.new("RGB", (97, 61), (120, 80, 40))
    image.putpixel((10, 10), (255, 255, 255))
    result = estimator(image)
    assert result.depth.shape == (61, 97) and result.depth.dtype == torch.float32
    assert result.metric is metric
    assert torch.isfinite(result.depth).all() and (result.depth > 0).all()
    assert ("metres" in result.conversion) if metric else ("not metric" in result.conversion)
    assert torch.equal(estimator(image).depth, result.depth)  # deterministic


def test_unloadable_depth_model_says_what_to_set(tmp_path):
    with pytest.raises(RuntimeError, match="DOFGEN_DEPTH"):
        DepthEstimator.from_pretrained(str(tmp_path / "missing"))
