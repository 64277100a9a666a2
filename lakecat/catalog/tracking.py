"""`track()` and `finish()`: record the transform (script or notebook) and its run.

Records saved between the two carry the run's id in `run_id`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from lakecat.catalog import instance
from lakecat.catalog.registries import Run, Transform
from lakecat.engine import errors

logger = logging.getLogger(__name__)


def _caller_key() -> tuple[str, str]:
    """(key, type) of the running script or notebook."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None:
        return "interactive", "notebook"
    name = Path(path).name
    return name, "notebook" if name.endswith(".ipynb") else "script"


def track(
    transform: str | Transform | None = None,
    *,
    params: dict[str, Any] | None = None,
    key: str | None = None,
    description: str | None = None,
) -> Run:
    """Start a run of the current script or notebook.

    Parameters
    ----------
    transform
        A 12-character uid stem pinning the transform (as in ``lc.track("Wc8F4siRSKMZ")``),
        a full 16-character uid, or a Transform record.
    params
        Parameters stored on the run as JSON; query them with
        ``lc.Run.filter(params__lr__lt=0.01)``.
    """
    catalog = instance.current()
    default_key, kind = _caller_key()
    key = key or default_key
    if isinstance(transform, Transform):
        record = transform
    else:
        uid = None
        if transform is not None:
            if not isinstance(transform, str) or len(transform) not in (12, 16):
                msg = f"track() takes a 12- or 16-character transform uid, got {transform!r}"
                raise errors.ValidationError(msg, registry="Transform", field="uid")
            uid = transform if len(transform) == 16 else transform + "0000"
        existing = Transform.objects.filter(uid=uid).first() if uid else None
        if existing is None and uid is None:
            existing = Transform.filter(key=key, is_latest=True).first()
        record = (
            existing
            or Transform(uid=uid, key=key, type=kind, description=description).save()
        )
    run = Run(transform=record, started_at=instance.now(), params=params)
    run._values["_status_code"] = -1
    run.save()
    catalog.run_id = run.id
    logger.info("created %r, started %r", record, run)
    return run


def finish() -> None:
    """Mark the current run as finished."""
    catalog = instance.current()
    if catalog.run_id is None:
        msg = "no run to finish: call lc.track() first"
        raise errors.ValidationError(msg, registry="Run")
    run = Run.objects.get(id=catalog.run_id)
    run._values["finished_at"] = instance.now()
    run._values["_status_code"] = 0
    run.save()
    catalog.run_id = None
