"""Every activity and delivery model, listed explicitly by name (no registration by import side effect).

Adding an activity or a delivery model to twinsim is writing its module and naming its class here. A user adds
their own without editing twinsim (docs/extending.md, notebook 07):

- in Python: ``register(MyActivity, MyDeliveryModel)``, then name them in a scenario;
- on the command line: ``twinsim --plugin my_plugins.py COMMAND ...`` imports the file and registers the classes
  of its ``PLUGINS`` list. A scenario file only names plug-ins; it never makes twinsim run code (a scenario shared
  by someone else is data).

Worker processes (local or on a Dask cluster) receive the user's plug-ins with each experiment
(:func:`user_plugins` / :func:`ensure_plugins`), so every analysis runs them wherever it runs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
import sys
from pathlib import Path
from typing import Any

from twinsim.errors import ScenarioError, TwinsimError
from twinsim.programme.activity import Activity
from twinsim.programme.delivery import DeliveryModel, NoProgramme, PairTwinning, TPNNetwork
from twinsim.programme.experts import (
    DeliverySupport,
    ExternalExperts,
    Hybrid,
    KnowledgeSharingSession,
    LeaderCoaching,
    LeadershipRetreat,
)
from twinsim.programme.partners import NorthSouth, PartnerStudyVisit, RemoteMentoring, VolunteerVisit
from twinsim.programme.peer_activities import (
    CoachingInPerson,
    CoachingVirtual,
    ExchangeVisit,
    KickoffWorkshop,
    LearningWorkshopVirtual,
    ProvincialLearningEvent,
)
from twinsim.programme.peer_group import VirtualPeerGroup

__all__ = [
    "ACTIVITIES",
    "BUNDLED",
    "DELIVERY_MODELS",
    "effective_rate",
    "ensure_plugins",
    "load_plugin_file",
    "plugin_gain_sources",
    "register",
    "unregister",
    "user_plugins",
]

#: ``effective_rate`` takes a :class:`twinsim.scenario.Scenario` as ``Any``: the scenario is composed of the
#: plug-ins' blocks, so it sits above them.

ACTIVITIES: dict[str, Activity] = {
    cls.name: cls()
    for cls in (
        KickoffWorkshop,
        ExchangeVisit,
        CoachingInPerson,
        CoachingVirtual,
        LearningWorkshopVirtual,
        ProvincialLearningEvent,
        VirtualPeerGroup,
        VolunteerVisit,
        PartnerStudyVisit,
        RemoteMentoring,
        LeadershipRetreat,
        LeaderCoaching,
        KnowledgeSharingSession,
        DeliverySupport,
    )
}

DELIVERY_MODELS: dict[str, DeliveryModel] = {
    cls.name: cls() for cls in (TPNNetwork, PairTwinning, NorthSouth, ExternalExperts, Hybrid, NoProgramme)
}

#: Names of the activities and delivery models that ship with twinsim (a user's plug-in may not replace them).
BUNDLED = frozenset(ACTIVITIES) | frozenset(DELIVERY_MODELS)

#: The user's plug-ins, by name, in the order they were registered.
_USER: dict[str, Activity | DeliveryModel] = {}
_LOADED_BLOBS: set[str] = set()
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def register(*plugins: type[Activity] | type[DeliveryModel] | Activity | DeliveryModel) -> list[str]:
    """Register a user's activities and delivery models (classes or instances); return their names.

    A scenario can then schedule the activity (``programme.schedule``) or choose the delivery model
    (``programme.delivery_model``), and every command and analysis runs it. Registering a name again replaces the
    user's earlier plug-in of that name (re-running a notebook cell); the bundled names cannot be replaced.

    Raises:
        TwinsimError: not an Activity or DeliveryModel, a name that is not a lower-case identifier, a bundled
            name, or a plug-in that does not implement what it must (``fire`` or ``form_ties``).

    """
    names = []
    for plugin in plugins:
        obj = plugin() if isinstance(plugin, type) else plugin
        _check_plugin(obj)
        table: dict[str, Any] = ACTIVITIES if isinstance(obj, Activity) else DELIVERY_MODELS
        table[obj.name] = obj
        _USER[obj.name] = obj
        names.append(obj.name)
    return names


def _check_plugin(obj: object) -> None:
    kind = type(obj).__name__
    if not isinstance(obj, Activity | DeliveryModel):
        raise TwinsimError(f"register: {kind} is neither an Activity nor a DeliveryModel (twinsim.programme)")
    if not _NAME.match(obj.name or ""):
        raise TwinsimError(f"register: {kind}.name {obj.name!r} must be a lower-case identifier (a-z, 0-9, _)")
    if obj.name in BUNDLED:
        raise TwinsimError(f"register: {obj.name!r} is a bundled name; give {kind} a name of its own")
    if obj.name in (ACTIVITIES if isinstance(obj, DeliveryModel) else DELIVERY_MODELS):
        raise TwinsimError(f"register: {obj.name!r} already names a plug-in of the other kind")
    must = "fire" if isinstance(obj, Activity) else "form_ties"
    base = Activity if isinstance(obj, Activity) else DeliveryModel
    if getattr(type(obj), must) is getattr(base, must) and getattr(obj, "runs_activities", True):
        raise TwinsimError(f"register: {kind} must implement {must}() (see docs/extending.md)")


def unregister(name: str) -> None:
    """Remove a user's plug-in (bundled ones stay)."""
    if name not in _USER:
        raise TwinsimError(f"unregister: {name!r} is not a user's plug-in; registered: {', '.join(_USER) or 'none'}")
    plugin = _USER.pop(name)
    if isinstance(plugin, Activity):
        ACTIVITIES.pop(name)
    else:
        DELIVERY_MODELS.pop(name)


