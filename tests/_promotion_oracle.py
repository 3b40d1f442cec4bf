"""What a sweep under ``early_terminate: {type: promotion}`` must do, without Ray.

One worker, trials one at a time: before each trial a due re-run goes first, else the grid's
next curve; each trial stops at its rung or runs to the end of its curve.
"""

from __future__ import annotations

from raysweep.schedulers.promotion_ladder import PromotionLadder

Outcome = tuple[str, int, str]  # (status, steps, curve)


Segment = tuple[str, int, str, int]  # (status, last step reached, curve, step it resumed from)

# Loss curves, eight steps each, for sweeps whose rungs are 2 and 4 (max_iter 8, s 2, eta 2):
# they pause at both rungs, and resume from each (tests of `resume: checkpoint`).
CHECKPOINT_CURVES: list[list[float]] = [
    [5, 4, 3, 2.5, 2, 1.8, 1.6, 1.5],
    [6, 3, 2.8, 2.6, 2.4, 2.2, 2, 1.9],
    [7, 6, 5, 4, 3, 2, 1, 0.5],
    [4, 3.5, 3.4, 3.3, 3.2, 3.1, 3, 2.9],
    [1, 4.5, 4.4, 4.3, 4.2, 4.1, 4, 3.9],
    [4.5, 2.9, 2.7, 2.4, 2.2, 2.1, 2.05, 2.0],
]
CHECKPOINT_RUNGS = [2, 4]


def promotion_oracle(curves: list[list[float]], rungs: list[int], eta: float) -> list[Outcome]:
    """Every trial's outcome, in start order."""
    return [(status, steps, curve)
            for status, steps, curve, _ in checkpoint_oracle(curves, rungs, eta, resume=False)]


def checkpoint_oracle(
    curves: list[list[float]], rungs: list[int], eta: float, *, resume: bool = True
) -> list[Segment]:
    """Every trial's outcome, in start order, and the step it resumed from: with
    ``resume: checkpoint`` and a checkpoint at every step, a promoted configuration continues
    from the rung where its last trial paused (``resume=False``: it trains again from the
    start, and its steps are the rung it reaches)."""
    ladder = PromotionLadder(rungs, eta)
    todo = list(range(len(curves)))
    reached: dict[int, int] = {}  # curve -> last step reached
    outcomes: list[Segment] = []
    for n in range(100):
        trial_id = f"t{n}"
        config = ladder.take(trial_id)
        if config is None:
            if not todo:
                return outcomes
            config = {"curve": todo.pop(0)}
        ladder.add(trial_id, config)
        index = config["curve"]
        curve = curves[index]
        start = reached.get(index, 0) if resume else 0
        budget = ladder.budget(trial_id)
        if budget is not None and budget <= len(curve):
            ladder.reach(trial_id, curve[budget - 1])
            ladder.end(trial_id, stopped=True)
            outcomes.append(("stopped", budget, str(index), start))
            reached[index] = budget
        else:
            ladder.end(trial_id, stopped=False)
            outcomes.append(("finished", len(curve), str(index), start))
    raise AssertionError("the oracle did not end")
