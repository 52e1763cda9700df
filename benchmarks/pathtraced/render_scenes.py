"""Render the path-traced lens benchmark with Blender Cycles (thin-lens camera).

Run with a Python that has ``bpy`` (see ``requirements.txt`` here; not part of the app)::

    python benchmarks/pathtraced/render_scenes.py [--scenes portrait ...] [--samples 2048]
    python benchmarks/pathtraced/render_scenes.py --disc-check

Design notes, "References we did not write": Cycles projects like a pinhole of focal length
``lens`` (no focus breathing), so the camera gets ``lens = v = f S / (S - f)`` and f-stop
``N v / f``; its aperture radius is then ``f / (2 N)`` and a point at depth ``d`` spreads over
``c = |d - S| / d * f^2 / (N (S - f))`` on the sensor, the design's circle of confusion.
Materials are emission only (no lighting noise); the pixel filter is a 1 px box for both the
pinhole input and the defocused reference, no denoising, linear float output (OpenEXR).

Each scene is saved as ``scenes/<name>.npz`` (see ``save_scene`` for the fields).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 384, 256
SENSOR_WIDTH_MM = 36.0
#: Object pass indices: lights (HDR emitters) and white surfaces that are not lights.
LIGHT_INDEX, WHITE_INDEX = 2, 3


# ----------------------------------------------------------------------------- scene data
@dataclass
class Texture:
    """Emission colour: ``kind`` is flat, noise, checker, bricks, stripes or image."""

    kind: str = "noise"
    colours: tuple = ((0.05, 0.05, 0.05), (0.6, 0.6, 0.6))
    scale: float = 20.0
    seed: int = 0


@dataclass
class Obj:
    """A primitive in world space: ``shape`` quad, box, sphere or cylinder.

    ``size``: quad (width, height), box (x, y, z), sphere (radius,), cylinder (radius, length).
    ``rotation``: XYZ Euler degrees. ``strength`` > 1 makes a light (HDR emission).
    """

    shape: str
    location: tuple
    size: tuple
    texture: Texture = field(default_factory=Texture)
    rotation: tuple = (0.0, 0.0, 0.0)
    strength: float = 1.0
    index: int = 1


@dataclass
class Scene:
    """A camera at the origin looking down -Z (tilted by ``pitch`` degrees) and its objects."""

    name: str
    what: str
    f_number: float
    focal_length_mm: float
    focus_distance_m: float
    objects: list
    blades: int = 0
    pitch: float = 0.0
    samples: int = 256


def quad(depth: float, width: float, height: float, texture: Texture, x: float = 0.0, y: float = 0.0, **kw) -> Obj:
    """A fronto-parallel rectangle at planar depth ``depth`` (camera unpitched)."""
    return Obj("quad", (x, y, -depth), (width, height), texture, **kw)


def backdrop(depth: float, texture: Texture, focal_mm: float, margin: float = 2.0) -> Obj:
    """A wall filling the view at ``depth`` with a margin for blur beyond the frame."""
    half_w = depth * 18.0 / focal_mm * margin
    return quad(depth, 2 * half_w, 2 * half_w, texture)


def light(x: float, y: float, depth: float, radius: float, strength: float, colour=(1.0, 0.85, 0.6), shape: str = "sphere") -> Obj:
    """A small HDR emitter (a sphere, or a fronto-parallel ``disc`` at exactly ``depth``)."""
    colour = tuple(float(c) for c in colour)
    return Obj(shape, (float(x), float(y), -float(depth)), (float(radius),), Texture("flat", (colour,)), strength=float(strength), index=LIGHT_INDEX)


def frame_x(depth: float, u: float, focal_mm: float, focus_m: float) -> float:
    """World x (metres) at ``depth`` of the image column ``u`` in [-1, 1] (left to right)."""
    v = thin_lens_v(focal_mm, focus_m)
    return u * depth * (SENSOR_WIDTH_MM / 2) / v


def thin_lens_v(focal_mm: float, focus_m: float) -> float:
    """Image distance v = f S / (S - f) in mm: Cycles' ``lens`` for a thin lens focused at S."""
    s = focus_m * 1000.0
    return focal_mm * s / (s - focal_mm)


def coc_px(depth: float, scene: Scene) -> float:
    """Design formula: signed CoC diameter in pixels of a point at planar ``depth`` metres."""
    f = scene.focal_length_mm / 1000.0
    s = scene.focus_distance_m
    c = (depth - s) / depth * f * f / (scene.f_number * (s - f))
    return c * WIDTH / (SENSOR_WIDTH_MM / 1000.0)


