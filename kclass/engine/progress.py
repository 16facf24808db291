"""One progress line per logging interval: epoch, step, metrics, images/s and ETA."""

import sys


def _clock(seconds):
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """Prints `epoch e/E step s/S loss ... img/s ETA h:mm:ss` to `stream` (stdout by default)."""

    def __init__(self, total_steps, steps_per_epoch, epochs, global_batch, stream=None, enabled=True):
        self.total_steps = total_steps
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        self.global_batch = global_batch
        self.stream = stream or sys.stdout
        self.enabled = enabled
        self._rate = None

    def update(self, step, seconds, images, values):
        """Reports `images` trained in `seconds`, ending at global `step`; returns images/s."""
        rate = images / max(seconds, 1e-9)
        # A smoothed rate keeps the ETA steady while the first loops still include tracing.
        self._rate = rate if self._rate is None else 0.7 * self._rate + 0.3 * rate
        if self.enabled:
            epoch = (step - 1) // self.steps_per_epoch + 1
            in_epoch = (step - 1) % self.steps_per_epoch + 1
            eta = (self.total_steps - step) * self.global_batch / self._rate
            shown = " ".join(f"{k} {v:.4g}" for k, v in values.items())
            print(f"epoch {epoch}/{self.epochs} step {in_epoch}/{self.steps_per_epoch} {shown} "
                  f"{rate:.1f} img/s ETA {_clock(eta)}", file=self.stream, flush=True)
        return rate

    def message(self, text):
        if self.enabled:
            print(text, file=self.stream, flush=True)
