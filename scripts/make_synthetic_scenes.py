"""Render the bundled synthetic RGB-D scenes (exact depth) into dofgen/assets/scenes/.

Run from the repository root: ``python -m scripts.make_synthetic_scenes``. Deterministic.
Pinhole images with a z-buffer: every pixel's depth is the exact distance (metres, along
the optical axis) of the surface it shows. Scenes: ``tabletop``, ``street-at-night`` and
``portrait`` (a head-and-shoulders figure before a far, textured wall with small lights:
the Explore tab's first screen).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parent.parent / "dofgen" / "assets" / "scenes"
WIDTH, HEIGHT = 1024, 683
FOCAL_MM, SENSOR_MM = 50.0, 36.0


def _rays(width: int = WIDTH, height: int = HEIGHT, focal_mm: float = FOCAL_MM) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel ray slopes (x/z, y/z), y pointing down, of a pinhole ``focal_mm`` on the sensor."""
    focal_px = width * focal_mm / SENSOR_MM
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    return (xs + 0.5 - width / 2) / focal_px, (ys + 0.5 - height / 2) / focal_px


def _noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Smooth value noise in [0, 1] of the given shape."""
    grid = rng.random((cells + 1, cells + 1))
    img = Image.fromarray((grid * 255).astype(np.uint8)).resize(shape[::-1], Image.BICUBIC)
    return np.asarray(img, dtype=np.float64) / 255.0


class Canvas:
    """Colour and depth buffers; nearer surfaces win."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT, focal_mm: float = FOCAL_MM, f_number: float = 2.8) -> None:
        self.rgb = np.zeros((height, width, 3))
        self.depth = np.full((height, width), np.inf)
        self.camera = {"focal_length_mm": focal_mm, "sensor_width_mm": SENSOR_MM, "f_number": f_number}

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W)."""
        return self.depth.shape

    def draw(self, depth: np.ndarray, rgb: np.ndarray, mask: np.ndarray) -> None:
        win = mask & (depth < self.depth) & (depth > 0)
        self.depth[win] = depth[win]
        self.rgb[win] = rgb[win]

    def save(self, name: str, meta: dict) -> None:
        if not np.isfinite(self.depth).all():
            raise RuntimeError(f"{name}: some pixels show no surface")
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((np.clip(self.rgb, 0, 1) * 255).round().astype(np.uint8)).save(folder / "image.png", optimize=True)
        depth_mm = np.clip(np.round(self.depth * 1000), 1, 65535).astype(np.uint16)
        Image.fromarray(depth_mm).save(folder / "depth.png", optimize=True)
        (folder / "scene.json").write_text(json.dumps(dict(meta, camera=self.camera, depth_unit="millimetres, 16-bit PNG"), indent=2) + "\n")


def _floor(canvas: Canvas, sx: np.ndarray, sy: np.ndarray, height_m: float, colours: tuple, tile_m: float, rng) -> None:
    below = sy > 1e-6
    z = np.where(below, height_m / np.maximum(sy, 1e-6), np.inf)
    x = sx * z
    checker = ((np.floor(x / tile_m) + np.floor(z / tile_m)) % 2)[..., None]
    grain = _noise(rng, canvas.shape, 90)[..., None] * 0.12
    rgb = np.where(checker > 0, np.array(colours[0]), np.array(colours[1])) * (0.94 + grain)
    canvas.draw(z, rgb, below & (z < 40))


def _wall(canvas: Canvas, z: float, base: tuple, rng) -> None:
    tex = _noise(rng, canvas.shape, 24)[..., None] * 0.25 + _noise(rng, canvas.shape, 200)[..., None] * 0.1
    canvas.draw(np.full(canvas.shape, z), np.array(base) * (0.8 + tex), np.ones(canvas.shape, bool))


def _lights(canvas: Canvas, sx, sy, z: float, count: int, rng, top: float, bottom: float, radius: tuple[float, float]) -> None:
    """Small bright bulbs on a plane at depth z (they bloom into bokeh discs when defocused)."""
    px, py = sx * z, sy * z
    for _ in range(count):
        cx, cy = rng.uniform(px.min(), px.max()), rng.uniform(top, bottom)
        r = rng.uniform(*radius)
        hue = rng.choice([(1.0, 0.86, 0.55), (1.0, 0.75, 0.45), (1.0, 0.95, 0.85), (0.7, 0.85, 1.0)])
        disc = (px - cx) ** 2 + (py - cy) ** 2 < r**2
        canvas.draw(np.full(canvas.shape, z - 0.01), np.broadcast_to(np.array(hue), (*canvas.shape, 3)), disc)


def _cylinder(canvas: Canvas, sx, sy, centre_x: float, centre_z: float, radius: float, height: float, floor_h: float, colour, rng) -> None:
    """An upright cylinder (a mug, a vase, a tree trunk): exact curved depth."""
    # Ray x = sx z hits (x - cx)^2 + (z - cz)^2 = r^2; take the nearer root.
    a = sx**2 + 1
    b = -2 * (sx * centre_x + centre_z)
    c = centre_x**2 + centre_z**2 - radius**2
    disc = b**2 - 4 * a * c
    hit = disc > 0
    z = np.where(hit, (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a), np.inf)
    py = sy * z
    mask = hit & (py < floor_h) & (py > floor_h - height)
    normal_x = (sx * z - centre_x) / radius
    shade = 0.55 + 0.45 * np.clip(-normal_x * 0.5 + np.sqrt(np.clip(1 - normal_x**2, 0, 1)) * 0.85, 0, 1)
    stripes = 0.9 + 0.1 * np.sin((py / height) * 40)
    rgb = np.array(colour) * (shade * stripes)[..., None]
    spec = np.exp(-((normal_x + 0.35) ** 2) / 0.004)[..., None] * 0.6
    canvas.draw(z, np.clip(rgb + spec, 0, 1), mask)


def tabletop() -> None:
    rng = np.random.default_rng(7)
    sx, sy = _rays()
    canvas = Canvas()
    floor_h = 0.35
    _wall(canvas, 5.0, (0.16, 0.13, 0.12), rng)
    _lights(canvas, sx, sy, 4.9, 70, rng, -1.9, -0.4, (0.012, 0.025))
    _floor(canvas, sx, sy, floor_h, ((0.72, 0.62, 0.5), (0.45, 0.33, 0.24)), 0.15, rng)
    _cylinder(canvas, sx, sy, -0.05, 1.2, 0.06, 0.2, floor_h, (0.85, 0.25, 0.18), rng)
    _cylinder(canvas, sx, sy, 0.35, 2.0, 0.07, 0.32, floor_h, (0.2, 0.45, 0.8), rng)
    _cylinder(canvas, sx, sy, -0.55, 2.8, 0.1, 0.55, floor_h, (0.25, 0.6, 0.3), rng)
    _cylinder(canvas, sx, sy, 0.2, 0.75, 0.05, 0.12, floor_h, (0.95, 0.8, 0.2), rng)
    canvas.save("tabletop", {
        "title": "Tabletop with string lights (synthetic)",
        "source": "rendered by scripts/make_synthetic_scenes.py (pinhole, exact depth)",
        "licence": "CC0-1.0",
        "attribution": "dofgen authors",
        "suggested_focus_m": 2.0,
        "focus_point": [0.45, 0.85],
    })


def street_at_night() -> None:
    rng = np.random.default_rng(11)
    sx, sy = _rays()
    canvas = Canvas()
    floor_h = 1.5
    _wall(canvas, 30.0, (0.05, 0.06, 0.1), rng)
    _lights(canvas, sx, sy, 29.0, 120, rng, -9.0, 1.0, (0.08, 0.16))
    _floor(canvas, sx, sy, floor_h, ((0.25, 0.25, 0.27), (0.2, 0.2, 0.22)), 1.0, rng)
    posts = [(-2.5, 6.0), (1.8, 9.0), (-1.2, 14.0), (3.5, 20.0)]
    for x, z in posts:
        _cylinder(canvas, sx, sy, x, z, 0.12, 4.0, floor_h, (0.5, 0.5, 0.55), rng)
    _cylinder(canvas, sx, sy, 0.4, 3.0, 0.25, 1.7, floor_h, (0.85, 0.7, 0.55), rng)  # a person-sized column
    canvas.save("street-at-night", {
        "title": "Street at night (synthetic)",
        "source": "rendered by scripts/make_synthetic_scenes.py (pinhole, exact depth)",
        "licence": "CC0-1.0",
        "attribution": "dofgen authors",
        "suggested_focus_m": 3.0,
        "focus_point": [0.68, 0.7],
    })


def _ellipsoid(sx, sy, centre: tuple[float, float, float], axes: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Where the rays meet an axis-aligned ellipsoid (nearer root): depth (H, W), inf where
    they miss, and unit normals (H, W, 3)."""
    direction = np.stack([sx, sy, np.ones_like(sx)], -1) / np.array(axes)
    origin = -np.array(centre) / np.array(axes)
    a = (direction**2).sum(-1)
    b = 2 * (direction * origin).sum(-1)
    c = (origin**2).sum() - 1
    disc = b**2 - 4 * a * c
    z = np.where(disc > 0, (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a), np.inf)
    point = np.stack([sx * z, sy * z, z], -1)
    normal = np.nan_to_num((point - np.array(centre)) / np.array(axes) ** 2)
    return z, normal / np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-9)


