"""Make a subpackage callable as its own main function.

``roadseg.predict`` is both a subpackage and the public function ``predict``:
once the subpackage is imported, Python sets the package attribute to the
module, which would shadow the function. Each public subpackage calls
:func:`callable_package` so ``roadseg.predict(...)``, ``roadseg.vectorize(...)``,
``roadseg.evaluate(...)`` and ``roadseg.train(...)`` work whatever was imported first.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any


def callable_package(module_name: str, func: Callable[..., Any]) -> None:
    """Let the module ``module_name`` be called like ``func``."""

    class _CallablePackage(types.ModuleType):
        __doc__ = func.__doc__

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

    sys.modules[module_name].__class__ = _CallablePackage
