"""Solver: trains a classification model with minibatch gradient descent.

The model is any object with ``model.params`` (dict name -> ndarray) and ``model.loss(X, y=None)``,
which returns (loss, grads), grads keyed like params, given labels y, and class scores (N, C)
without.  ``data`` is a dict with 'X_train', 'y_train', 'X_val', 'y_val' (other keys are ignored)::

    solver = Solver(model, data, update_rule='adam', optim_config={'learning_rate': 1e-3},
                    lr_decay=0.95, num_epochs=10, batch_size=100, seed=0)
    solver.train()
    solver.best_val_acc, solver.val_acc_history

Each epoch walks through a fresh random permutation of the training set in minibatches of
batch_size, dropping the last partial batch; all randomness comes from the seed.  Accuracies
are measured once before the first update (index 0 of the histories) and after every epoch.
When training ends, model.params holds the parameters with the best validation accuracy
(``keep="best"``) or those after the last epoch (``keep="final"``).  ``state_dict()`` and
``load_state_dict()`` give the whole training state and take it back (``save`` / ``restore``
through a checkpoint file), so that a resumed run continues exactly as the uninterrupted one.
"""
import numpy as np

from . import optim
from .solver_checks import (HISTORIES, check_data, check_model, check_loss, check_options,
                            check_schedule, check_state, quiet_overflow, TrainingDiverged)
from .utils.checkpoint import load_checkpoint, rng_state_to_array, save_checkpoint, set_rng_state
from .utils.checks import check_int, check_real
from .utils.progress import progress_bar

__all__ = ["Solver", "TrainingDiverged"]


def _copy_config(config):
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in config.items()}


