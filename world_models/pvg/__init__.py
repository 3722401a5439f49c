"""PVG (Playable Video Generation, Menapace et al., CVPR 2021; the CADDY model) implemented from ``pvg.md``.

Networks: `encoder` (E), `action` (A and the action centroids), `dynamics` (R, a three-level ConvLSTM), `renderer`
(D); `model` joins them as a `WorldModel` with reward and termination heads. The training process is in `losses`
and `train`, evaluation in `evaluate`, the official-checkpoint converter in `convert`.
"""

from world_models.pvg import convert as _convert  # noqa: F401  (registers the "pvg_official" converter)
from world_models.pvg.config import PVGConfig
from world_models.pvg.model import PVGModel

__all__ = ["PVGConfig", "PVGModel"]