def _lit(normal: np.ndarray, colour: tuple, texture: np.ndarray) -> np.ndarray:
    """``colour`` lit by a soft key light from the upper left, (H, W, 3)."""
    light = np.array([-0.45, -0.55, -0.7]) / np.linalg.norm([-0.45, -0.55, -0.7])
    shade = 0.32 + 0.68 * np.clip((normal * light).sum(-1), 0, 1)
    return np.array(colour) * (shade * texture)[..., None]


def _figure(canvas: Canvas, sx, sy, x: float, z: float, rng) -> None:
    """A stylised head-and-shoulders figure: head, hair, eyes, neck and torso as ellipsoids."""
    shape = canvas.shape
    head_c, head_axes = (x, -0.09, z), (0.085, 0.115, 0.095)
    head, normal = _ellipsoid(sx, sy, head_c, head_axes)
    px, py = sx * head - x, sy * head + 0.09
    eyes = sum(((px - ex) / 0.014) ** 2 + ((py + 0.02) / 0.007) ** 2 < 1 for ex in (-0.032, 0.032))
    mouth = ((px / 0.025) ** 2 + ((py - 0.055) / 0.005) ** 2) < 1
    skin = _lit(normal, (0.87, 0.64, 0.52), 0.95 + 0.05 * _noise(rng, shape, 300))
    skin = np.where((eyes > 0)[..., None], np.array([0.12, 0.08, 0.07]), np.where(mouth[..., None], np.array([0.62, 0.3, 0.3]), skin))
    canvas.draw(head, skin, np.isfinite(head))
    hair, normal = _ellipsoid(sx, sy, (x, -0.105, z + 0.012), (0.094, 0.122, 0.1))
    strands = 0.75 + 0.25 * _noise(rng, shape, 420)
    canvas.draw(hair, _lit(normal, (0.24, 0.15, 0.09), strands), np.isfinite(hair) & (sy * hair < -0.11))
    neck, normal = _ellipsoid(sx, sy, (x, 0.045, z + 0.02), (0.045, 0.075, 0.045))
    canvas.draw(neck, _lit(normal, (0.8, 0.58, 0.47), np.ones(shape)), np.isfinite(neck))
    torso, normal = _ellipsoid(sx, sy, (x, 0.33, z + 0.06), (0.26, 0.21, 0.13))
    weave = 0.85 + 0.1 * _noise(rng, shape, 160) + 0.05 * np.sin(sx * torso * 900)
    canvas.draw(torso, _lit(normal, (0.2, 0.33, 0.56), weave), np.isfinite(torso))


