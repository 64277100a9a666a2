"""Messages for people: short notes on stderr, and warnings that point at their code.

Developers' logging stays on module loggers at DEBUG; this module is the one place
that talks to users. `lc.settings.verbosity` (or `LAKECAT_VERBOSITY`) silences notes.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

_user = logging.getLogger("lakecat.user")
if not _user.handlers:
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("→ %(message)s"))
    _user.addHandler(_handler)
    _user.propagate = False
_user.setLevel(os.environ.get("LAKECAT_VERBOSITY", "INFO").upper())


def inform(message: str) -> None:
    """A note the user may want to see (what was queried, what was created)."""
    _user.info(message)


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """A warning attributed to the first stack frame outside lakecat."""
    frame = sys._getframe(1)
    level = 2  # 1 would be this function, 2 its caller
    while frame is not None and frame.f_globals.get("__name__", "").startswith(
        "lakecat"
    ):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


def set_verbosity(level: str) -> None:
    _user.setLevel(level.upper())
