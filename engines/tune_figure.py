"""The figure of a search: the metric of every trial, and the best so far."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def plot_search(study: Any, metric: str, path: Path) -> Path:
    """Complete trials as dots (pruned ones, at their last reported value, as crosses) by
    trial number, with the best value so far as a step line."""
    import optuna

    from ignite_zoo.engines.reports.figures import pyplot, save_figure

    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    done, pruned = [], []
    for t in study.get_trials(deepcopy=False):
        if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None and not math.isnan(t.value):
            done.append((t.number, t.value))
        elif t.state == optuna.trial.TrialState.PRUNED and t.intermediate_values:
            pruned.append((t.number, t.intermediate_values[max(t.intermediate_values)]))
    fig, ax = pyplot().subplots(figsize=(6.5, 4))
    if done:
        ax.plot(*zip(*done), "o", label="complete")
        best, line = None, []
        for n, v in sorted(done):
            best = v if best is None or (v > best if maximize else v < best) else best
            line.append((n, best))
        ax.step(*zip(*line), where="post", label="best so far")
    if pruned:
        ax.plot(*zip(*pruned), "x", color="grey", label="pruned (last report)")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title(f"study {study.study_name}: {metric} ({'higher' if maximize else 'lower'} is better)")
    if done or pruned:
        ax.legend(loc="best", fontsize=8)
    return save_figure(fig, path)
