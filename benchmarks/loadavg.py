"""The machine's load while a benchmark runs: the cores may be shared, and the tables say so."""

from __future__ import annotations

import os
import threading

__all__ = ["LoadSampler"]


class LoadSampler:
    """The 1-minute load average every ``every_s`` seconds while a ``with`` block lasts."""

    def __init__(self, every_s: float = 2.0) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self) -> float:
        """The highest sample (the load now when the block was too short for one)."""
        return max(self.samples, default=os.getloadavg()[0])

    def mean(self) -> float:
        """The mean of the samples (the load now when there are none)."""
        return sum(self.samples) / len(self.samples) if self.samples else os.getloadavg()[0]
