"""PE (Playable Environments, Menapace et al. CVPR 2022) on the tennis engine: per-player discrete actions learned
without labels from object states, recurrent dynamics, an adversarial sequence loss; rendered by the suite's
synthesis module (`world_models.render`). Design note: ``pe.md``; model card: ``docs/pe.md``."""

from world_models.pe.config import PEConfig
from world_models.pe.world import PEWorldModel

__all__ = ["PEConfig", "PEWorldModel"]
