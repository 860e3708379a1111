"""One voice: every message an officer reads goes through one catalogue, Chinese by default.

The officers of a veterans-affairs office read Chinese, so the Chinese text *is* the message
id: code reads as the officer will read it, and the default language needs no catalogue at all
(`gettext.NullTranslations` hands the id back). English is a translation kept in
``workflow/locale/en/LC_MESSAGES/convalescence.po`` and used when it is asked for: ``--lang en``
on the command line, or ``LANGUAGE``/``LC_ALL``/``LC_MESSAGES``/``LANG`` naming an English
locale (the first one set decides, as gettext reads them). Anything else — ``C.UTF-8``, ``zh_CN``,
nothing — is Chinese.

The compiled ``convalescence.mo`` beside the ``.po`` ships as package data and is read with
the standard library's `gettext`, so the running program needs no Babel and importing this
module costs nothing (click imports `gettext` already): ``convalescence --help`` stays fast.
Babel is a development tool here; tests/test_i18n.py extracts every marked message from the
code with Babel's own extractor and fails when one lacks an English translation or when the
``.mo`` no longer matches the ``.po``. After changing a message::

    pybabel extract --sort-output -k N_ --no-location -o build/convalescence.pot \\
        workflow notifications
    pybabel update -D convalescence -w 100 -i build/convalescence.pot -d workflow/locale
    # translate the new entries in the .po (no "fuzzy" left), then
    pybabel compile -D convalescence -d workflow/locale

Messages are translated when they are built (an error's message, a click help string at
import), so a process speaks one language; the CLI settles it before any command module loads.
Placeholders are ``str.format`` names (``_("找不到案件：{key}").format(key=...)``): an f-string
cannot be looked up in a catalogue, and named fields let a translation reorder them.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "N_",
    "_",
    "current_language",
    "language_from_environment",
    "ngettext",
    "set_language",
]

DOMAIN = "convalescence"
LOCALE_DIRECTORY = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "zh"
LANGUAGES = ("zh", "en")  # zh: the message ids themselves; en: the catalogue
_ENVIRONMENT = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")  # gettext's order

_language: str | None = None  # None until asked: then the environment decides
_catalogues: dict[str, gettext.NullTranslations] = {}


def language_from_environment(environ: Mapping[str, str] = os.environ) -> str:
    """``en`` when the first locale variable set names English (``en_US.UTF-8``, ``en:zh``),
    else Chinese: an unset or ``C`` locale on an office server must not turn officers'
    messages into English."""
    for name in _ENVIRONMENT:
        value = environ.get(name, "")
        if value:
            first = value.split(":", 1)[0].strip().lower()
            return "en" if first.startswith("en") else DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def set_language(language: str | None) -> str:
    """Speak ``language`` (``zh`` or ``en``) from now on; None goes back to the environment.
    Returns the language chosen."""
    global _language  # noqa: PLW0603 (one language per process, settled by its entry point)
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    _language = language if language is not None else language_from_environment()
    return _language


def current_language() -> str:
    return _language if _language is not None else set_language(None)


def _catalogue() -> gettext.NullTranslations:
    language = current_language()
    found = _catalogues.get(language)
    if found is None:
        if language == DEFAULT_LANGUAGE:
            found = gettext.NullTranslations()  # the ids are the Chinese text
        else:
            found = gettext.translation(
                DOMAIN, LOCALE_DIRECTORY, languages=[language], fallback=True
            )
        _catalogues[language] = found
    return found


def _(message: str) -> str:
    """``message`` (its Chinese text) in the current language."""
    return _catalogue().gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form for ``count``; Chinese usually gives the same text twice, English two forms."""
    return _catalogue().ngettext(singular, plural, count)


def N_(message: str) -> str:  # the gettext name Babel's extractor knows
    """Marks a message for the catalogue without translating it yet: for tables built at
    import (the command list), translated with `_` when shown."""
    return message
