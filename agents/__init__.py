"""Agents: Stable-Baselines3 training in learned games, planners over world models, strategy evaluation."""
