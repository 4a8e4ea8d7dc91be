"""Translation hook: every user-visible text of the plugin goes through :func:`tr`.

``core`` must not import QGIS, so :func:`tr` starts as the identity; the plugin's
``classFactory`` installs ``QCoreApplication.translate`` with
:func:`set_translator`. All texts share one context, :data:`CONTEXT`, so a
translation file (``i18n/roadseg_<locale>.ts``) covers the whole plugin;
``scripts/i18n_template.py`` collects them.

Messages with values use named placeholders filled *after* translation, so the
translator sees the sentence with its placeholders:
``tr("The raster {name} has no CRS.").format(name=layer)``.
"""

from __future__ import annotations

from collections.abc import Callable

#: The one translation context of the plugin.
CONTEXT = "roadseg"

Translator = Callable[[str, str], str]


def _identity(context: str, text: str) -> str:
    return text


_translate: Translator = _identity


def set_translator(func: Translator | None) -> None:
    """Route :func:`tr` through ``func(context, text)`` (None: back to the identity)."""
    global _translate
    _translate = func or _identity


def tr(text: str) -> str:
    """Return ``text`` translated into the user's language (itself without a translation).

    >>> tr("Map roads")
    'Map roads'
    """
    return _translate(CONTEXT, text)
