"""Warnings and notices that say nothing a user can act on, silenced in one place: imported by the training
and search entry points before anything else of theirs."""

import logging
import warnings

from optuna.exceptions import ExperimentalWarning

# Lightning 2.6 builds torch's `LeafSpec`, which torch 2.13 marks deprecated: harmless, and nothing a user
# can act on (both versions are pinned), yet printed on every run.
warnings.filterwarnings(
    "ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning
)
# Optuna flags the features the sweep relies on (heartbeats outside Study.optimize, failing stale trials,
# objective names) as experimental on every use.
for _message, _category in (
    (r"Argument ``heartbeat_interval`` is an experimental feature", ExperimentalWarning),
    (r"Heartbeat of storage is supposed to be used with Study\.optimize", UserWarning),
    (r"\S*fail_stale_trials is experimental", ExperimentalWarning),
    (r"\S*set_metric_names is experimental", ExperimentalWarning),
):
    warnings.filterwarnings("ignore", message=_message, category=_category)


class _LightningNotices(logging.Filter):
    """Drop Lightning's lines that print on every run and say nothing about it: the advert for its cloud
    logger and the device inventory (GPU/TPU/HPU available). Its other notices (resuming, stopping) stay."""

    NOTICES = ("💡 Tip:", "GPU available:", "TPU available:", "HPU available:")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.NOTICES)


# Lightning logs them through this one logger (`rank_zero_info`), on the global-zero rank.
logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(_LightningNotices())
