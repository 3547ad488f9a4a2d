"""Piecewise-constant schedules written as ``rate:until_step, rate:until_step, ...`` (A1111's syntax).

``"0.005:100, 1e-3:1000, 1e-5"`` trains at 0.005 until step 100, then 0.001 until step 1000, then
1e-5 until the last step; ``-1`` as a step also means "until the end".  Pairs whose step is already
behind the resumed step are skipped.  The gradient-clipping value uses the same syntax.
"""
from __future__ import annotations

from typing import Any, Iterator

from modules.training.validation import TrainingError

INVALID = ('Invalid learning rate schedule. It should be a number or, for example, like "0.001:100, 0.00001:1000, '
           '1e-5:10000" to have lr of 0.001 until step 100, 0.00001 until 1000, and 1e-5 until 10000.')


class LearnRateError(TrainingError):
    """A schedule string that cannot be read; the message shows the syntax."""


def parse_schedule(learn_rate: Any, max_steps: int, cur_step: int = 0) -> list[tuple[float, int]]:
    """``[(rate, end_step), ...]`` still ahead of ``cur_step``, the last one ending at or before ``max_steps``."""
    rates: list[tuple[float, int]] = []
    try:
        for pair in str(learn_rate).split(","):
            if not pair.strip():
                continue
            parts = pair.split(":")
            if len(parts) != 2:
                rates.append((float(parts[0]), max_steps))
                break
            step = int(parts[1])
            if step > cur_step:
                rates.append((float(parts[0]), min(step, max_steps)))
                if step > max_steps:
                    break
            elif step == -1:
                rates.append((float(parts[0]), max_steps))
                break
    except ValueError as e:
        raise LearnRateError(INVALID) from e
    if not rates:
        raise LearnRateError(INVALID)
    return rates


class LearnRateScheduler:
    """The current rate and when it ends; :meth:`apply` moves on and writes the rate into an optimizer.

    ``finished`` turns true once the last pair's end step is reached (training stops there).
    """

    def __init__(self, learn_rate: Any, max_steps: int, cur_step: int = 0, verbose: bool = True) -> None:
        self._rates: Iterator[tuple[float, int]] = iter(parse_schedule(learn_rate, max_steps, cur_step))
        self.learn_rate, self.end_step = next(self._rates)
        self.verbose = verbose
        self.finished = False
        if verbose:
            print(f"Training at rate of {self.learn_rate} until step {self.end_step}")

    def step(self, step_number: int) -> bool:
        """Move to the next pair when ``step_number`` reached this one's end; True when the rate changed."""
        if step_number < self.end_step:
            return False
        try:
            self.learn_rate, self.end_step = next(self._rates)
        except StopIteration:
            self.finished = True
            return False
        return True

    def apply(self, optimizer: Any, step_number: int) -> None:
        """:meth:`step`, and on a change set every parameter group's ``lr``."""
        if not self.step(step_number):
            return
        if self.verbose:
            print(f"Training at rate of {self.learn_rate} until step {self.end_step}")
        for group in optimizer.param_groups:
            group["lr"] = self.learn_rate