class Solver:
    """Minibatch training loop with accuracy tracking, best-model keeping and checkpoints.

    Arguments (all but model and data keyword-only):
    - update_rule: name of a rule in code_base.optim ('sgd', 'sgd_momentum', 'rmsprop',
      'adam') or a callable with the same signature.
    - optim_config: hyperparameters for the update rule; every parameter gets its own copy
      (and its own optimiser state).  With a built-in rule the arrays in model.params are
      updated in place (``'inplace': True`` by default; ``False`` gives fresh arrays).
    - lr_decay: learning rate multiplier applied at the end of every epoch.
    - lr_schedule: callable epoch -> multiplier of the initial learning rate, for epoch =
      the number of completed epochs (lr_decay=d is ``lambda e: d ** e``); not with lr_decay.
    - batch_size, num_epochs: minibatch size and number of passes over the data.
    - num_train_samples, num_val_samples: subsample sizes for the accuracy checks (None: all).
    - print_every: print the loss every this many iterations when verbose.
    - verbose: print the loss and per-epoch accuracies.
    - progress: show a tqdm progress bar (default: same as verbose).
    - seed: int, None or np.random.Generator for minibatch sampling.
    - checkpoint_path: write a checkpoint (see code_base.utils.checkpoint) there every
      checkpoint_every epochs (default every epoch) and after the last one.
    - augment: optional callable (X_batch, rng) -> X_batch applied to every training minibatch.
    - divergence_factor: training stops (TrainingDiverged) when the loss is NaN or infinite, or
      exceeds divergence_factor times the larger of 1 and the first minibatch's loss (default
      100; None keeps only the NaN / infinity rule).
    - checkpoint_tag: a string saved in every checkpoint; ``restore`` refuses a checkpoint whose
      tag differs (e.g. the training config that produced it).
    - keep: "best" (after training, model.params holds the parameters of the epoch with the best
      validation accuracy, the first on ties: best_epoch) or "final" (those of the last epoch).
    State: loss_history (per iteration), train_acc_history, val_acc_history (before the first
    update, then per epoch), lr_history (per epoch), best_val_acc, best_epoch, best_params.
    """

    def __init__(self, model, data, *, update_rule="sgd", optim_config=None, lr_decay=1.0,
                 batch_size=100, num_epochs=10, num_train_samples=1000, num_val_samples=None,
                 print_every=10, verbose=True, seed=None, checkpoint_path=None,
                 checkpoint_every=None, augment=None, lr_schedule=None, progress=None,
                 divergence_factor=100.0, checkpoint_tag=None, keep="best"):
        self.model = check_model(model)
        self.X_train, self.y_train, self.X_val, self.y_val = check_data(data)
        self._set_update_rule(update_rule, optim_config)
        self._set_schedule(lr_decay, lr_schedule)
        where = "Solver"
        self.batch_size = check_int(where, "batch_size", batch_size, 1)
        self.num_epochs = check_int(where, "num_epochs", num_epochs, 1)
        self.print_every = check_int(where, "print_every", print_every, 1)
        self.num_train_samples, self.num_val_samples, checkpoint_every = (
            check_int(where, name, value, 1, allow_none=True) for name, value in (
                ("num_train_samples", num_train_samples), ("num_val_samples", num_val_samples),
                ("checkpoint_every", checkpoint_every)))
        if checkpoint_every is not None and checkpoint_path is None:
            raise ValueError(f"{where}: checkpoint_every was given without a checkpoint_path")
        check_options(augment, checkpoint_tag, keep)
        self.verbose = bool(verbose)
        self.progress = self.verbose if progress is None else bool(progress)
        self.checkpoint_path, self.checkpoint_every = checkpoint_path, checkpoint_every or 1
        self.augment, self.seed = augment, seed
        self.divergence_factor = check_real(where, "divergence_factor", divergence_factor, 1,
                                            allow_none=True)
        self.checkpoint_tag, self.keep = checkpoint_tag, keep
        self.rng = np.random.default_rng(seed)
        if checkpoint_path is not None:
            rng_state_to_array(self.rng)  # fail now, not after an epoch, if it cannot be saved
        self._reset()

    def _set_update_rule(self, update_rule, optim_config):
        self.update_rule_name, self.update_rule = optim.get_rule(update_rule, "Solver")
        optim_config = dict(optim_config or {})
        if hasattr(self.update_rule, "defaults"):
            # The model's parameter arrays are updated in place unless asked otherwise:
            # it saves a copy of every parameter and its state at every step.
            optim_config.setdefault("inplace", True)
            # Built-in rule: reject typos now, and record the default hyperparameters.
            optim_config = optim.validate_config(self.update_rule, optim_config)
        self.optim_config = optim_config

    def _set_schedule(self, lr_decay, lr_schedule):
        self.base_learning_rate = self.optim_config.get("learning_rate")
        self.lr_decay = check_schedule(lr_decay, lr_schedule, self.base_learning_rate,
                                       self.update_rule_name)
        self.lr_schedule = lr_schedule

    def _reset(self):
        self.epoch = 0
        self.iteration = 0
        self.best_val_acc, self.best_epoch = 0.0, 0
        self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        self.loss_history, self.train_acc_history, self.val_acc_history = [], [], []
        self.lr_history = []
        self.optim_configs = {p: _copy_config(self.optim_config) for p in self.model.params}
        self._apply_lr_schedule()

    @property
    def iterations_per_epoch(self):
        return max(len(self.X_train) // self.batch_size, 1)

    @property
    def learning_rate(self):
        """Learning rate for the current epoch (None if the rule has none)."""
        if self.base_learning_rate is None:
            return None
        if self.lr_schedule is None:
            return self.base_learning_rate * self.lr_decay ** self.epoch
        factor = check_real("Solver", f"lr_schedule({self.epoch})", self.lr_schedule(self.epoch),
                            0, low_open=True)
        return self.base_learning_rate * factor

    def _apply_lr_schedule(self):
        lr = self.learning_rate
        if lr is not None:
            for config in self.optim_configs.values():
                config["learning_rate"] = lr

    def _step(self, idx):
        """One update from the training examples idx; returns the loss."""
        X_batch, y_batch = self.X_train[idx], self.y_train[idx]
        if self.augment is not None:
            X_batch = self.augment(X_batch, self.rng)
            if len(X_batch) != len(y_batch):
                raise ValueError(f"augment returned {len(X_batch)} examples "
                                 f"for a batch of {len(y_batch)}")
        with quiet_overflow():
            loss, grads = self.model.loss(X_batch, y_batch)
            loss = check_loss(float(loss), self)
            missing = [p for p in self.model.params if p not in grads]
            if missing:
                raise ValueError(f"model.loss returned no gradient for parameter(s) {missing}")
            for p, w in self.model.params.items():
                next_w, self.optim_configs[p] = self.update_rule(w, grads[p], self.optim_configs[p])
                self.model.params[p] = next_w
        return loss

    def check_accuracy(self, X, y, num_samples=None, batch_size=100, rng=None):
        """Fraction of examples in X whose predicted class equals y.

        - X: array of examples (N, ...); y: labels (N,).
        - num_samples: if given and smaller than N, score a random subset of
          this size drawn without replacement with `rng` (default: the solver's).
        - batch_size: examples scored per call to model.loss.
        """
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} examples but y has {len(y)}")
        check_int("check_accuracy", "num_samples", num_samples, 1, allow_none=True)
        check_int("check_accuracy", "batch_size", batch_size, 1)
        N = len(X)
        if N == 0:
            raise ValueError("cannot measure accuracy on zero examples")
        if num_samples is not None and N > num_samples:
            idx = (self.rng if rng is None else rng).choice(N, num_samples, replace=False)
            X, y, N = X[idx], y[idx], num_samples
        y_pred = np.concatenate([np.argmax(self.model.loss(X[i:i + batch_size]), axis=1)
                                 for i in range(0, N, batch_size)])
        return float(np.mean(y_pred == np.asarray(y)))

    def _record_accuracy(self, log):
        with quiet_overflow():  # the parameters may be on their way to divergence
            train_acc = self.check_accuracy(self.X_train, self.y_train,
                                            num_samples=self.num_train_samples)
            val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if self.verbose:
            log(f"(Epoch {self.epoch} / {self.num_epochs}) "
                f"train acc: {train_acc:f}; val_acc: {val_acc:f}")
        if val_acc > self.best_val_acc:
            self.best_val_acc, self.best_epoch = val_acc, self.epoch
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}

    def train(self):
        """Train until self.epoch == num_epochs (continuing after `restore`)."""
        ipe = self.iterations_per_epoch
        num_iterations = self.num_epochs * ipe
        N, bs = len(self.X_train), self.batch_size
        with progress_bar(num_iterations, initial=self.iteration, enabled=self.progress,
                          desc="train", unit="it", dynamic_ncols=True) as bar:
            if not self.val_acc_history:
                self._record_accuracy(bar.write)
            while self.epoch < self.num_epochs:
                order = self.rng.permutation(N)
                for i in range(ipe):
                    loss = self._step(order[i * bs:(i + 1) * bs])
                    self.loss_history.append(loss)
                    if self.verbose and self.iteration % self.print_every == 0:
                        bar.write(f"(Iteration {self.iteration + 1} / {num_iterations}) "
                                  f"loss: {loss:f}")
                    self.iteration += 1
                    bar.update(1)
                    self._show(bar, self.epoch + 1, loss, refresh=False)
                self._end_epoch(bar)
        if self.keep == "best":
            for k, v in self.best_params.items():
                self.model.params[k] = v.copy()

    def _end_epoch(self, bar):
        if self.base_learning_rate is not None:
            self.lr_history.append(self.learning_rate)
        self.epoch += 1
        self._apply_lr_schedule()
        self._record_accuracy(bar.write)
        self._show(bar, self.epoch, self.loss_history[-1], refresh=True)
        if self.checkpoint_path is not None and (
                self.epoch % self.checkpoint_every == 0 or self.epoch == self.num_epochs):
            self.save(self.checkpoint_path)

    def _show(self, bar, epoch, loss, refresh):
        bar.set_postfix(epoch=epoch, loss=f"{loss:.4g}", val_acc=f"{self.val_acc_history[-1]:.3f}",
                        refresh=refresh)

    @property
    def kept_epoch(self):
        """The epoch whose parameters training leaves in model.params (see keep)."""
        return self.best_epoch if self.keep == "best" else self.epoch

    def state_dict(self):
        """The training state as a nested dict of arrays, numbers and strings (no copies);
        after train() with keep="best", the model's parameters in it are the best ones."""
        model_rng = getattr(self.model, "rng", None)
        return {
            "param": dict(self.model.params), "best": dict(self.best_params),
            "optim": dict(self.optim_configs), "epoch": self.epoch, "iteration": self.iteration,
            "best_val_acc": self.best_val_acc, "best_epoch": self.best_epoch,
            **{key: list(getattr(self, key)) for key in HISTORIES},
            "update_rule": self.update_rule_name, "tag": self.checkpoint_tag, "keep": self.keep,
            "rng_state": rng_state_to_array(self.rng),
            "model_rng_state": (rng_state_to_array(model_rng)
                                if isinstance(model_rng, np.random.Generator) else None),
        }

    def load_state_dict(self, state, source="state"):
        """Take back a state from `state_dict` (this solver's and its model's); returns self.

        The whole state is checked first (ValueError naming ``source`` and the entry), so a
        state that does not fit changes nothing.  Besides the parameters and the optimiser
        state, the solver's generator (minibatch order, augmentation) and the model's ``rng``
        (dropout masks) are restored, so the run continues exactly as it would have.
        """
        histories = check_state(state, self, source)
        self.model.params.update({k: v.copy() for k, v in state["param"].items()})
        self.best_params = {k: v.copy() for k, v in state["best"].items()}
        self.optim_configs = {k: _copy_config(c) for k, c in state["optim"].items()}
        self.epoch, self.iteration = int(state["epoch"]), int(state["iteration"])
        self.best_val_acc, self.best_epoch = float(state["best_val_acc"]), int(state["best_epoch"])
        for key, values in histories.items():
            setattr(self, key, values)
        set_rng_state(self.rng, state["rng_state"])
        if state.get("model_rng_state") is not None:
            set_rng_state(self.model.rng, state["model_rng_state"])  # shared with its dropout
        return self

    def save(self, path):
        """Write `state_dict()` to the checkpoint file `path` (see code_base.utils.checkpoint)."""
        save_checkpoint(path, self.state_dict())

    def restore(self, path):
        """Load a checkpoint written by `save` into this solver and its model; returns self."""
        return self.load_state_dict(load_checkpoint(path), source=path)

    def __repr__(self):
        state_scalars = getattr(self.update_rule, "state_scalars", ())
        hyper = {k: v for k, v in self.optim_config.items()
                 if not isinstance(v, np.ndarray) and k not in state_scalars}
        schedule = "" if self.lr_schedule is None else f", lr_schedule={self.lr_schedule!r}"
        return (f"Solver(update_rule='{self.update_rule_name}', optim_config={hyper}, "
                f"batch_size={self.batch_size}, num_epochs={self.num_epochs}, "
                f"lr_decay={self.lr_decay}{schedule}, keep='{self.keep}', seed={self.seed!r}, "
                f"num_train={len(self.X_train)}, num_val={len(self.X_val)})")