def scenes() -> list[Scene]:
    """The benchmark scenes (CoC up to about 20 px at 384 px)."""
    out = []
    grey = Texture("noise", ((0.05, 0.04, 0.03), (0.55, 0.5, 0.45)), 30.0, 1)
    brick = Texture("bricks", ((0.45, 0.12, 0.06), (0.7, 0.65, 0.6)), 6.0, 2)
    skin = Texture("noise", ((0.3, 0.15, 0.09), (0.8, 0.55, 0.42)), 120.0, 3)
    cloth = Texture("stripes", ((0.05, 0.08, 0.25), (0.5, 0.55, 0.7)), 60.0, 4)

    # Portrait: sharp subject at 1.5 m before a textured wall blurred by ~14 px.
    f, s = 85.0, 1.5
    out.append(Scene("portrait", "sharp subject at 1.5 m before a brick wall at 2.8 m (14 px)", 1.8, f, s, [
        quad(2.8, 3.0, 3.0, brick),
        Obj("sphere", (0.03, 0.06, -1.5), (0.065,), skin),
        Obj("box", (0.03, -0.14, -1.55), (0.22, 0.25, 0.1), cloth),
        Obj("box", (-0.2, -0.05, -1.45), (0.03, 0.3, 0.03), Texture("image", ((0.2, 0.3, 0.1), (0.8, 0.7, 0.3)), 3.0, 5)),
    ]))
    # Uniform blur: a single textured plane, every pixel blurred by the same 14 px disc.
    out.append(Scene("uniform_wall", "one textured plane at 2.8 m, focus 1.5 m: uniform 14 px blur", 1.8, f, s, [
        quad(2.8, 3.0, 3.0, Texture("image", ((0.05, 0.05, 0.1), (0.9, 0.8, 0.6)), 1.0, 6)),
    ]))
    # Blurred foreground (leaves at 0.8 m) over a sharp subject at 3 m.
    f, s = 50.0, 3.0
    leaves = [
        quad(0.8, 0.12, 0.08, Texture("noise", ((0.02, 0.15, 0.02), (0.2, 0.5, 0.1)), 80.0, 7), x=x, y=y)
        for x, y in ((-0.2, 0.1), (-0.1, -0.06), (0.16, 0.02), (0.08, 0.12), (-0.25, -0.12))
    ]
    out.append(Scene("foreground_blur", "leaves at 0.8 m (18 px) over a sharp card at 3 m", 1.4, f, s, [
        backdrop(3.6, grey, f),
        quad(3.0, 0.9, 0.6, Texture("image", ((0.6, 0.1, 0.1), (0.95, 0.9, 0.3)), 1.0, 8), x=0.2),
        *leaves,
    ]))
    # A fence at 1.2 m (17 px) before a sharp subject at 2.5 m, wall at 5 m (8 px).
    f, s = 85.0, 2.5
    fence = [quad(1.2, 0.008, 1.2, Texture("noise", ((0.3, 0.2, 0.1), (0.6, 0.45, 0.3)), 200.0, 9), x=-0.5 + 0.08 * i) for i in range(13)]
    fence.append(quad(1.21, 1.2, 0.01, Texture("flat", ((0.5, 0.4, 0.3),)), y=0.05))
    out.append(Scene("fence_front", "fence posts at 1.2 m (17 px) before a sharp card at 2.5 m and a wall at 5 m", 2.0, f, s, [
        backdrop(5.0, Texture("bricks", ((0.1, 0.2, 0.35), (0.6, 0.7, 0.8)), 8.0, 10), f),
        quad(2.5, 0.5, 0.4, Texture("image", ((0.7, 0.2, 0.05), (1.0, 0.9, 0.5)), 2.0, 11), x=0.05),
        *fence,
    ]))

    # Twigs in front of (1.3 m), at (2 m) and behind (4 m) focus, wall at 12 m (17 px).
    f, s = 85.0, 2.0
    rng = np.random.default_rng(12)
    twigs = []
    for depth, count in ((1.3, 5), (2.0, 6), (4.0, 7)):
        half = depth * 18.0 / thin_lens_v(f, s)
        for _ in range(count):
            x, y = rng.uniform(-half, half), rng.uniform(-half * 0.66, half * 0.66)
            twigs.append(Obj("cylinder", (x, y, -depth), (0.0015 * depth, half * rng.uniform(0.8, 1.6)),
                             Texture("noise", ((0.08, 0.05, 0.02), (0.35, 0.25, 0.12)), 300.0, int(rng.integers(100))),
                             rotation=(90.0, 0.0, float(rng.uniform(0, 180)))))
    out.append(Scene("twigs", "thin twigs at 1.3 m (11 px), 2 m (sharp) and 4 m (10 px) before a wall at 12 m (17 px)", 2.0, f, s, [
        backdrop(12.0, Texture("noise", ((0.3, 0.45, 0.6), (0.85, 0.9, 0.95)), 3.0, 13), f),
        *twigs,
    ]))

    # Slanted ground from 2 m to 40 m (-5 to 12 px) seen from 0.8 m above it.
    f, s = 70.0, 3.0
    out.append(Scene("slanted_ground", "checkered ground from 2 m to 40 m (-5 to 12 px), objects at 3 m and 6 m", 1.4, f, s, [
        Obj("quad", (0.0, 30.0, -60.0), (200.0, 80.0), Texture("noise", ((0.4, 0.55, 0.8), (0.8, 0.85, 0.95)), 0.2, 14)),
        Obj("quad", (0.0, -0.8, -50.0), (100.0, 100.0), Texture("checker", ((0.1, 0.25, 0.05), (0.55, 0.6, 0.3)), 4.0, 15), rotation=(-90.0, 0.0, 0.0)),
        Obj("box", (0.1, -0.6, -3.0), (0.3, 0.4, 0.3), Texture("image", ((0.5, 0.05, 0.05), (0.95, 0.8, 0.3)), 3.0, 16)),
        Obj("sphere", (-0.8, -0.5, -6.0), (0.3,), Texture("noise", ((0.05, 0.1, 0.4), (0.6, 0.8, 0.95)), 40.0, 17)),
    ], pitch=12.0))

    # Night lights (HDR, they clip in sRGB) at 4-7 m behind a sharp subject at 1.5 m.
    f, s = 85.0, 1.5
    rng = np.random.default_rng(18)
    # Lights of about 3.5 px radius: a tenth of their bokeh's area, so that enough lens
    # samples hit them (the discs' sampling noise stays low) and they still clip.
    lamps = [light(float(rng.uniform(-1.3, 1.3)) * depth / 5.0, float(rng.uniform(-0.55, 0.7)) * depth / 5.0, depth, 0.018 * depth / 5.0,
                   float(rng.uniform(8.0, 40.0)), tuple(rng.uniform(0.5, 1.0, 3))) for depth in rng.uniform(4.0, 7.0, 14)]
    lamps.append(light(frame_x(5.0, 0.98, f, s), 0.1, 5.0, 0.018, 30.0))  # at the frame's right edge
    lamps.append(light(frame_x(6.0, -1.02, f, s), -0.2, 6.0, 0.018, 30.0))  # just outside the left edge
    night = [
        backdrop(9.0, Texture("bricks", ((0.01, 0.01, 0.02), (0.08, 0.06, 0.05)), 4.0, 19), f),
        Obj("sphere", (-0.05, 0.05, -1.5), (0.06,), skin),
        Obj("box", (-0.05, -0.14, -1.55), (0.2, 0.22, 0.1), Texture("image", ((0.3, 0.02, 0.02), (0.8, 0.3, 0.2)), 3.0, 20)),
        *lamps,
    ]
    out.append(Scene("lights_round", "16 clipped lights at 4-7 m (17-23 px discs) behind a sharp subject, round aperture", 2.0, f, s, night, samples=1024))
    out.append(Scene("lights_hexagon", "the same lights through a 6-blade aperture (vertex at the top)", 2.0, f, s, night, blades=6, samples=1024))

    # Telephoto f/8: sharp subject at 5 m, blurred post at 2.5 m, ground and horizon far away.
    f, s = 200.0, 5.0
    out.append(Scene("telephoto_f8", "200 mm f/8: subject at 5 m, post at 2.5 m (-11 px), ground to a horizon at 500 m (11 px)", 8.0, f, s, [
        Obj("quad", (0.0, 60.0, -500.0), (1000.0, 200.0), Texture("noise", ((0.35, 0.45, 0.6), (0.75, 0.8, 0.9)), 0.05, 21)),
        Obj("quad", (0.0, -2.0, -250.0), (400.0, 500.0), Texture("noise", ((0.15, 0.2, 0.05), (0.5, 0.5, 0.2)), 2.0, 22), rotation=(-90.0, 0.0, 0.0)),
        Obj("box", (0.05, -0.1, -5.0), (0.25, 0.6, 0.2), Texture("image", ((0.6, 0.3, 0.05), (0.95, 0.9, 0.7)), 4.0, 23)),
        Obj("box", (-0.12, 0.0, -2.5), (0.04, 3.0, 0.04), Texture("noise", ((0.1, 0.1, 0.1), (0.4, 0.35, 0.3)), 100.0, 24)),
    ], pitch=1.0))

    # Many depths: ten overlapping cards from 0.8 m (-22 px) to 9 m (11 px), wall at 20 m.
    f, s = 85.0, 2.0
    cards = []
    for i, depth in enumerate((9.0, 6.0, 4.5, 3.2, 2.5, 2.0, 1.6, 1.3, 1.0, 0.8)):
        half = depth * 18.0 / thin_lens_v(f, s)
        kind = ("image", "noise", "checker", "bricks", "stripes")[i % 5]
        cards.append(quad(depth, 0.5 * half, 0.8 * half,
                          Texture(kind, (tuple(np.random.default_rng(i).uniform(0.0, 0.3, 3)), tuple(np.random.default_rng(i + 50).uniform(0.5, 1.0, 3))), (3.0, 80.0, 30.0, 20.0, 120.0)[i % 5], 30 + i),
                          x=half * (-0.85 + 0.19 * i), y=half * 0.12 * (-1) ** i))
    out.append(Scene("many_depths", "ten overlapping cards from 0.8 m (-22 px) to 9 m (11 px) before a wall at 20 m", 2.8, f, s, [
        backdrop(20.0, Texture("noise", ((0.2, 0.2, 0.25), (0.6, 0.55, 0.5)), 2.0, 29), f),
        *cards,
    ]))

    # White surfaces that are not lights (<= 1.0 linear) and two real lights.
    f, s = 50.0, 1.2
    white = Texture("noise", ((0.8, 0.8, 0.78), (1.0, 1.0, 1.0)), 25.0, 40)
    out.append(Scene("white_wall", "white wall at 3 m and white shirt at 2 m (<= 1.0, not lights), two lights, subject at 1.2 m", 1.4, f, s, [
        Obj("quad", (0.0, 0.0, -3.0), (6.0, 6.0), white, index=WHITE_INDEX),
        Obj("box", (0.3, -0.2, -2.0), (0.4, 0.6, 0.2), Texture("noise", ((0.85, 0.85, 0.85), (1.0, 1.0, 1.0)), 60.0, 41), index=WHITE_INDEX),
        Obj("sphere", (0.3, 0.22, -2.0), (0.1,), skin),
        Obj("box", (-0.12, -0.05, -1.2), (0.12, 0.3, 0.12), Texture("image", ((0.05, 0.1, 0.3), (0.4, 0.6, 0.9)), 4.0, 42)),
        light(-0.45, 0.3, 2.8, 0.008, 60.0),
        light(0.6, 0.35, 2.8, 0.008, 40.0, (0.7, 0.8, 1.0)),
    ]))

    # Tabletop: a red cylinder in focus at 0.8 m on a table, objects before and behind it.
    f, s = 50.0, 0.8
    out.append(Scene("tabletop", "red cylinder in focus at 0.8 m on a slanted table, box at 0.6 m, ball at 1.3 m, wall at 2 m", 1.8, f, s, [
        Obj("quad", (0.0, 0.0, -2.2), (4.0, 4.0), Texture("bricks", ((0.4, 0.35, 0.25), (0.8, 0.75, 0.6)), 10.0, 50)),
        Obj("quad", (0.0, -0.2, -1.0), (3.0, 3.0), Texture("noise", ((0.25, 0.12, 0.05), (0.55, 0.35, 0.15)), 25.0, 51), rotation=(-90.0, 0.0, 0.0)),
        Obj("cylinder", (0.0, -0.2 + 0.08, -0.75), (0.04, 0.16), Texture("noise", ((0.35, 0.01, 0.01), (0.9, 0.1, 0.05)), 150.0, 52), rotation=(90.0, 0.0, 0.0)),
        Obj("box", (-0.15, -0.2 + 0.04, -0.52), (0.08, 0.08, 0.08), Texture("checker", ((0.05, 0.2, 0.5), (0.7, 0.8, 0.95)), 60.0, 53)),
        Obj("sphere", (0.25, -0.2 + 0.07, -1.2), (0.07,), Texture("stripes", ((0.5, 0.4, 0.0), (1.0, 0.9, 0.3)), 40.0, 54)),
    ], pitch=15.0))

    # Street column in focus at 3 m before a facade with lamps at 15 m (12 px), sign at 1.8 m.
    f, s = 85.0, 3.0
    street = [light(x, y, 12.0, 0.025, 60.0) for x, y in ((-1.2, 0.8), (-0.3, 0.5), (0.6, 0.9), (1.3, 0.3))]
    out.append(Scene("street_column", "column in focus at 3 m, facade at 15 m (12 px) with lamps at 12 m, sign at 1.8 m (-10 px)", 1.8, f, s, [
        backdrop(15.0, Texture("bricks", ((0.15, 0.12, 0.1), (0.65, 0.55, 0.45)), 2.0, 60), f),
        Obj("cylinder", (-0.12, 0.0, -3.0), (0.12, 4.0), Texture("noise", ((0.45, 0.42, 0.4), (0.85, 0.82, 0.78)), 40.0, 61), rotation=(90.0, 0.0, 0.0)),
        quad(1.8, 0.12, 0.08, Texture("image", ((0.05, 0.3, 0.1), (0.9, 0.95, 0.9)), 5.0, 62), x=0.2, y=-0.1),
        *street,
    ]))
    return out


