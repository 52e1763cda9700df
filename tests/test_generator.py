import numpy as np
import pytest

from dofgen.camera import CameraSettings
from dofgen.generator import DEEP_DOF_SUFFIX, Generator, PromptTruncatedWarning, camera_text


@pytest.fixture(scope="module")
def generator(tiny_sdxl_path):
    return Generator.from_pretrained(str(tiny_sdxl_path), device="cpu")


def _pixels(image):
    return np.asarray(image, dtype=np.int16)


def test_same_prompt_and_seed_give_the_same_image(generator):
    steps = []
    first = generator.generate("a red apple on a table", seed=3, width=64, height=72, progress=lambda i, n: steps.append((i, n)))
    again = generator.generate("a red apple on a table", seed=3, width=64, height=72)
    other = generator.generate("a red apple on a table", seed=4, width=64, height=72)
    assert first.size == (64, 72)
    assert np.array_equal(_pixels(first), _pixels(again))
    assert not np.array_equal(_pixels(first), _pixels(other))
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_exif_in_prompt_writes_the_camera(generator, monkeypatch):
    seen = []
    original = generator.pipe.__call__

    def spy(*args, **kwargs):
        seen.append(kwargs["prompt"])
        return original(*args, **kwargs)

    monkeypatch.setattr(type(generator.pipe), "__call__", lambda self, *a, **k: spy(*a, **k))
    camera = CameraSettings(2.8, 50.0, 2.0)
    generator.generate("a dog", seed=0, camera=camera, width=64, height=64, exif_in_prompt=True)
    generator.generate("a dog", seed=0, width=64, height=64)
    assert seen == ["a dog, shot at f/2.8, 50mm", "a dog" + DEEP_DOF_SUFFIX]
    assert camera_text(CameraSettings(16, 85, 3.0)) == "shot at f/16, 85mm"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(prompt="   "), "empty"),
        (dict(prompt="x" * 3000), "characters"),
        (dict(prompt="a cat", width=100), "multiple of 8"),
        (dict(prompt="a cat", height=4096), "2048"),
        (dict(prompt="a cat", exif_in_prompt=True), "needs a camera"),
    ],
)
def test_bad_input_is_one_clear_error(generator, kwargs, match):
    args = dict(width=64, height=64) | kwargs
    with pytest.raises(ValueError, match=match):
        generator.generate(**args)


def test_overlong_prompt_says_it_is_truncated(generator):
    prompt = " ".join(["apple"] * 40)  # about 200 character tokens, beyond 77
    assert "cut off" in generator.prompt_notes(prompt)[0]
    with pytest.warns(PromptTruncatedWarning, match="cut off"):
        generator.generate(prompt, width=64, height=64)


def test_unloadable_generator_says_what_to_set(tmp_path):
    with pytest.raises(RuntimeError, match="DOFGEN_GENERATOR"):
        Generator.from_pretrained(str(tmp_path / "nowhere"), device="cpu")


def test_checkpoint_with_an_exif_embedding_uses_it(tiny_sdxl_path, tmp_path):
    import shutil

    import torch

    from dofgen.exif_embedding import ExifEmbedding

    folder = tmp_path / "sdxl-exif"
    shutil.copytree(tiny_sdxl_path, folder)
    plain = Generator.from_pretrained(str(folder), device="cpu")
    exif = ExifEmbedding(time_embed_dim=plain.pipe.unet.time_embedding.linear_2.out_features, frequency_dim=16, hidden_dim=32)
    exif.save_pretrained(folder / "exif_embedding")
    zero = Generator.from_pretrained(str(folder), device="cpu")
    assert zero.exif_embedding is not None
    camera = CameraSettings(1.8, 50.0, 2.0)
    reference = plain.generate("a vase", seed=1, width=64, height=64)
    assert np.array_equal(_pixels(zero.generate("a vase", seed=1, camera=camera, width=64, height=64)), _pixels(reference))
    with torch.no_grad():
        torch.nn.init.normal_(exif.linear_2.weight, std=5.0)
    exif.save_pretrained(folder / "exif_embedding")
    trained = Generator.from_pretrained(str(folder), device="cpu")
    wide = trained.generate("a vase", seed=1, camera=camera, width=64, height=64)
    narrow = trained.generate("a vase", seed=1, camera=camera.replace(f_number=16.0), width=64, height=64)
    assert not np.array_equal(_pixels(wide), _pixels(narrow))


def test_generation_size_follows_the_model(tiny_sdxl_path, tmp_path):
    """SDXL-Turbo (by name) at 512, other SDXL models at their UNet's size."""
    import shutil

    from dofgen.pipeline import DefocusPipeline

    generic = Generator.from_pretrained(str(tiny_sdxl_path), device="cpu")
    unet_side = generic.pipe.unet.config.sample_size * generic.pipe.vae_scale_factor
    assert generic.native_size() == {"width": max(64, unet_side), "height": max(64, unet_side)}
    turbo = shutil.copytree(tiny_sdxl_path, tmp_path / "my-sdxl-turbo")
    assert Generator.from_pretrained(str(turbo), device="cpu").native_size() == {"width": 512, "height": 512}
    seen = []
    original = generic.generate
    generic.generate = lambda prompt, seed, camera, width, height, **k: seen.append((width, height)) or original(prompt, seed, camera, 64, 64, **k)
    with pytest.raises(RuntimeError, match="no depth model"):  # none given: it stops after generating
        DefocusPipeline(generic, None, device="cpu")("a lamp", CameraSettings(2.8, 50, 2.0))
    assert seen == [(generic.native_side, generic.native_side)]


def test_dmd2_unet_loads_into_sdxl_base_with_its_timesteps(tiny_sdxl_path, tmp_path, monkeypatch):
    """DMD2's recipe on tiny weights: a UNet state dict file loaded into an SDXL base, the
    LCM scheduler at 999, 749, 499, 249, no guidance."""
    import torch
    from diffusers import UNet2DConditionModel

    from dofgen.generator import DMD2_TIMESTEPS, load_from_env

    unet = UNet2DConditionModel.from_pretrained(tiny_sdxl_path, subfolder="unet")
    with torch.no_grad():
        for parameter in unet.parameters():
            parameter.add_(0.01)  # the "distilled" weights differ from the base's
    unet_file = tmp_path / "dmd2_unet.bin"
    torch.save(unet.state_dict(), unet_file)
    monkeypatch.setenv("DOFGEN_SDXL_BASE", str(tiny_sdxl_path))
    monkeypatch.setenv("DOFGEN_DMD2_UNET", str(unet_file))
    generator = load_from_env("dmd2", device="cpu")
    loaded = dict(generator.pipe.unet.state_dict())
    assert all(torch.equal(loaded[k], v) for k, v in unet.state_dict().items())
    assert type(generator.pipe.scheduler).__name__ == "LCMScheduler" and generator.guidance_scale == 0.0
    steps = []
    image = generator.generate("a lamp", seed=1, width=64, height=64, progress=lambda i, n: steps.append(i))
    assert image.size == (64, 64) and steps == [1, 2, 3, 4]
    assert [int(t) for t in generator.pipe.scheduler.timesteps] == list(DMD2_TIMESTEPS)
    monkeypatch.setenv("DOFGEN_DMD2_UNET", str(tmp_path / "missing.bin"))
    with pytest.raises(RuntimeError, match="DOFGEN_DMD2_UNET"):
        load_from_env("dmd2", device="cpu")
