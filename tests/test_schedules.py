"""Learning-rate schedules: values at given epochs, config round trips, Solver hook, errors."""

import math

import numpy as np
import pytest

from code_base.training import schedules
from code_base.training.schedules import Constant, Cosine, Step, Warmup, from_config
from code_base.solver import Solver


@pytest.mark.parametrize("schedule, epochs, expected", [
    (Constant(), [0, 5], [1.0, 1.0]),
    (Step(every=2, gamma=0.5), [0, 1, 2, 3, 4], [1.0, 1.0, 0.5, 0.5, 0.25]),
    (Cosine(num_epochs=4, final=0.2), [0, 2, 4], [1.0, 0.6, 0.2]),
    (Cosine(num_epochs=4, final=0.1), [0, 1, 4, 9],
     [1.0, 0.1 + 0.9 * (1 + math.cos(math.pi / 4)) / 2, 0.1, 0.1]),
    (Warmup(Constant(), epochs=3), [0, 1, 2, 3, 10], [0.25, 0.5, 0.75, 1.0, 1.0]),
    (Warmup(Step(1, 0.5), epochs=1), [0, 1, 2], [0.5, 0.5, 0.25]),
])
def test_values(schedule, epochs, expected):
    assert [schedule(e) for e in epochs] == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("config, expected_repr", [
    ({"name": "constant"}, "Constant()"),
    ({"name": "step", "every": 3, "gamma": 0.2}, "Step(every=3, gamma=0.2)"),
    ({"name": "cosine", "num_epochs": 10, "final": 0.05, "warmup_epochs": 2},
     "Warmup(Cosine(num_epochs=10, final=0.05), epochs=2)"),
])
def test_from_config_round_trip(config, expected_repr):
    schedule = from_config(config)
    assert repr(schedule) == expected_repr
    assert from_config(schedule.config()).config() == schedule.config()


def test_no_schedule():
    assert from_config(None) is None and from_config({}) is None


@pytest.mark.parametrize("call, message", [
    (lambda: from_config({"name": "linear"}), "unknown schedule name"),
    (lambda: from_config({"name": ["cosine"]}), r"schedule.name must be a string.*\[.cosine.\]"),
    (lambda: from_config({"every": 2}), "'name'"),
    (lambda: from_config({"name": "step", "evry": 2}), "unknown key"),
    (lambda: from_config({"name": "cosine"}), "num_epochs"),
    (lambda: Step(every=0), "every"),
    (lambda: Step(every=2, gamma=0), "gamma"),
    (lambda: Cosine(num_epochs=5, final=0.0), "final"),
    (lambda: Cosine(num_epochs=5, final=float("nan")), "final"),
    (lambda: Warmup(Constant(), epochs=-1), "epochs"),
    (lambda: Warmup(3, epochs=1), "callable"),
    (lambda: Constant()(-1), "epoch"),
    (lambda: Step(2)(1.5), "epoch"),
])
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


class Quadratic:
    """Loss 0.5 * |w|^2 (gradient w), enough to drive the Solver's learning-rate updates."""

    def __init__(self):
        self.params = {"w": np.ones(3)}

    def loss(self, X, y=None):
        if y is None:
            return np.zeros((len(X), 2))
        return 0.5 * float(self.params["w"] @ self.params["w"]), {"w": self.params["w"].copy()}


def test_solver_uses_the_schedule_per_epoch():
    data = {"X_train": np.zeros((4, 1)), "y_train": np.zeros(4, int),
            "X_val": np.zeros((2, 1)), "y_val": np.zeros(2, int)}
    seen = []

    def sgd(w, dw, config):
        seen.append(config["learning_rate"])
        return w - config["learning_rate"] * dw, config

    solver = Solver(Quadratic(), data, update_rule=sgd, optim_config={"learning_rate": 0.1},
                    lr_schedule=schedules.Warmup(schedules.Step(1, 0.5), 1), batch_size=2,
                    num_epochs=3, verbose=False, seed=0)
    solver.train()
    assert seen == pytest.approx([0.05, 0.05, 0.05, 0.05, 0.025, 0.025])
