"""Learning-rate schedules: callables epoch -> multiplier of the initial learning rate.

They plug into ``Solver(lr_schedule=...)``, which calls ``schedule(e)`` with e = the number of
completed epochs (0 before training, ..., num_epochs after the last epoch) and uses
``learning_rate * schedule(e)`` during epoch e + 1.  Every multiplier is > 0 (the Solver
rejects 0), so decaying schedules end at a small ``final`` factor instead of 0.

- ``Constant()``: 1.
- ``Step(every, gamma)``: gamma ** (e // every).
- ``Cosine(num_epochs, final)``: from 1 down to ``final`` along half a cosine,
  final + (1 - final) * (1 + cos(pi * e / num_epochs)) / 2, and ``final`` after num_epochs.
- ``Warmup(schedule, epochs)``: (e + 1) / (epochs + 1) * schedule(e) for e < epochs, then
  schedule(e): a linear ramp that avoids large first steps from a random start.

``from_config({'name': 'cosine', 'num_epochs': 20, 'final': 0.01, 'warmup_epochs': 1})``
builds one from a JSON-friendly dict; ``schedule.config()`` gives that dict back.
"""

import math

from ..utils.checks import check_int, check_real

__all__ = ["Constant", "Step", "Cosine", "Warmup", "from_config"]


class Constant:
    """Multiplier 1 at every epoch."""

    def __call__(self, epoch):
        check_int("Constant", "epoch", epoch, 0)
        return 1.0

    def config(self):
        return {"name": "constant"}

    def __repr__(self):
        return "Constant()"


class Step:
    """Multiply the learning rate by ``gamma`` every ``every`` epochs."""

    def __init__(self, every, gamma=0.1):
        self.every = check_int("Step", "every", every, 1)
        self.gamma = check_real("Step", "gamma", gamma, 0, 1, low_open=True)

    def __call__(self, epoch):
        return self.gamma ** (check_int("Step", "epoch", epoch, 0) // self.every)

    def config(self):
        return {"name": "step", "every": self.every, "gamma": self.gamma}

    def __repr__(self):
        return f"Step(every={self.every}, gamma={self.gamma})"


class Cosine:
    """Half a cosine from 1 at epoch 0 to ``final`` at epoch ``num_epochs`` (and after)."""

    def __init__(self, num_epochs, final=0.01):
        self.num_epochs = check_int("Cosine", "num_epochs", num_epochs, 1)
        self.final = check_real("Cosine", "final", final, 0, 1, low_open=True)

    def __call__(self, epoch):
        t = min(check_int("Cosine", "epoch", epoch, 0), self.num_epochs) / self.num_epochs
        return self.final + (1.0 - self.final) * 0.5 * (1.0 + math.cos(math.pi * t))

    def config(self):
        return {"name": "cosine", "num_epochs": self.num_epochs, "final": self.final}

    def __repr__(self):
        return f"Cosine(num_epochs={self.num_epochs}, final={self.final})"


class Warmup:
    """Ramp linearly up to ``schedule`` over the first ``epochs`` epochs."""

    def __init__(self, schedule, epochs):
        if not callable(schedule):
            raise ValueError(f"Warmup: schedule must be callable epoch -> multiplier, "
                             f"got {schedule!r}")
        self.schedule = schedule
        self.epochs = check_int("Warmup", "epochs", epochs, 0)

    def __call__(self, epoch):
        epoch = check_int("Warmup", "epoch", epoch, 0)
        ramp = (epoch + 1) / (self.epochs + 1) if epoch < self.epochs else 1.0
        return ramp * self.schedule(epoch)

    def config(self):
        inner = self.schedule.config() if hasattr(self.schedule, "config") else None
        if inner is None:
            raise ValueError(f"Warmup.config: the inner schedule {self.schedule!r} has no config()")
        return {**inner, "warmup_epochs": self.epochs}

    def __repr__(self):
        return f"Warmup({self.schedule!r}, epochs={self.epochs})"


_BUILDERS = {
    "constant": (Constant, ()),
    "step": (Step, ("every", "gamma")),
    "cosine": (Cosine, ("num_epochs", "final")),
}


def from_config(config):
    """Build a schedule from {'name': 'constant'|'step'|'cosine', <its arguments>,
    optional 'warmup_epochs': int}.  None or {} gives None (no schedule)."""
    if config is None or config == {}:
        return None
    if not isinstance(config, dict) or "name" not in config:
        raise ValueError(f"schedule config must be a dict with a 'name', got {config!r}")
    name = config["name"]
    if not isinstance(name, str):
        raise ValueError(f"schedule.name must be a string, one of {sorted(_BUILDERS)}; "
                         f"got {name!r}")
    if name not in _BUILDERS:
        raise ValueError(f"unknown schedule name {name!r}; valid names are {sorted(_BUILDERS)}")
    cls, allowed = _BUILDERS[name]
    kwargs = {k: v for k, v in config.items() if k not in ("name", "warmup_epochs")}
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"schedule {name!r}: unknown key(s) {unknown}; allowed: "
                         f"{list(allowed) + ['warmup_epochs']}")
    try:
        schedule = cls(**kwargs)
    except TypeError as e:  # a required argument is missing
        raise ValueError(f"schedule {name!r}: {e}; needs {list(allowed)}") from e
    warmup = config.get("warmup_epochs", 0)
    return Warmup(schedule, warmup) if warmup else schedule
