"""The environment layer shared by every learned game: a world model plus a task.

`Task` says what an environment asks of a model (spaces, starting states, the full model action, rewards,
episode end, observations), in the spirit of dm_control's physics/task split, so one trained model backs several
tasks. `BatchedWorld` steps a batch of rows in one forward pass. Three front ends share it:

- `WorldModelEnv`: a `gymnasium.Env` (a batch of one);
- `WorldModelVectorEnv`: a natively batched `gymnasium.vector.VectorEnv` with a declared autoreset mode;
- `WorldModelParallelEnv`: a PettingZoo `ParallelEnv` where every player of the model is an agent.

Randomness: each front end owns one `torch.Generator`, seeded by ``reset(seed=...)``; every draw of the model and
of the task goes through it, so the same seed gives the same episode.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from pettingzoo import ParallelEnv
from tensordict import TensorDict

from lge_gym.window import WindowOwner
from world_models.core.interface import WorldModel

ObsType = Literal["image", "state", "both"]
OBS_TYPES = ("image", "state", "both")


class InvalidActionError(ValueError):
    """An action that is not in the environment's action space."""


class Task:
    """What an environment asks of a world model. The default suits any model with discrete actions:

    - the ``controlled`` players choose their actions; the others act uniformly at random (a subclass can plug in
      a learned or scripted opponent through `opponent_actions`);
    - rewards and terminations are the model's predictions (``aux["reward"]``, ``aux["terminated"]``); a 1-D
      reward of a two-player model is read as player 0's, and player 1 gets its negative (zero-sum);
    - observations are rendered images, object-state vectors, or both.

    Args:
        model: the world model.
        obs_type: ``"image"``, ``"state"`` or ``"both"``.
        controlled: indices of the players whose actions the environment takes.
    """

    def __init__(self, model: WorldModel, *, obs_type: ObsType = "image", controlled: tuple[int, ...] = (0,)) -> None:
        if obs_type not in OBS_TYPES:
            raise ValueError(f"obs_type must be one of {OBS_TYPES}, got {obs_type!r}")
        if obs_type != "image" and model.state_dim is None:
            raise ValueError(f"{type(model).__name__} has no object-state vector; use obs_type='image'")
        spec = model.action_spec
        bad = [p for p in controlled if not 0 <= p < spec.num_players]
        if bad or not controlled:
            raise ValueError(f"controlled players {controlled} do not exist; the model has {spec.num_players}")
        self.model = model
        self.obs_type = obs_type
        self.controlled = tuple(controlled)

    # -- spaces -------------------------------------------------------------------------------------------------
    def observation_space(self) -> gym.Space:
        """The observation space of one row (the same for every player)."""
        spaces: dict[str, gym.Space] = {}
        if self.obs_type in ("image", "both"):
            height, width = self.model.frame_shape
            spaces["image"] = gym.spaces.Box(0, 255, (height, width, 3), np.uint8)
        if self.obs_type in ("state", "both"):
            spaces["state"] = gym.spaces.Box(-np.inf, np.inf, (self.model.state_dim,), np.float32)
        return gym.spaces.Dict(spaces) if self.obs_type == "both" else spaces[self.obs_type]

    def player_action_space(self, player: int) -> gym.Space:
        """The action space of one player (the default: the model's discrete actions)."""
        spec = self.model.action_spec
        if spec.kind != "discrete":
            raise NotImplementedError(f"{type(self).__name__} must define the action space of {spec.kind!r} actions")
        return gym.spaces.Discrete(spec.num_actions)

    def action_space(self) -> gym.Space:
        """The action space of one row: one player's space, or a MultiDiscrete over the controlled players."""
        if len(self.controlled) == 1:
            return self.player_action_space(self.controlled[0])
        return gym.spaces.MultiDiscrete([self.model.action_spec.num_actions] * len(self.controlled))

    # -- dynamics -----------------------------------------------------------------------------------------------
    def encode_actions(self, actions: Any, batch: int) -> Any:
        """Validate a batch of actions of the controlled players and turn them into tensors (the default: int64
        ``(batch, len(controlled))``); `model_action` receives the result."""
        k = self.model.action_spec.num_actions
        array = np.asarray(actions)
        if array.dtype == object or not (np.issubdtype(array.dtype, np.integer) or _integral(array)):
            raise InvalidActionError(f"actions must be integers in [0, {k}), got {actions!r}")
        expected = (batch,) if len(self.controlled) == 1 else (batch, len(self.controlled))
        if array.shape != expected and array.size == int(np.prod(expected)) and batch == 1:
            array = array.reshape(expected)
        if array.shape != expected:
            raise InvalidActionError(f"expected actions of shape {expected}, got shape {array.shape}: {actions!r}")
        if array.min() < 0 or array.max() >= k:
            raise InvalidActionError(f"actions must lie in [0, {k}), got {actions!r}")
        return torch.as_tensor(array.astype(np.int64), device=self.model.device).reshape(batch, -1)

    def initial_state(self, batch: int, generator: torch.Generator, options: dict[str, Any] | None) -> TensorDict:
        """Starting states for ``batch`` rows; ``options`` come from ``reset(options=...)``."""
        return self.model.initial_state(batch, generator=generator)

    def opponent_actions(self, state: TensorDict, players: list[int], generator: torch.Generator) -> torch.Tensor:
        """Actions ``(B, len(players))`` of the players nobody controls: uniformly random by default."""
        k = self.model.action_spec.num_actions
        return torch.randint(k, (state.batch_size[0], len(players)), generator=generator, device=self.model.device)

    def model_action(self, actions: Any, state: TensorDict, generator: torch.Generator) -> Any:
        """The full ``(B, num_players)`` action of the model: controlled players' actions plus the others'."""
        num_players = self.model.action_spec.num_players
        if len(self.controlled) == num_players and self.controlled == tuple(range(num_players)):
            return actions
        full = torch.empty(actions.shape[0], num_players, dtype=torch.int64, device=actions.device)
        others = [p for p in range(num_players) if p not in self.controlled]
        full[:, list(self.controlled)] = actions
        if others:
            full[:, others] = self.opponent_actions(state, others, generator)
        return full

    def step_info(self, state: TensorDict) -> dict[str, np.ndarray]:
        """Extra ``info`` entries about ``state`` (after a reset or a step), one array ``(B,)`` per key (none by
        default)."""
        return {}

    def rewards(self, state: TensorDict, next_state: TensorDict, aux: TensorDict) -> torch.Tensor:
        """float32 ``(B, num_players)`` rewards of every player."""
        reward = aux["reward"].float()
        if reward.dim() == 2:
            return reward
        num_players = self.model.action_spec.num_players
        return reward.unsqueeze(1) if num_players == 1 else torch.stack([reward, -reward], dim=1)

    def terminated(self, state: TensorDict, next_state: TensorDict, aux: TensorDict) -> torch.Tensor:
        """bool ``(B,)``: the episode of this row has ended (for every player)."""
        return aux["terminated"].bool()

    def observe(self, state: TensorDict) -> dict[str, torch.Tensor]:
        """Batched observations: ``{"image": uint8 (B,H,W,3)}`` and/or ``{"state": float32 (B,D)}``."""
        out = {}
        if self.obs_type in ("image", "both"):
            out["image"] = self.model.render(state)
        if self.obs_type in ("state", "both"):
            out["state"] = self.model.state_vector(state).float()
        return out


