"""Environments: one file per environment family, built on the shared layer in `world_model_env`."""
