"""Create or load the sweep's study, checking that a resumed study optimizes what this sweep optimizes."""

from __future__ import annotations

import logging
from typing import Any

import optuna

from closecast.hpo.storage import redact

log = logging.getLogger(__name__)


def open_study(sweeper: Any, storage: optuna.storages.RDBStorage, sampler: Any) -> optuna.Study:
    """The study `sweeper.study_name` in `storage`, made with the sweeper's directions, pruner and names."""
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