# ----------------------------------------------------------------------------- bpy scene
def _image_texture(tex: Texture, size: int = 512) -> bpy.types.Image:
    """A random multi-scale image (rectangles, lines, dots), linear float, seeded."""
    rng = np.random.default_rng(tex.seed)
    img = np.zeros((size, size), np.float32) + rng.random()
    for count, lo, hi in ((40, 20, 160), (200, 4, 30), (800, 1, 6)):
        for _ in range(count):
            y, x = rng.integers(0, size, 2)
            h, w = rng.integers(lo, hi + 1, 2)
            img[y : y + h, x : x + w] = rng.random()
    c0, c1 = np.array(tex.colours[0], np.float32), np.array(tex.colours[1], np.float32)
    rgb = c0 + img[..., None] * (c1 - c0)
    rgba = np.concatenate([rgb, np.ones((size, size, 1), np.float32)], axis=-1)
    image = bpy.data.images.new(f"tex{tex.seed}", size, size, float_buffer=True)
    image.colorspace_settings.name = "Non-Color"
    image.pixels.foreach_set(rgba.ravel())
    image.pack()
    return image


def _node(nodes: bpy.types.Nodes, kind: str, **inputs: object) -> bpy.types.Node:
    """A new shader node with input defaults set (``Mortar_Size`` names "Mortar Size")."""
    node = nodes.new(kind)
    for name, value in inputs.items():
        node.inputs[name.replace("_", " ")].default_value = value
    return node


