"""A training run's folder holds one complete run, old or new, never a mix of two.

While a run trains, everything it writes goes to the hidden sibling folder ``.NAME.partial``:
a marker (``in-progress.json``) and config.json first, then the checkpoints, and at the end
the parameters, history and, last, the summary.  Then the files of NAME that a run does not
write (the search table, say) are linked in and ``.NAME.partial`` takes NAME's place in one step
(:func:`code_base.utils.fileio.replace_folder`); the marker is removed last.  So NAME keeps the
last complete run until a new one completes, whatever the moment a run fails or is killed:
``.NAME.partial`` keeps an interrupted run's checkpoint for ``--resume``, and a run killed
between its summary and the swap is published by the next command.  A resumed run
equals the uninterrupted one bit for bit: the checkpoint holds the solver's and the model's
generators, and it records the config's fingerprint, so that a checkpoint of another config
is refused.

One run at a time per folder: :meth:`RunFolder.lock` takes an advisory ``fcntl`` lock on the
file ``.NAME.lock`` beside it (holding the holder's pid) for the whole run, and a second run on
the same folder is refused in one line naming the holder.  The lock goes with the process,
however it ends.
"""

import contextlib
import datetime
import fcntl
import json
import os
import shutil
from pathlib import Path

from ..utils.fileio import (carry_over, check_replaceable, recover_folder, remove_temporaries,
                            replace_folder, sibling)
from .config import config_differences, config_id
from .run_files import save_json

__all__ = ["RUN_FILES", "RunFolder", "FolderBusy"]

RUN_FILES = ("config.json", "history.json", "params.npz", "W1.npy", "summary.json",
             "checkpoint.npz")
MARKER = "in-progress.json"


def _same_file(path, f):
    try:
        return os.stat(path).st_ino == os.fstat(f.fileno()).st_ino
    except FileNotFoundError:
        return False


class FolderBusy(OSError):
    """Another process holds the run folder's lock."""


class RunFolder:
    """The run folder ``out`` and ``work``, where the next run is built (``.NAME.partial``)."""

    def __init__(self, out):
        self.out = Path(out)
        self.work = sibling(self.out, "partial")
        self.checkpoint = self.work / "checkpoint.npz"
        self.lock_file = sibling(self.out, "lock")

    @contextlib.contextmanager
    def lock(self):
        """Hold the folder's lock for the ``with`` block; FolderBusy if another process has it.

        The lock file is removed on the way out, while still locked; a process that opened it
        just before then finds, once it has the lock, that the name points elsewhere, and
        tries again.
        """
        self.out.parent.mkdir(parents=True, exist_ok=True)
        while True:
            f = open(self.lock_file, "a+")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "unknown"
                f.close()
                raise FolderBusy(f"train: {self.out} is in use by another run (pid {holder}, "
                                 f"lock {self.lock_file}): wait for it to finish") from None
            if _same_file(self.lock_file, f):
                break
            f.close()
        try:
            f.truncate(0)
            f.write(f"{os.getpid()}\n")
            f.flush()
            yield self
        finally:
            self.lock_file.unlink(missing_ok=True)
            f.close()

    def recover(self):
        """Finish what a killed run left half done: a swap cut short, a complete run not yet
        published, or the old run left at the work folder's name after the swap."""
        recover_folder(self.out, self.work)
        if (self.out / MARKER).is_file():
            (self.out / MARKER).unlink()
        if not self.work.is_dir():
            return
        if not (self.work / MARKER).is_file():
            shutil.rmtree(self.work)
        elif (self.work / "summary.json").is_file():  # written last: the run is complete
            self.finish()

    def start(self, config, resume, log):
        """Check the folders and prepare ``work`` for a new run, or for resuming one."""
        check_replaceable("train", self.out, RUN_FILES)
        interrupted = (self.work / MARKER).is_file()
        if resume:
            self._check_resume(config, interrupted)
            stale = remove_temporaries(self.work)
            if stale:
                log(f"removed {len(stale)} temporary files a killed run left in {self.work}")
            return
        if interrupted and self.checkpoint.is_file():
            raise ValueError(f"train: {self.work} holds an interrupted run with a checkpoint: "
                             "continue it with --resume, or delete that folder to start over")
        shutil.rmtree(self.work, ignore_errors=True)  # an interrupted run with nothing saved
        self.work.mkdir(parents=True)
        save_json(self.work / MARKER, {
            "config_id": config_id(config),
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "replaces": str(self.out)})
        save_json(self.work / "config.json", config)
        log(f"training in {self.work}; {self.out} keeps its files until the run completes")

    def _check_resume(self, config, interrupted):
        if not interrupted:
            raise FileNotFoundError(f"--resume: there is no interrupted run to continue in "
                                    f"{self.work} (a run that completed has nothing left to do)")
        if not self.checkpoint.is_file():
            raise FileNotFoundError(f"--resume: the interrupted run in {self.work} stopped before "
                                    "its first checkpoint: train again without --resume")
        saved = json.loads((self.work / "config.json").read_text())
        differences = config_differences(saved, config)
        if differences:
            raise ValueError(f"--resume: the interrupted run in {self.work} has another config "
                             f"({'; '.join(differences[:3])}): resume with its config, or delete "
                             "that folder to start over")

    def finish(self):
        """Make the complete run in ``work`` the folder ``out``, keeping out's other files."""
        remove_temporaries(self.work)
        carry_over(self.out, self.work, RUN_FILES)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        replace_folder(self.work, self.out)
        (self.out / MARKER).unlink()
