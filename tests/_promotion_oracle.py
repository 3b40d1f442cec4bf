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