def _integral(array: np.ndarray) -> bool:
    """True for float arrays holding whole numbers (SB3 sometimes hands those over)."""
    return np.issubdtype(array.dtype, np.floating) and array.size > 0 and bool(np.all(np.mod(array, 1) == 0))


class BatchedWorld:
    """A batch of ``num_envs`` rows of one model under one task, stepped in one forward pass."""

    def __init__(self, task: Task, num_envs: int) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        self.task = task
        self.model = task.model
        self.num_envs = num_envs
        self.generator = torch.Generator(device=self.model.device)
        self.generator.manual_seed(int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1))
        self.state: TensorDict | None = None

    def seed(self, seed: int) -> None:
        self.generator.manual_seed(int(seed))

    @torch.no_grad()
    def reset(self, mask: torch.Tensor | None = None, options: dict[str, Any] | None = None) -> None:
        """Draw fresh states for every row, or for the rows where ``mask`` is True."""
        if mask is None or self.state is None:
            self.state = self.task.initial_state(self.num_envs, self.generator, options)
        elif bool(mask.any()):
            self.state[mask] = self.task.initial_state(int(mask.sum()), self.generator, options)

    @torch.no_grad()
    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance every row; returns per-player rewards ``(B, P)`` and terminations ``(B,)``."""
        if self.state is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        full = self.task.model_action(actions, self.state, self.generator)
        next_state, aux = self.model.step(self.state, full, generator=self.generator)
        rewards = self.task.rewards(self.state, next_state, aux)
        terminated = self.task.terminated(self.state, next_state, aux)
        self.state = next_state
        return rewards, terminated

    @torch.no_grad()
    def observe(self) -> dict[str, torch.Tensor]:
        return self.task.observe(self.state)

    @torch.no_grad()
    def info(self) -> dict[str, np.ndarray]:
        """The task's ``info`` entries about the current states (`Task.step_info`)."""
        return self.task.step_info(self.state)

    @torch.no_grad()
    def frames(self) -> torch.Tensor:
        """uint8 ``(B, H, W, 3)`` frames of the current states."""
        return self.model.render(self.state)