def _foliage(canvas: Canvas, z: float, rng) -> None:
    """A far wall of leaves: greens in clumps, sunlit patches."""
    shape = canvas.shape
    clumps, leaves, light = _noise(rng, shape, 14), _noise(rng, shape, 90), _noise(rng, shape, 6)
    dark, bright = np.array([0.06, 0.16, 0.07]), np.array([0.55, 0.7, 0.3])
    mix = np.clip(0.35 * clumps + 0.45 * leaves + 0.5 * light - 0.25, 0, 1)[..., None]
    canvas.draw(np.full(shape, z), dark + (bright - dark) * mix**1.4, np.ones(shape, bool))


def portrait() -> None:
    """A person at 2 m before trees (5 and 7.5 m), string lights (9 m) and leaves (12 m); 85 mm f/1.8."""
    width, height, focal_mm = 1536, 1024, 85.0
    rng = np.random.default_rng(23)
    sx, sy = _rays(width, height, focal_mm)
    canvas = Canvas(width, height, focal_mm, f_number=1.8)
    _foliage(canvas, 12.0, rng)
    _lights(canvas, sx, sy, 9.0, 60, rng, -1.25, 0.1, (0.02, 0.04))
    for trunk_x, trunk_z in ((0.62, 5.0), (-0.95, 7.5)):
        _cylinder(canvas, sx, sy, trunk_x, trunk_z, 0.14, 8.0, 4.0, (0.36, 0.27, 0.2), rng)
    _figure(canvas, sx, sy, -0.1, 2.0, rng)
    canvas.save("portrait", {
        "title": "Portrait before trees and lights (synthetic)",
        "source": "rendered by scripts/make_synthetic_scenes.py (pinhole, exact depth)",
        "licence": "CC0-1.0",
        "attribution": "dofgen authors",
        "suggested_focus_m": 1.91,
        "focus_point": [0.46, 0.36],
    })


if __name__ == "__main__":
    np.seterr(invalid="ignore", divide="ignore")  # rays that miss a surface give inf/nan, masked out
    tabletop()
    street_at_night()
    portrait()
    print(f"wrote scenes to {OUT}")
