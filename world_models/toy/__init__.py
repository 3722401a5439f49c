"""A tiny randomly initialised world model for tests, benchmarks of the plumbing, and examples.

It is not trained and models no game: it exists so every environment feature (batching, resets, two players,
images and state vectors, checkpoints) is exercised on the real code path in milliseconds.
"""

from world_models.toy.model import ToyConfig, ToyWorldModel

__all__ = ["ToyConfig", "ToyWorldModel"]
