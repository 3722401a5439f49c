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


def test_long_captions_are_read_to_the_end(encoder):
    """The engine's longest captions (46 tokens) are embedded whole: where the ball goes is their last clause."""
    start = ("the player at the bottom hurries over to the left side and back towards the baseline to reach the ball "
             "and then returns with a two-handed backhand, sending the ball")  # fmt: skip
    left, right = encoder([f"{start} to the left corner down the line", f"{start} to the right corner down the line"]).pooled
    assert len(encoder.tokenizer(f"{start} to the left corner down the line")["input_ids"]) > 32
    assert not torch.allclose(left, right)


def test_batching_does_not_change_embeddings(encoder):
    """Strings are padded to their batch's longest: embedded alone or beside a longer one, they are the same."""
    fresh = TextEncoder()
    alone = fresh(["a short caption"]).pooled
    beside = TextEncoder()(["a short caption", "a much longer caption " * 5]).pooled[0]
    torch.testing.assert_close(alone[0], beside, atol=1e-6, rtol=1e-5)
