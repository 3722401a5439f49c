"""`lge-gym play` in process, headless, with scripted key presses (the CLI test runs it as a subprocess)."""

import pygame

from lge_gym.play import play

FAST = {"checkpoint": None, "preset": "tiny"}


def _script(monkeypatch, frames_of_events):
    """Replace pygame's event queue with the given list of per-frame event lists."""
    queue = list(frames_of_events)
    real_get = pygame.event.get

    def get(*args, **kwargs):
        real_get()
        return queue.pop(0) if queue else []

    monkeypatch.setattr(pygame.event, "get", get)


def key(code):
    return pygame.event.Event(pygame.KEYDOWN, key=code)


def test_text_box_sets_player_and_opponent_text(monkeypatch, capsys):
    typed = [pygame.event.Event(pygame.TEXTINPUT, text=c) for c in "lob it"]
    opponent = [pygame.event.Event(pygame.TEXTINPUT, text=c) for c in "miss"]
    _script(monkeypatch, [[key(pygame.K_RETURN)], typed, [key(pygame.K_RETURN)],
                          [key(pygame.K_RETURN), key(pygame.K_TAB)], opponent, [key(pygame.K_RETURN)],
                          [key(pygame.K_n)]])
    summary = play("LGE-Tennis-v0", env_kwargs=FAST, frames=8, seed=0)
    out = capsys.readouterr().out
    assert "you: lob it" in out and "opponent: miss" in out
    assert summary["frames"] == 8


def test_discrete_keys_and_pause(monkeypatch):
    _script(monkeypatch, [[key(pygame.K_p)], [], [key(pygame.K_p)], [key(pygame.K_r)]])
    summary = play("Toy-v0", frames=6, seed=0)
    assert summary["frames"] == 6 and summary["episodes"] == 1


def test_view_keys_move_the_camera(monkeypatch, capsys):
    _script(monkeypatch, [[key(pygame.K_RIGHTBRACKET)], [key(pygame.K_p)], [key(pygame.K_EQUALS)]])
    summary = play("LGE-Tennis-v0", env_kwargs=FAST, frames=4, seed=0)
    assert "camera: [ ] ; ' - =" in capsys.readouterr().out
    assert summary["frames"] == 4
