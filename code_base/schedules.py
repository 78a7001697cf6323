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
import numbers

__all__ = ["Constant", "Step", "Cosine", "Warmup", "from_config"]


def _check_epoch(name, epoch):
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
        raise ValueError(f"{name}: epoch must be an integer >= 0, got {epoch!r}")
    return int(epoch)


def _check_number(name, key, value, low, high, low_open=True, high_open=False):
    ok_type = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok_type and math.isfinite(value):
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if above and below:
            return float(value)
    interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    raise ValueError(f"{name}: {key} must be a number in {interval}, got {value!r}")


def _check_count(name, key, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}: {key} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class Constant:
    """Multiplier 1 at every epoch."""

    def __call__(self, epoch):
        _check_epoch("Constant", epoch)
        return 1.0

    def config(self):
        return {"name": "constant"}

    def __repr__(self):
        return "Constant()"


class Step:
    """Multiply the learning rate by ``gamma`` every ``every`` epochs."""

    def __init__(self, every, gamma=0.1):
        self.every = _check_count("Step", "every", every, 1)
        self.gamma = _check_number("Step", "gamma", gamma, 0, 1)

    def __call__(self, epoch):
        return self.gamma ** (_check_epoch("Step", epoch) // self.every)

    def config(self):
        return {"name": "step", "every": self.every, "gamma": self.gamma}

    def __repr__(self):
        return f"Step(every={self.every}, gamma={self.gamma})"


class Cosine:
    """Half a cosine from 1 at epoch 0 to ``final`` at epoch ``num_epochs`` (and after)."""

    def __init__(self, num_epochs, final=0.01):
        self.num_epochs = _check_count("Cosine", "num_epochs", num_epochs, 1)
        self.final = _check_number("Cosine", "final", final, 0, 1)

    def __call__(self, epoch):
        t = min(_check_epoch("Cosine", epoch), self.num_epochs) / self.num_epochs
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
        self.epochs = _check_count("Warmup", "epochs", epochs, 0)

    def __call__(self, epoch):
        epoch = _check_epoch("Warmup", epoch)
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
