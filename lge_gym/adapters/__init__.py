"""Adapters that present a natively batched environment to other RL libraries (Stable-Baselines3, TorchRL)."""
