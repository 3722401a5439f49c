"""The frozen text encoder loads from the installed package (no network) and caches repeated strings."""

import pytest
import torch

from world_models.core.text import TextEncoder, default_text_encoder_path


@pytest.fixture(scope="module")
def encoder():
    return TextEncoder()


def test_loads_packaged_model():
    assert (default_text_encoder_path() / "config.json").is_file()


def test_shapes_and_cache(encoder):
    texts = ["the player hits a forehand", "runs to the left corner", "the player hits a forehand"]
    out = encoder(texts)
    assert out.tokens.shape == (3, encoder.max_length, encoder.dim)
    assert out.pooled.shape == (3, encoder.dim) and out.mask.dtype == torch.bool
    assert encoder.cache_size() == 2
    assert torch.equal(out.pooled[0], out.pooled[2])
    torch.testing.assert_close(out.pooled.norm(dim=-1), torch.ones(3))


def test_meaning_not_strings(encoder):
    out = encoder(["hits a forehand", "strikes the ball with a forehand", "walks off the court slowly"])
    similar = (out.pooled[0] @ out.pooled[1]).item()
    different = (out.pooled[0] @ out.pooled[2]).item()
    assert similar > different + 0.1


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="text encoder folder not found"):
        TextEncoder(tmp_path / "absent")


def test_single_string_rejected(encoder):
    with pytest.raises(TypeError, match="list of strings"):
        encoder("one caption")


def test_environment_variable_points_at_another_encoder(monkeypatch, tmp_path):
    monkeypatch.setenv("LGE_GYM_TEXT_ENCODER", str(tmp_path / "elsewhere"))
    assert default_text_encoder_path() == tmp_path / "elsewhere"
    with pytest.raises(FileNotFoundError, match="elsewhere"):
        TextEncoder()
