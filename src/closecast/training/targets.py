"""What a config's `_target_` may name. Training builds the Trainer, callbacks, logger, network, optimizer
and data from config, so a config file (a preset someone shared, a sweep's overrides) could otherwise make
it import and call any code; the packages trusted by default are closecast's own and the libraries it
builds from. A project's own classes are allowed by naming them in the config's `allowed_targets`: a
package (`mypkg.` or `mypkg.*`, everything under it) or one name (`mypkg.callbacks.MyCallback`)."""

from __future__ import annotations

from typing import Any

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig, ListConfig

from closecast.errors import DataError

TRUSTED_TARGETS = (
    "closecast.*",
    "torch.optim.*",
    "pytorch_lightning.*",
    "lightning.pytorch.*",
    "optuna.pruners.*",
)


NOT_ALLOWED = "is not in the Hydra execution whitelist"


def allowed_patterns(entries: Any) -> list[str]:
    """Hydra whitelist patterns of `allowed_targets` entries: `mypkg.`/`mypkg.*` a package, any other
    entry the name itself and everything under it."""
    if entries is None:
        return []
    if isinstance(entries, str) or not isinstance(entries, list | tuple | ListConfig):
        raise DataError(
            f"allowed_targets={entries!r} is not a list; e.g. 'allowed_targets=[mypkg.]' (a package) "
            "or 'allowed_targets=[mypkg.callbacks.MyCallback]'"
        )
    patterns = []
    for entry in map(str, entries):
        name = entry.removesuffix("*").removesuffix(".")
        if not name or "*" in name:
            raise DataError(
                f"allowed_targets entry {entry!r} names no package; write a package as 'mypkg.' or a name "
                "as 'mypkg.module.Class'"
            )
        patterns += [f"{name}.*"] if entry.endswith((".", ".*")) else [name, f"{name}.*"]
    return patterns


def _configured(conf: Any) -> Any:
    # The allow-list is a key of the whole config this node belongs to (train.yaml's `allowed_targets`).
    root = conf._get_root() if isinstance(conf, DictConfig) else None
    return root.get("allowed_targets") if isinstance(root, DictConfig) else None


def build(conf: Any, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate` restricted to the trusted packages and the config's `allowed_targets`."""
    whitelist = [*TRUSTED_TARGETS, *allowed_patterns(_configured(conf))]
    try:
        return hydra.utils.instantiate(conf, _execution_whitelist_=whitelist, **kwargs)
    except InstantiationException as exc:
        if NOT_ALLOWED not in str(exc):
            raise
        target = conf.get("_target_") if isinstance(conf, DictConfig) else None
        first = str(exc).splitlines()[0]
        raise DataError(
            f"{first.replace(NOT_ALLOWED, 'is not an allowed target')} (top-level _target_: {target!r}); "
            "training builds only closecast's and its libraries' classes unless the config allows more: "
            "add its package to allowed_targets, e.g. 'allowed_targets=[mypkg.]' "
            "(docs/TRAINING.md#your-own-classes)"
        ) from None