def _material(obj: Obj, name: str) -> bpy.types.Material:
    """Emission-only material: colour from the texture, times ``strength``."""
    mat = bpy.data.materials.new(name)
    mat.cycles.emission_sampling = "NONE"  # nothing is lit: no light tree over emitters
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.clear()
    out = nodes.new("ShaderNodeOutputMaterial")
    emit = nodes.new("ShaderNodeEmission")
    emit.inputs["Strength"].default_value = obj.strength
    links.new(emit.outputs["Emission"], out.inputs["Surface"])
    tex = obj.texture
    if tex.kind == "flat":
        emit.inputs["Color"].default_value = (*tex.colours[0], 1.0)
        return mat
    coord = nodes.new("ShaderNodeTexCoord")
    mapping = nodes.new("ShaderNodeMapping")
    mapping.inputs["Location"].default_value = (tex.seed * 7.31, tex.seed * 3.17, tex.seed * 1.13)
    links.new(coord.outputs["Object"], mapping.inputs["Vector"])
    ramp = nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = (*tex.colours[0], 1.0)
    ramp.color_ramp.elements[1].color = (*tex.colours[1], 1.0)
    if tex.kind == "noise":
        node = _node(nodes, "ShaderNodeTexNoise", Scale=tex.scale, Detail=6.0, Roughness=0.65)
        value = node.outputs["Fac"]
    elif tex.kind == "checker":
        node = _node(nodes, "ShaderNodeTexChecker", Scale=tex.scale, Color1=(1, 1, 1, 1), Color2=(0, 0, 0, 1))
        value = node.outputs["Fac"]
    elif tex.kind == "bricks":
        node = _node(nodes, "ShaderNodeTexBrick", Scale=tex.scale, Color1=(0.8, 0.8, 0.8, 1), Color2=(0.5, 0.5, 0.5, 1),
                     Mortar=(0.0, 0.0, 0.0, 1), Mortar_Size=0.03)
        noise = _node(nodes, "ShaderNodeTexNoise", Scale=60.0, Detail=6.0)
        links.new(mapping.outputs["Vector"], noise.inputs["Vector"])
        mix = nodes.new("ShaderNodeMath")
        mix.operation = "MULTIPLY"
        links.new(node.outputs["Color"], mix.inputs[0])
        links.new(noise.outputs["Fac"], mix.inputs[1])
        value = mix.outputs["Value"]
        gain = nodes.new("ShaderNodeMath")
        gain.operation = "MULTIPLY"
        gain.inputs[1].default_value = 1.6
        links.new(value, gain.inputs[0])
        value = gain.outputs["Value"]
    elif tex.kind == "stripes":
        node = _node(nodes, "ShaderNodeTexWave", Scale=tex.scale, Distortion=2.0, Detail=4.0)
        value = node.outputs["Fac"]
    elif tex.kind == "image":
        node = nodes.new("ShaderNodeTexImage")
        node.image = _image_texture(tex)
        node.interpolation = "Linear"
        node.extension = "REPEAT"
        sep = nodes.new("ShaderNodeSeparateColor")
        links.new(node.outputs["Color"], sep.inputs["Color"])
        value = sep.outputs[0]
        mapping.inputs["Scale"].default_value = (tex.scale, tex.scale, tex.scale)
    else:
        raise ValueError(f"unknown texture kind {tex.kind!r}")
    links.new(mapping.outputs["Vector"], node.inputs["Vector"])
    links.new(value, ramp.inputs["Fac"])
    links.new(ramp.outputs["Color"], emit.inputs["Color"])
    return mat


