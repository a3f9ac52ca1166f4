"""Create or load the sweep's study, checking that a resumed study is this sweep's: the same objectives, the
same search space and the same pruner (both kept in the study's user attributes when it is made). A study
run with another space or pruner holds trials the new sweep cannot be compared with, and a complete one
would run nothing: such a rerun is refused, naming a study name to use."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, distribution_to_json

from closecast.hpo.storage import redact

log = logging.getLogger(__name__)


def open_study(
    sweeper: Any, storage: optuna.storages.RDBStorage, sampler: Any, space: dict[str, BaseDistribution]
) -> optuna.Study:
    """The study `sweeper.study_name` in `storage`, made with the sweeper's directions, pruner and names;
    a study made with another search space (`space`) or pruner is refused."""
    if not sweeper.storage or not sweeper.study_name:
        raise ValueError(
            "the closecast_optuna sweeper needs a storage and a study name so trials can find "
            f"their study; got storage={sweeper.storage!r}, study_name={sweeper.study_name!r}"
        )
    directions = sweeper.directions
    pruner = sweeper.pruner
    if len(directions) > 1 and pruner is not None and not isinstance(pruner, optuna.pruners.NopPruner):
        log.warning("Optuna cannot prune multi-objective studies: running every trial to the end")
        pruner = None
    study = optuna.create_study(
        study_name=sweeper.study_name,
        storage=storage,
        sampler=sampler,
        pruner=pruner or optuna.pruners.NopPruner(),
        directions=directions,
        load_if_exists=True,
    )
    found = [d.name.lower() for d in study.directions]
    if found != [d.lower() for d in directions]:
        raise ValueError(
            f"study {sweeper.study_name!r} in {redact(str(sweeper.storage))} optimizes {found}, not "
            f"{directions}; pick another hpo.study_name for a different objective"
        )
    check_design(study, sweeper, space)
    objectives = (sweeper.export or {}).get("objectives")
    if objectives is not None:
        names = [objectives] if isinstance(objectives, str) else [str(o) for o in objectives]
        # Studies made before objective names were Optuna's own kept them as a user attribute.
        recorded = study.metric_names or study.user_attrs.get("objectives")
        if recorded is not None and list(recorded) != names:
            raise ValueError(
                f"study {sweeper.study_name!r} optimizes {list(recorded)}, not {names}; "
                "pick another hpo.study_name for a different objective"
            )
        if study.metric_names is None:
            study.set_metric_names(names)  # shown by optuna-dashboard and study.trials_dataframe()
    return study


def design(sweeper: Any, space: dict[str, BaseDistribution]) -> dict[str, Any]:
    """What makes a study's trials comparable beyond its objectives: the search space and the pruner."""
    pruner = sweeper.pruner_spec if len(sweeper.directions) == 1 else None  # multi-objective: no pruning
    return {
        "search_space": {name: json.loads(distribution_to_json(d)) for name, d in sorted(space.items())},
        "pruner": pruner,
    }


def check_design(study: optuna.Study, sweeper: Any, space: dict[str, BaseDistribution]) -> None:
    """Record this sweep's search space and pruner in a new study; refuse a study recorded with others."""
    now = design(sweeper, space)
    recorded = {k: study.user_attrs[k] for k in now if k in study.user_attrs}
    if not recorded:  # a new study, or one made before these were recorded: this sweep's from now on
        for key, value in now.items():
            study.set_user_attr(key, value)
        return
    changed = [k for k in now if k in recorded and recorded[k] != now[k]]
    if changed:
        digest = hashlib.sha1(json.dumps(now, sort_keys=True).encode()).hexdigest()[:6]
        what = " and ".join(k.replace("_", " ") for k in changed)
        details = "; ".join(f"{k}: {json.dumps(recorded[k])} then, {json.dumps(now[k])} now" for k in changed)
        raise ValueError(
            f"study {sweeper.study_name!r} in {redact(str(sweeper.storage))} was run with another {what} "
            f"({details}): its trials do not compare with this sweep's, and a complete study would run "
            f"nothing; give this sweep its own study with hpo.study_name={sweeper.study_name}_{digest}"
        )
