"""The tennis engine: ground-truth singles tennis for training data, a real environment, and the referee.

See ``docs/tennis_engine.md``. One concept per module: `court` (dimensions, surfaces, areas, the left/right
convention), `layout` (the one state layout), `physics`, `motion`, `players`, `commands`, `game` (the engine and
its rules), `captions`, `camera`, `render`, `referee`, `sequence` (one annotated, rendered point).
"""

from world_models.engines.tennis.commands import COMMAND_VOCABULARY, Command
from world_models.engines.tennis.game import EngineConfig, TennisEngine
from world_models.engines.tennis.referee import Judgement, judge
from world_models.engines.tennis.sequence import ENGINE_VERSION, SequenceConfig, generate

__all__ = [
    "COMMAND_VOCABULARY",
    "ENGINE_VERSION",
    "Command",
    "EngineConfig",
    "Judgement",
    "SequenceConfig",
    "TennisEngine",
    "generate",
    "judge",
]