def _mesh(obj: Obj) -> bpy.types.Mesh:
    """Mesh in metres (object coordinates are metres, so textures keep their scale)."""
    if obj.shape == "quad":
        w, h = obj.size[0] / 2, obj.size[1] / 2
        verts, faces = [(-w, -h, 0), (w, -h, 0), (w, h, 0), (-w, h, 0)], [(0, 1, 2, 3)]
    elif obj.shape == "box":
        x, y, z = (s / 2 for s in obj.size)
        verts = [(sx * x, sy * y, sz * z) for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]
        faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    elif obj.shape == "sphere":
        r, n = obj.size[0], 48
        verts = [(0, 0, r), (0, 0, -r)]
        for i in range(1, n):
            theta = math.pi * i / n
            for j in range(2 * n):
                phi = math.pi * j / n
                verts.append((r * math.sin(theta) * math.cos(phi), r * math.sin(theta) * math.sin(phi), r * math.cos(theta)))
        ring = lambda i, j: 2 + (i - 1) * 2 * n + j % (2 * n)  # noqa: E731
        faces = [(0, ring(1, j), ring(1, j + 1)) for j in range(2 * n)]
        faces += [(ring(i, j), ring(i + 1, j), ring(i + 1, j + 1), ring(i, j + 1)) for i in range(1, n - 1) for j in range(2 * n)]
        faces += [(1, ring(n - 1, j + 1), ring(n - 1, j)) for j in range(2 * n)]
    elif obj.shape == "disc":
        r, n = obj.size[0], 64
        verts = [(r * math.cos(2 * math.pi * j / n), r * math.sin(2 * math.pi * j / n), 0.0) for j in range(n)]
        faces = [tuple(range(n))]
    elif obj.shape == "cylinder":
        r, length, n = obj.size[0], obj.size[1], 48
        verts = [(r * math.cos(2 * math.pi * j / n), r * math.sin(2 * math.pi * j / n), z) for z in (-length / 2, length / 2) for j in range(n)]
        faces = [(j, (j + 1) % n, n + (j + 1) % n, n + j) for j in range(n)]
        faces += [tuple(range(n))[::-1], tuple(range(n, 2 * n))]
    else:
        raise ValueError(f"unknown shape {obj.shape!r}")
    mesh = bpy.data.meshes.new(obj.shape)
    mesh.from_pydata(verts, [], faces)
    mesh.update()
    return mesh


