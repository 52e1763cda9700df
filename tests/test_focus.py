import pytest
import torch

from dofgen.focus import focus_at, focus_distance


def _scene():
    """A subject at 1.5 m (rows 20-60, cols 30-70) before a wall at 6 m, a floor ramp below."""
    depth = torch.full((100, 120), 6.0)
    depth[20:60, 30:70] = 1.5
    depth[80:] = torch.linspace(1.0, 3.0, 20)[:, None].expand(20, 120)
    return depth


def test_focus_follows_the_salient_object():
    depth = _scene()
    saliency = torch.zeros_like(depth)
    saliency[20:60, 30:70] = 1.0
    assert focus_distance(depth, saliency) == pytest.approx(1.5)
    saliency = torch.zeros_like(depth)
    saliency[0:15] = 1.0
    assert focus_distance(depth, saliency) == pytest.approx(6.0)


def test_focus_is_robust_to_outliers_and_holes():
    depth = _scene()
    saliency = torch.zeros_like(depth)
    saliency[20:60, 30:70] = 1.0
    depth[25:30, 35:40] = 500.0  # stray far values inside the subject
    depth[40:45, 40:45] = float("nan")
    saliency[50, 50] = float("nan")
    assert focus_distance(depth, saliency) == pytest.approx(1.5)


def test_empty_saliency_falls_back_to_the_centre():
    depth = torch.full((100, 100), 8.0)
    depth[35:65, 35:65] = 2.0
    assert focus_distance(depth, torch.zeros_like(depth)) == pytest.approx(2.0)
    assert focus_distance(depth, None) == pytest.approx(2.0)


def test_clicks_on_foreground_background_and_edges():
    depth = _scene()
    assert focus_at(depth, 50, 40) == pytest.approx(1.5)
    assert focus_at(depth, 100, 10) == pytest.approx(6.0)
    assert focus_at(depth, 60, 90) == pytest.approx(float(depth[90, 60]), rel=0.03)
    # on the subject's edge: the nearer surface is meant
    assert focus_at(depth, 30, 40) == pytest.approx(1.5)
    assert focus_at(depth, 29, 40) == pytest.approx(1.5)
    # well off the edge, the background wins even with a sliver of subject in the window
    assert focus_at(depth, 72, 40, radius=4) == pytest.approx(6.0)


def test_click_in_a_hole_and_outside():
    depth = _scene()
    depth[40:50, 90:100] = float("nan")
    assert focus_at(depth, 95, 45) == pytest.approx(6.0)
    for x, y in [(-1, 5), (120, 5), (5, 100), (5, -3)]:
        with pytest.raises(ValueError, match="outside"):
            focus_at(depth, x, y)
