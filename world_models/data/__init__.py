"""Datasets and data recorders: readers and writers of the on-disk formats the model families train on.

- `world_models.data.pvg_format`: the PVG on-disk format (``{train,val,test}/NNNNN/`` folders of PNG frames plus
  pickled per-frame lists), read with a restricted unpickler.
- `world_models.data.atari`: records real Arcade Learning Environment games in that format
  (``python -m world_models data atari``).
"""