def build(scene: Scene) -> bpy.types.Scene:
    """A fresh Blender scene: objects, thin-lens camera, Cycles settings, compositor outputs."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    sc = bpy.context.scene
    world = bpy.data.worlds.new("black")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.0
    sc.world = world
    for i, obj in enumerate(scene.objects):
        ob = bpy.data.objects.new(f"o{i}", _mesh(obj))
        ob.location = obj.location
        ob.rotation_euler = tuple(math.radians(a) for a in obj.rotation)
        ob.pass_index = obj.index
        ob.data.materials.append(_material(obj, f"m{i}"))
        for poly in ob.data.polygons:
            poly.use_smooth = obj.shape in ("sphere", "cylinder")
        sc.collection.objects.link(ob)

    cam_data = bpy.data.cameras.new("camera")
    v = thin_lens_v(scene.focal_length_mm, scene.focus_distance_m)
    cam_data.lens = v
    cam_data.sensor_fit = "HORIZONTAL"
    cam_data.sensor_width = SENSOR_WIDTH_MM
    cam_data.clip_start = 0.01
    cam_data.clip_end = 10000.0
    cam_data.dof.focus_distance = scene.focus_distance_m
    cam_data.dof.aperture_fstop = scene.f_number * v / scene.focal_length_mm
    cam_data.dof.aperture_blades = scene.blades
    # Cycles puts a polygon's vertices at angles pi/n + k 2 pi/n from the x axis (rotation 0);
    # this turns one vertex to the top of the image, as dofgen's kernels do.
    cam_data.dof.aperture_rotation = (math.pi / 2 - math.pi / scene.blades) if scene.blades else 0.0
    cam = bpy.data.objects.new("camera", cam_data)
    cam.rotation_euler = (math.radians(-scene.pitch), 0.0, 0.0)
    sc.collection.objects.link(cam)
    sc.camera = cam

    sc.render.engine = "CYCLES"
    sc.cycles.device = "CPU"
    sc.render.resolution_x, sc.render.resolution_y = WIDTH, HEIGHT
    sc.render.resolution_percentage = 100
    sc.render.film_transparent = False
    sc.cycles.pixel_filter_type = "BOX"
    sc.cycles.filter_width = 1.0
    sc.cycles.use_denoising = False
    sc.cycles.use_adaptive_sampling = False
    sc.cycles.max_bounces = 0
    sc.cycles.sample_clamp_direct = 0.0
    sc.cycles.sample_clamp_indirect = 0.0
    sc.render.use_persistent_data = False
    try:
        sc.view_settings.view_transform = "Standard"
    except TypeError:
        pass
    layer = sc.view_layers[0]
    layer.use_pass_z = True
    layer.use_pass_object_index = True
    return sc


def render(sc: bpy.types.Scene, dof: bool, samples: int, seed: int, out_dir: Path) -> dict[str, np.ndarray]:
    """Render once; returns ``rgb`` (H, W, 3) linear, ``depth`` (H, W), ``index`` (H, W)."""
    sc.camera.data.dof.use_dof = dof
    sc.cycles.samples = samples
    sc.cycles.seed = seed
    sc.use_nodes = True
    tree = sc.node_tree
    tree.nodes.clear()
    layers = tree.nodes.new("CompositorNodeRLayers")
    output = tree.nodes.new("CompositorNodeOutputFile")
    output.base_path = str(out_dir)
    output.format.file_format = "OPEN_EXR"
    output.format.color_depth = "32"
    output.format.exr_codec = "ZIP"
    output.file_slots.clear()
    for slot, socket in (("rgb", "Image"), ("depth", "Depth"), ("index", "IndexOB")):
        output.file_slots.new(slot)
        tree.links.new(layers.outputs[socket], output.inputs[slot])
    sc.render.filepath = str(out_dir / "unused")
    sc.frame_set(1)
    bpy.ops.render.render(write_still=False)
    result = {}
    for slot in ("rgb", "depth", "index"):
        path = out_dir / f"{slot}0001.exr"
        image = bpy.data.images.load(str(path))
        pixels = np.empty(WIDTH * HEIGHT * image.channels, np.float32)
        image.pixels.foreach_get(pixels)
        pixels = pixels.reshape(HEIGHT, WIDTH, image.channels)[::-1]  # bottom-up to top-down
        result[slot] = pixels[..., :3].copy() if slot == "rgb" else pixels[..., 0].copy()
        bpy.data.images.remove(image)
        path.unlink()
    return result


def srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light to sRGB in [0, 1], clipping above 1 (as dofgen.color.linear_to_srgb)."""
    x = np.clip(linear, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.maximum(x, 1e-12) ** (1 / 2.4) - 0.055).astype(np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two arrays in [0, 1]: ``dofgen.metrics.psnr`` in numpy, since this script
    runs where only bpy and numpy are installed."""
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


# ----------------------------------------------------------------------------- commands
def save_scene(scene: Scene, samples_in: int, samples_ref: int, out_dir: Path) -> dict:
    """Render the pinhole input and the defocused reference; write ``scenes/<name>.npz``.

    Fields: ``image`` / ``reference`` (H, W, 3) sRGB clipped; ``image_linear`` /
    ``reference_linear`` HDR linear (float16); ``depth`` (H, W) planar metres (float32);
    camera fields; ``blades``; ``light_mask`` where the input clips because of a light;
    ``white_surface`` where a white non-light surface is seen; ``samples`` of the reference
    and ``half_renders_psnr_db``, the sRGB PSNR between its two halves (different seeds).
    """
    sc = build(scene)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        pinhole = render(sc, False, samples_in, 1, Path(tmp))
        t1 = time.time()
        halves = [render(sc, True, samples_ref // 2, seed, Path(tmp))["rgb"] for seed in (2, 3)]
        t2 = time.time()
    # Two independent half renders: their PSNR measures the lens sampling noise; the
    # reference (their mean) is 3 dB better than that (half the noise variance).
    half_psnr = psnr(srgb(halves[0]), srgb(halves[1]))
    defocus = {"rgb": (halves[0] + halves[1]) / 2}
    depth = pinhole["depth"]
    light_mask = (pinhole["index"] == LIGHT_INDEX) & (pinhole["rgb"].max(axis=-1) > 1.0)
    # first-sample object index; pixels a light partly covers are not white surface
    white = (pinhole["index"] == WHITE_INDEX) & (pinhole["rgb"].max(axis=-1) <= 1.0)
    coc = np.array([coc_px(float(d), scene) for d in (depth.min(), depth.max())])
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out_dir / f"{scene.name}.npz",
        image=srgb(pinhole["rgb"]).astype(np.float16),
        image_linear=pinhole["rgb"].astype(np.float16),
        depth=depth.astype(np.float32),
        reference=srgb(defocus["rgb"]).astype(np.float16),
        reference_linear=defocus["rgb"].astype(np.float16),
        f_number=scene.f_number,
        focal_length_mm=scene.focal_length_mm,
        focus_distance_m=scene.focus_distance_m,
        sensor_width_mm=SENSOR_WIDTH_MM,
        blades=scene.blades,
        light_mask=light_mask,
        white_surface=white,
        description=scene.what,
        samples=samples_ref,
        half_renders_psnr_db=half_psnr,
    )
    info = {
        "scene": scene.name,
        "depth_m": [round(float(depth.min()), 3), round(float(depth.max()), 3)],
        "coc_px": [round(float(c), 1) for c in coc],
        "light_px": int(light_mask.sum()),
        "white_px": int(white.sum()),
        "samples": [samples_in, samples_ref],
        "half_renders_psnr_db": round(half_psnr, 2),
        "seconds": [round(t1 - t0, 1), round(t2 - t1, 1)],
        "bytes": (out_dir / f"{scene.name}.npz").stat().st_size,
    }
    print(json.dumps(info), flush=True)
    return info


def _projected_px(x: float, y: float, depth: float, scene: Scene) -> tuple[float, float]:
    """(row, column) in pixels (continuous, pixel centres at i + 0.5) of a point at planar
    ``depth`` seen through the pinhole of focal length v (camera unpitched)."""
    px_per_mm = WIDTH / SENSOR_WIDTH_MM
    v = thin_lens_v(scene.focal_length_mm, scene.focus_distance_m)
    return HEIGHT / 2 - y / depth * v * px_per_mm, WIDTH / 2 + x / depth * v * px_per_mm


def measure_disc(image: np.ndarray, centre: tuple[float, float], expected: float, blades: int) -> dict:
    """Diameter of a light's bokeh from its flux and flat interior: area = flux / level.

    The flux of a defocused point spreads evenly over the aperture's image, so the area of
    that image is the total flux over the interior level, whatever the light's own size.
    For ``blades`` > 0 the diameter is the polygon's vertex-to-vertex span (the CoC).
    """
    lum = image.mean(axis=-1).astype(np.float64)
    rows, cols = np.mgrid[0 : lum.shape[0], 0 : lum.shape[1]] + 0.5
    window = np.hypot(rows - centre[0], cols - centre[1]) < 0.75 * abs(expected)
    flux = lum[window].sum()
    cy, cx = (lum * rows)[window].sum() / flux, (lum * cols)[window].sum() / flux
    inner = np.hypot(rows - cy, cols - cx) < 0.3 * abs(expected)
    level = lum[inner].mean()
    area = flux / level
    if blades:
        diameter = 2 * math.sqrt(2 * area / (blades * math.sin(2 * math.pi / blades)))
    else:
        diameter = 2 * math.sqrt(area / math.pi)
    half = (lum >= level / 2) & window
    height = half[:, int(cx)].sum()
    width = half[int(cy), :].sum()
    return {
        "coc_formula_px": round(abs(expected), 3),
        "diameter_px": round(diameter, 3),
        "error_percent": round(100 * (diameter / abs(expected) - 1), 3),
        "centre_offset_px": [round(cy - centre[0], 3), round(cx - centre[1], 3)],
        "height_px": int(height),
        "width_px": int(width),
    }


def disc_check(samples: int) -> dict:
    """Point lights behind and in front of focus, round and 6-blade apertures: measured
    bokeh diameter against the design's CoC formula (85 mm f/1.4 focused at 1.5 m)."""
    f, s, n = 85.0, 1.5, 1.4
    lights = {"behind (6 m)": (-0.6, 6.0, 0.012), "in front (0.9 m)": (0.08, 0.9, 0.0025)}
    results = {}
    for blades in (0, 6):
        scene = Scene("disc_check", "", n, f, s, [quad(30.0, 60.0, 60.0, Texture("flat", ((0.0, 0.0, 0.0),)))], blades=blades)
        scene.objects += [light(x, 0.0, d, r, 60.0, (1.0, 1.0, 1.0), shape="disc") for x, d, r in lights.values()]
        sc = build(scene)
        sc.render.use_border = True
        sc.render.use_crop_to_border = False
        sc.render.border_min_x, sc.render.border_max_x = 0.12, 0.9
        sc.render.border_min_y, sc.render.border_max_y = 0.3, 0.7
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            image = render(sc, True, samples, 3, Path(tmp))["rgb"]
            seconds = time.time() - t0
        np.save(Path(tempfile.gettempdir()) / f"disc_check_{blades}.npy", image)
        for label, (x, d, _) in lights.items():
            key = f"{label}, {'round' if not blades else f'{blades} blades'}"
            results[key] = measure_disc(image, _projected_px(x, 0.0, d, scene), coc_px(d, scene), blades)
        results[f"seconds ({blades} blades)"] = round(seconds, 1)
    print(json.dumps(results, indent=1), flush=True)
    return results


def main() -> None:
    # standalone (a bpy environment has no dofgen), so argparse's own defaults formatter
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--scenes", nargs="*", help="Names of the scenes to render; None renders every scene.")
    parser.add_argument("--samples", type=int, help="Samples per pixel of the reference; None uses each scene's own count.")
    parser.add_argument("--input-samples", type=int, default=64, help="Samples per pixel of the pinhole input.")
    parser.add_argument("--out", type=Path, default=HERE / "scenes", help="Folder for the scene npz files.")
    parser.add_argument("--disc-check", action="store_true", help="Measure point-light discs against the CoC formula (writes disc_check.json).")
    args = parser.parse_args(sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else None)
    if args.disc_check:
        (HERE / "disc_check.json").write_text(json.dumps(disc_check(args.samples or 4096), indent=1) + "\n")
        return
    chosen = [s for s in scenes() if not args.scenes or s.name in args.scenes]
    for scene in chosen:
        save_scene(scene, args.input_samples, args.samples or scene.samples, args.out)


if __name__ == "__main__":
    main()
