import pytest
import torch

from dofgen.exif_embedding import ExifEmbedding

from tests.support.tiny_models import tiny_unet


def _inputs(batch: int = 2):
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(batch, 4, 16, 16, generator=generator)
    text = torch.randn(batch, 5, 64, generator=generator)
    added = {"text_embeds": torch.randn(batch, 32, generator=generator), "time_ids": torch.rand(batch, 6, generator=generator)}
    return sample, text, added


def _run(unet, sample, text, added):
    return unet(sample, torch.tensor([500, 500]), encoder_hidden_states=text, added_cond_kwargs=added).sample


def test_untrained_embedding_changes_nothing():
    unet = tiny_unet().eval()
    sample, text, added = _inputs()
    with torch.no_grad():
        before = _run(unet, sample, text, added)
        exif = ExifEmbedding(time_embed_dim=unet.time_embedding.linear_2.out_features, frequency_dim=16, hidden_dim=32)
        exif.attach(unet)
        exif.set_camera(1.8, 50.0)
        assert torch.equal(_run(unet, sample, text, added), before)
        exif.detach()


@pytest.mark.slow
def test_trained_embedding_separates_apertures_and_round_trips(tmp_path):
    unet = tiny_unet()
    unet.requires_grad_(False)
    sample, text, added = _inputs()
    exif = ExifEmbedding(time_embed_dim=unet.time_embedding.linear_2.out_features, frequency_dim=16, hidden_dim=32)
    exif.attach(unet)
    optimiser = torch.optim.Adam(exif.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):  # toy objective: wide apertures push the output up, narrow ones down
        total = 0.0
        for f_number, target in ((1.8, 1.0), (16.0, -1.0)):
            exif.set_camera(f_number, 50.0)
            loss = (_run(unet, sample, text, added).mean() - target) ** 2
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item()
        losses.append(total)
    assert losses[-1] < losses[0]
    with torch.no_grad():
        exif.set_camera(1.8, 50.0)
        wide = _run(unet, sample, text, added)
        exif.set_camera(16.0, 50.0)
        narrow = _run(unet, sample, text, added)
    assert wide.mean() > narrow.mean()
    assert (wide - narrow).abs().mean() > 1e-2
    exif.save_pretrained(tmp_path / "exif_embedding")
    loaded = ExifEmbedding.from_pretrained(tmp_path / "exif_embedding")
    assert all(torch.equal(a, b) for a, b in zip(exif.state_dict().values(), loaded.state_dict().values()))
    exif.detach()
    loaded.attach(unet)
    loaded.set_camera(16.0, 50.0)
    with torch.no_grad():
        assert torch.allclose(_run(unet, sample, text, added), narrow)
