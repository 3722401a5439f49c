"""Play an environment in a pygame window: keys choose actions, with pause, reset and recording.

Keys: the environment's keymap (``env.unwrapped.keymap``: pygame key name -> action; number keys 1..K choose
action 0..K-1 when it has none); ``p`` pause, ``r`` reset, ``v`` start/stop recording, ``Esc``/``q`` quit.

Environments whose class has ``play_kwargs`` are built with them (LGE-Tennis plays with free-text actions). With a
`gymnasium.spaces.Text` action space, keys choose canned texts that stay in force, and ``Enter`` opens a text box:
type any action and press ``Enter`` again; ``Tab`` switches the box between your player and the opponent (whose
text the task reads as ``opponent_text``); ``Esc`` closes the box. An environment's ``view_keys`` (pygame key name
-> function) change the view, not the game: LGE-Tennis moves its camera with them, also while paused.

With no display, play falls back to SDL's dummy video driver (headless): it says so, runs ``--frames`` frames
with the no-op action and can still record.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from lge_gym.video import write_video
from lge_gym.window import GameWindow


def has_display() -> bool:
    if os.environ.get("SDL_VIDEODRIVER") == "dummy":
        return False
    return sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def default_keymap(env: gym.Env) -> dict[str, Any]:
    """The environment's own keymap, or number keys for a `Discrete` action space."""
    keymap = getattr(env.unwrapped, "keymap", None)
    if keymap:
        return dict(keymap)
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete) and space.n <= 9:
        return {str(i + 1): i for i in range(int(space.n))}
    raise ValueError(f"no keymap for action space {space}; give the environment a `keymap` attribute")


def noop_action(env: gym.Env) -> Any:
    return getattr(env.unwrapped, "noop_action", 0)


def play(
    env_id: str,
    *,
    env_kwargs: dict[str, Any] | None = None,
    seed: int | None = None,
    fps: float | None = None,
    scale: int = 4,
    record: str | os.PathLike | None = None,
    frames: int | None = None,
) -> dict[str, Any]:
    """Run the play loop; returns a summary (frames shown, episodes, total reward, recording path)."""
    headless = not has_display()
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        print("lge-gym play: no display found, running headless (SDL dummy driver) with the no-op action.")
        frames = frames or 100
    from lge_gym.registration import entry, load_entry_point

    play_kwargs = getattr(load_entry_point(entry(env_id).entry_point), "play_kwargs", {})
    env = gym.make(env_id, render_mode="rgb_array", **{**play_kwargs, **(env_kwargs or {})})
    keymap = default_keymap(env)
    text_mode = isinstance(env.action_space, gym.spaces.Text)
    typing: str | None = None  # the text box's content while it is open
    for_opponent = False
    held_text = noop_action(env) if text_mode else None
    fps = fps or env.metadata.get("render_fps", 15)
    window = GameWindow(title=f"lge-gym: {env_id}", scale=scale)
    pygame = window.pygame
    key_codes = {pygame.key.key_code(name): action for name, action in keymap.items()}
    # View keys (e.g. camera moves) change what is shown, not what the player does; they work while paused too.
    view_keys = getattr(env.unwrapped, "view_keys", {})
    view_codes = {pygame.key.key_code(name): move for name, move in view_keys.items()}
    help_line = "keys: " + " ".join(f"{k}={v!r}" for k, v in keymap.items()) + "  p pause  r reset  v rec  q quit"
    if text_mode:
        help_line += "  Enter: type an action (Tab: you/opponent)"
    if view_codes:
        help_line += "  camera: " + " ".join(view_keys)
    print(help_line)
    env.reset(seed=seed)
    frame = env.render()
    recording: list[np.ndarray] = []
    is_recording = record is not None
    paused, shown, episodes, total = False, 0, 0, 0.0
    running = True
    while running and (frames is None or shown < frames):
        reset = False
        for event in pygame.event.get():
            if typing is not None:  # the text box takes every key until Enter or Esc
                if event.type == pygame.TEXTINPUT:
                    typing += event.text
                elif event.type == pygame.KEYDOWN and event.key == pygame.K_BACKSPACE:
                    typing = typing[:-1]
                elif event.type == pygame.KEYDOWN and event.key == pygame.K_TAB:
                    for_opponent = not for_opponent
                elif event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE:
                    typing = None
                elif event.type == pygame.KEYDOWN and event.key == pygame.K_RETURN:
                    if for_opponent:
                        env.unwrapped.task.opponent_text = typing
                    else:
                        held_text = typing
                    print(f"{'opponent' if for_opponent else 'you'}: {typing}")
                    typing = None
                continue
            if event.type == pygame.KEYDOWN and event.key in view_codes:
                view_codes[event.key]()
                continue
            if text_mode and event.type == pygame.KEYDOWN and event.key == pygame.K_RETURN:
                typing = ""
                continue
            if text_mode and event.type == pygame.KEYDOWN and event.key in key_codes:
                held_text = key_codes[event.key]
                continue
            if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key in (pygame.K_ESCAPE, pygame.K_q)):
                running = False
            elif event.type == pygame.KEYDOWN and event.key == pygame.K_p:
                paused = not paused
            elif event.type == pygame.KEYDOWN and event.key == pygame.K_r:
                reset = True
            elif event.type == pygame.KEYDOWN and event.key == pygame.K_v:
                is_recording = not is_recording
        if reset:
            env.reset()
            episodes += 1
        elif not paused:
            if text_mode:
                action = held_text
            else:
                pressed = pygame.key.get_pressed()
                action = next((a for code, a in key_codes.items() if pressed[code]), noop_action(env))
            _, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            if terminated or truncated:
                env.reset()
                episodes += 1
        frame = env.render()
        if is_recording:
            recording.append(frame)
        status = f"{'PAUSED ' if paused else ''}{'REC ' if is_recording else ''}return {total:+.2f}  episodes {episodes}"
        if typing is not None:
            status = f"{'opponent' if for_opponent else 'you'} > {typing}_"
        elif text_mode:
            status += f"  you: {held_text}"
        window.show(frame, fps=None if headless else fps, status=status)
        shown += 1
    window.close()
    env.close()
    out = None
    if recording:
        out = write_video(recording, record or Path(f"{env_id}.mp4"), fps=fps)
    return {"frames": shown, "episodes": episodes, "return": total, "recording": str(out) if out else None}
