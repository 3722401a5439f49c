"""lge-gym: reinforcement-learning environments made from learned world models.

``import lge_gym`` registers every environment with Gymnasium (see `lge_gym.registration`):

>>> import gymnasium as gym, lge_gym
>>> env = gym.make("Toy-v0")
"""

from lge_gym.registration import ENVIRONMENTS, make_parallel, register_all

register_all()

__all__ = ["ENVIRONMENTS", "make_parallel"]
__version__ = "0.1.0"
