"""What a sweep under ``early_terminate: {type: promotion}`` must do, without Ray.

One worker, trials one at a time: before each trial a due re-run goes first, else the grid's
next curve; each trial stops at its rung or runs to the end of its curve.
"""

from __future__ import annotations

from raysweep.schedulers.promotion_ladder import PromotionLadder

Outcome = tuple[str, int, str]  # (status, steps, curve)


def promotion_oracle(curves: list[list[float]], rungs: list[int], eta: float) -> list[Outcome]:
    """Every trial's outcome, in start order."""
    ladder = PromotionLadder(rungs, eta)
    todo = list(range(len(curves)))
    outcomes: list[Outcome] = []
    for n in range(100):
        trial_id = f"t{n}"
        config = ladder.take(trial_id)
        if config is None:
            if not todo:
                return outcomes
            config = {"curve": todo.pop(0)}
        ladder.add(trial_id, config)
        curve = curves[config["curve"]]
        budget = ladder.budget(trial_id)
        if budget is not None and budget <= len(curve):
            ladder.reach(trial_id, curve[budget - 1])
            ladder.end(trial_id, stopped=True)
            outcomes.append(("stopped", budget, str(config["curve"])))
        else:
            ladder.end(trial_id, stopped=False)
            outcomes.append(("finished", len(curve), str(config["curve"])))
    raise AssertionError("the oracle did not end")


Segment = tuple[str, int, str, int]  # (status, last step reached, curve, step it resumed from)


def checkpoint_oracle(curves: list[list[float]], rungs: list[int], eta: float) -> list[Segment]:
    """As :func:`promotion_oracle` with ``resume: checkpoint`` and a checkpoint at every step:
    a promoted configuration continues from the rung where its last trial paused."""
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
        start = reached.get(index, 0)
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
