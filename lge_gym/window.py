"""The pygame window that shows frames (``render_mode="human"`` and ``lge-gym play``).

pygame is imported here only, when a window is first opened, so headless users never load it.
"""

from __future__ import annotations

import numpy as np


def import_pygame():
    try:
        import os

        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame
    except ImportError as error:
        raise ImportError("a game window needs pygame: pip install 'lge-gym' (pygame is a dependency)") from error
    return pygame


class GameWindow:
    """A resizable window that shows uint8 ``(H, W, 3)`` frames scaled up by ``scale``, with an optional text line."""

    def __init__(self, title: str = "lge-gym", scale: int = 4, status_height: int = 24) -> None:
        self.pygame = import_pygame()
        self.pygame.init()
        self.title = title
        self.scale = scale
        self.status_height = status_height
        self.screen = None
        self.clock = self.pygame.time.Clock()
        self.font = None

    def show(self, frame: np.ndarray, *, fps: float | None = None, status: str = "") -> None:
        pygame = self.pygame
        height, width = frame.shape[:2]
        size = (width * self.scale, height * self.scale + self.status_height)
        if self.screen is None or self.screen.get_size() != size:
            self.screen = pygame.display.set_mode(size)
            pygame.display.set_caption(self.title)
        surface = pygame.surfarray.make_surface(np.ascontiguousarray(frame.transpose(1, 0, 2)))
        self.screen.fill((0, 0, 0))
        self.screen.blit(pygame.transform.scale(surface, (size[0], size[1] - self.status_height)), (0, 0))
        if status:
            if self.font is None:
                pygame.font.init()
                self.font = pygame.font.Font(None, 20)
            self.screen.blit(self.font.render(status, True, (230, 230, 230)), (4, size[1] - self.status_height + 4))
        pygame.display.flip()
        pygame.event.pump()
        if fps:
            self.clock.tick(fps)

    def close(self) -> None:
        self.pygame.display.quit()


class WindowOwner:
    """For environments: ``render_mode="human"`` shows frames in a `GameWindow` (opened on first use, closed by
    `close`, dropped when pickled); other modes get the frame back."""

    render_mode: str | None
    metadata: dict
    _window: GameWindow | None = None

    def _present(self, frame: np.ndarray, title: str, status: str = "") -> np.ndarray | None:
        if self.render_mode != "human":
            return frame
        if self._window is None:
            self._window = GameWindow(title=title)
        self._window.show(frame, fps=self.metadata["render_fps"], status=status)
        return None

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_window"] = None
        return state
