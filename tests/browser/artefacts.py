"""A screenshot per step of a journey, kept as a CI artefact under
``var/browser/<journey>/NN-<step>.png`` (``var/`` is ignored by git)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "var" / "browser"


class Steps:
    def __init__(self, journey: str):
        self.folder = ROOT / journey
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count = 0

    def shot(self, page, step: str) -> Path:
        self.count += 1
        name = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
