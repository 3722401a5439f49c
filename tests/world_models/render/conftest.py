"""One short engine sequence at 32 x 18, shared by the renderer tests (generated once per session)."""

import pytest
import torch

from world_models.engines.tennis.sequence import SequenceConfig, generate
from world_models.render.data import RenderFrames

WIDTH, HEIGHT = 32, 18


@pytest.fixture(scope="session")
def sequence():
    return generate(0, 0, SequenceConfig(width=WIDTH, height=HEIGHT))


@pytest.fixture(scope="session")
def frames(sequence):
    return RenderFrames.from_sequences([sequence], stride=8)


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory, sequence):
    """The sequence written as a tiny on-disk dataset (the same point in train, val and test)."""
    from world_models.data.tennis import write_sequence

    root = tmp_path_factory.mktemp("tennis")
    for split in ("train", "val", "test"):
        write_sequence(sequence, root / split / "00000", 0, 0, split)
    return root


@pytest.fixture()
def model():
    from world_models.render.zoo import build_renderer

    torch.manual_seed(0)
    return build_renderer("tiny")
