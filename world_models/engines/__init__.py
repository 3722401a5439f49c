"""Ground-truth game engines: exact simulators that generate annotated training data, serve as real environments,
and referee what learned models generate.

- `world_models.engines.tennis`: broadcast-style tennis with articulated players, ball physics, rules, captions and a
  renderer (``python -m world_models data tennis``).
"""
