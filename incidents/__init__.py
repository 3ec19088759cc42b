"""Live traffic incidents: the model, validation, the store with history and change log, and
API keys.

Entry points: :func:`incidents.store.open_store` (``sqlite:///path.db`` or
``postgresql://...``), the models in :mod:`incidents.model`, the errors in
:mod:`incidents.errors` and the key functions in :mod:`incidents.keys`.
"""

from incidents.auth import Principal, Role
from incidents.errors import (
    Conflict,
    Forbidden,
    IncidentError,
    InvalidIncident,
    InvalidTransition,
    NotFound,
    VersionConflict,
)
from incidents.model import Incident, IncidentCreate, IncidentPatch, is_in_effect
from incidents.store import Change, IncidentStore, open_store

__all__ = [
    "Change",
    "Conflict",
    "Forbidden",
    "Incident",
    "IncidentCreate",
    "IncidentError",
    "IncidentPatch",
    "IncidentStore",
    "InvalidIncident",
    "InvalidTransition",
    "NotFound",
    "Principal",
    "Role",
    "VersionConflict",
    "is_in_effect",
    "open_store",
]