def _to_numpy(obs: dict[str, torch.Tensor], obs_type: str, row: int | None = None) -> Any:
    """Observation tensors to what Gymnasium expects: one array, or a dict for ``obs_type="both"``.

    Arrays are copies: a CPU tensor's numpy view would change under the caller when a row is reset in place.
    """
    arrays = {k: np.array((v if row is None else v[row]).cpu().numpy(), copy=True) for k, v in obs.items()}
    return arrays if obs_type == "both" else arrays[obs_type]


class _OneRowRendering(WindowOwner):
    """Rendering of a batch-of-one world: its frame, or a pygame window for ``render_mode="human"``."""

    world: BatchedWorld

    def _show(self, title: str) -> np.ndarray | None:
        return self._present(self.world.frames()[0].cpu().numpy(), title)


class WorldModelEnv(_OneRowRendering, gym.Env):
    """A `gymnasium.Env` over a world model and a task (a batch of one). Family environments subclass it and
    document their game in the class docstring; see `lge_gym.envs.toy.ToyEnv` for the smallest example."""

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 15}

    def __init__(self, task: Task, *, render_mode: str | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.task = task
        self.world = BatchedWorld(task, 1)
        self.model = task.model
        self.render_mode = render_mode
        self.metadata = dict(self.metadata, render_fps=self.model.fps)
        self.observation_space = task.observation_space()
        self.action_space = task.action_space()
        self._window = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self.world.seed(seed)
        self.world.reset(options=options)
        obs = _to_numpy(self.world.observe(), self.task.obs_type, 0)
        info = {key: value[0] for key, value in self.world.info().items()}
        if self.render_mode == "human":
            self.render()
        return obs, info

    def step(self, action: Any):
        actions = self.task.encode_actions(action, 1)
        rewards, terminated = self.world.step(actions)
        obs = _to_numpy(self.world.observe(), self.task.obs_type, 0)
        reward = float(rewards[0, self.task.controlled].sum())
        info = {"rewards": rewards[0].cpu().numpy()}
        info.update({key: value[0] for key, value in self.world.info().items()})
        if self.render_mode == "human":
            self.render()
        return obs, reward, bool(terminated[0]), False, info

    def render(self):
        if self.world.state is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        return self._show(self.spec.id if self.spec else type(self).__name__)


class WorldModelVectorEnv(VectorEnv):
    """A natively batched `gymnasium.vector.VectorEnv`: one forward pass steps every environment.

    ``autoreset_mode`` is ``AutoresetMode.NEXT_STEP`` (Gymnasium's default: the step after an episode ends resets
    that row and returns its first observation with reward 0) or ``AutoresetMode.SAME_STEP`` (the ending step
    returns the new episode's first observation; the last one is in ``info["final_obs"]``, masked by
    ``info["_final_obs"]``). ``max_episode_steps`` truncates rows (Gymnasium's `TimeLimit` does not wrap vector
    environments).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        task: Task,
        num_envs: int,
        *,
        max_episode_steps: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
    ) -> None:
        self.task = task
        self.model = task.model
        self.world = BatchedWorld(task, num_envs)
        self.num_envs = num_envs
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        if self.autoreset_mode == AutoresetMode.DISABLED:
            raise ValueError("WorldModelVectorEnv supports AutoresetMode.NEXT_STEP and SAME_STEP")
        self.metadata = dict(self.metadata, autoreset_mode=self.autoreset_mode, render_fps=self.model.fps)
        self.render_mode = render_mode
        self.max_episode_steps = max_episode_steps
        self.single_observation_space = task.observation_space()
        self.single_action_space = task.action_space()
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        device = self.model.device
        self._elapsed = torch.zeros(num_envs, dtype=torch.int64, device=device)
        self._needs_reset = torch.zeros(num_envs, dtype=torch.bool, device=device)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self.world.seed(seed)
        self.world.reset(options=options)
        self._elapsed.zero_()
        self._needs_reset.zero_()
        return _to_numpy(self.world.observe(), self.task.obs_type), self._task_info()

    def _task_info(self) -> dict[str, np.ndarray]:
        """`BatchedWorld.info` in Gymnasium's vector layout: each key's values and its mask (every row)."""
        info: dict[str, np.ndarray] = {}
        for key, value in self.world.info().items():
            info[key], info[f"_{key}"] = value, np.ones(self.num_envs, dtype=bool)
        return info

    def step(self, actions: Any):
        actions = self.task.encode_actions(actions, self.num_envs)
        restarting = self._needs_reset.clone()
        rewards, terminated = self.world.step(actions)
        reward = rewards[:, list(self.task.controlled)].sum(1)
        self._elapsed += 1
        truncated = torch.zeros_like(terminated)
        if self.max_episode_steps is not None:
            truncated = (self._elapsed >= self.max_episode_steps) & ~terminated
        infos: dict[str, Any] = {}
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            # Rows whose episode ended last step start over instead; their step result is discarded.
            self.world.reset(mask=restarting)
            reward = torch.where(restarting, torch.zeros_like(reward), reward)
            terminated = terminated & ~restarting
            truncated = truncated & ~restarting
            self._elapsed[restarting] = 0
            self._needs_reset = terminated | truncated
            obs = _to_numpy(self.world.observe(), self.task.obs_type)
        else:
            done = terminated | truncated
            obs = _to_numpy(self.world.observe(), self.task.obs_type)
            if bool(done.any()):
                final_obs = np.full(self.num_envs, None, dtype=object)
                for row in torch.nonzero(done).flatten().tolist():
                    final_obs[row] = obs[row] if not isinstance(obs, dict) else {k: v[row] for k, v in obs.items()}
                infos.update({"final_obs": final_obs, "_final_obs": done.cpu().numpy()})
                self.world.reset(mask=done)
                self._elapsed[done] = 0
                obs = _to_numpy(self.world.observe(), self.task.obs_type)
        infos.update(self._task_info())
        return (
            obs,
            reward.cpu().numpy().astype(np.float32),
            terminated.cpu().numpy(),
            truncated.cpu().numpy(),
            infos,
        )

    def render(self):
        if self.world.state is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        return self.world.frames().cpu().numpy()


class WorldModelParallelEnv(_OneRowRendering, ParallelEnv):
    """A PettingZoo `ParallelEnv` where every player of a multi-player model is an agent (AEC form:
    `pettingzoo.utils.parallel_to_aec`). Observations are the shared view of the scene; each agent gets its own
    reward. All agents leave together when the point or episode ends, or after ``max_episode_steps``."""

    metadata = {"render_modes": ["rgb_array", "human"], "name": "world_model_parallel_v0", "render_fps": 15}

    def __init__(self, task: Task, *, max_episode_steps: int | None = None, render_mode: str | None = None) -> None:
        num_players = task.model.action_spec.num_players
        if task.controlled != tuple(range(num_players)):
            raise ValueError("a ParallelEnv task must control every player")
        self.task = task
        self.world = BatchedWorld(task, 1)
        self.possible_agents = list(task.model.action_spec.player_names)
        self.agents: list[str] = []
        self.max_episode_steps = max_episode_steps
        self.render_mode = render_mode
        self.metadata = dict(self.metadata, render_fps=task.model.fps)
        self._elapsed = 0
        self._window = None

    @functools.cache  # noqa: B019 - PettingZoo requires the same space object on each call
    def observation_space(self, agent: str) -> gym.Space:
        return self.task.observation_space()

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> gym.Space:
        return self.task.player_action_space(self.possible_agents.index(agent))

    def _observations(self) -> dict[str, Any]:
        obs = _to_numpy(self.world.observe(), self.task.obs_type, 0)
        return {agent: obs for agent in self.agents}

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self.world.seed(seed)
        self.agents = list(self.possible_agents)
        self.world.reset(options=options)
        self._elapsed = 0
        return self._observations(), {agent: {} for agent in self.agents}

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise gym.error.ResetNeeded("every agent is done: call reset()")
        missing = [agent for agent in self.agents if agent not in actions]
        if missing:
            raise InvalidActionError(f"no action given for agent(s) {missing}; expected one per agent in {self.agents}")
        for agent in self.agents:
            if isinstance(self.action_space(agent), gym.spaces.Discrete) and not self.action_space(agent).contains(
                np.asarray(actions[agent]).astype(np.int64) if np.ndim(actions[agent]) == 0 else actions[agent]
            ):
                raise InvalidActionError(f"action {actions[agent]!r} of {agent} is outside {self.action_space(agent)}")
        joint = tuple(actions[agent] for agent in self.possible_agents)
        rewards, terminated = self.world.step(self.task.encode_actions(joint, 1))
        self._elapsed += 1
        done = bool(terminated[0])
        truncated = not done and self.max_episode_steps is not None and self._elapsed >= self.max_episode_steps
        obs = self._observations()
        out_rewards = {agent: float(rewards[0, i]) for i, agent in enumerate(self.possible_agents)}
        terminations = {agent: done for agent in self.agents}
        truncations = {agent: truncated for agent in self.agents}
        infos = {agent: {} for agent in self.agents}
        if self.render_mode == "human":
            self.render()
        if done or truncated:
            self.agents = []
        return obs, out_rewards, terminations, truncations, infos

    def render(self):
        if self.world.state is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        return self._show(self.metadata["name"])