def load_plugin_file(path: str | Path, what: str = "--plugin") -> list[str]:
    """Import the Python file ``path`` and register the classes of its ``PLUGINS`` list; return their names.

    The file runs as Python code, with the user's rights: only a file the user names themselves (``--plugin``).

    Raises:
        ScenarioError: the file is missing, fails to import, or has no ``PLUGINS`` list of plug-in classes
            (one line naming the file and ``what``, the option that named it).

    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{what} {str(path)!r}: no such file")
    name = "twinsim_plugin_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ScenarioError(f"{what}: {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # so that its classes pickle (by value, see user_plugins)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: any error is theirs to see, in one line
        sys.modules.pop(name, None)
        raise ScenarioError(f"{what}: {path} failed to import: {type(exc).__name__}: {exc}") from None
    plugins = getattr(module, "PLUGINS", None)
    if not isinstance(plugins, list | tuple) or not plugins:
        raise ScenarioError(f"{what}: {path} defines no PLUGINS list (PLUGINS = [MyActivity, MyDeliveryModel])")
    try:
        return register(*plugins)
    except TwinsimError as exc:
        raise ScenarioError(f"{what}: {path}: {exc}") from None


def user_plugins() -> bytes | None:
    """The user's plug-ins, pickled by value for worker processes (None when there are none)."""
    if not _USER:
        return None
    import cloudpickle  # deferred: only experiments with a user's plug-in need it

    for plugin in _USER.values():
        module = inspect.getmodule(type(plugin))
        if module is not None and module.__name__ != "__main__" and not module.__name__.startswith("twinsim."):
            cloudpickle.register_pickle_by_value(module)  # a worker cannot import the user's file
    blob = cloudpickle.dumps(list(_USER.values()))
    _LOADED_BLOBS.add(hashlib.sha1(blob).hexdigest())  # this process has them already
    return blob


def ensure_plugins(blob: bytes | None) -> None:
    """Register the user's plug-ins carried by an experiment, once per process (a worker's first task)."""
    if blob is None:
        return
    digest = hashlib.sha1(blob).hexdigest()
    if digest in _LOADED_BLOBS:
        return
    import cloudpickle

    # The blob is no file: the user's own process pickled its registered plug-ins into the experiment, which the
    # executor pickles to send anyway (tests/test_reliability.py: no user file is unpickled).
    register(*cloudpickle.loads(blob))
    _LOADED_BLOBS.add(digest)


def plugin_gain_sources() -> tuple[str, ...]:
    """The gain sources the registered activities and delivery models declare, in registration order."""
    declared = [p.gain_sources for p in ACTIVITIES.values()] + [p.gain_sources for p in DELIVERY_MODELS.values()]
    return tuple(dict.fromkeys(source for sources in declared for source in sources))


def effective_rate(scenario: Any, activity: str) -> float:
    """The transfer rate ``activity`` fires at: the scenario's ``learning.rates``, else the activity's default.

    With ``mechanisms.delivery_modes`` (docs/ODD.md 7.21) a virtual activity with an in-person counterpart transfers
    ``learning.virtual_ratio`` times its counterpart's rate (its own entry in ``learning.rates`` is not used).
    Without its own entry, an activity with ``rate_relative_to = (reference, multiple)`` transfers ``multiple``
    times the reference's rate (docs/ODD.md 7.23), so its rate follows the calibration of the peer activities.
    """
    kind = ACTIVITIES[activity]
    counterpart = kind.in_person_counterpart
    if counterpart is not None and scenario.mechanisms.delivery_modes:
        return scenario.learning.virtual_ratio * effective_rate(scenario, counterpart)
    if activity in scenario.learning.rates:
        return scenario.learning.rates[activity]
    if kind.rate_relative_to is not None:
        reference, multiple = kind.rate_relative_to
        return multiple * effective_rate(scenario, reference)
    return kind.default_rate
