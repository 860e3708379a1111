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

Click's own words below our texts ("Usage:", "Options", "Error: Missing option", "No such
command" …) are English msgids that click marks with the standard library's ``gettext``, bound
in each of its modules at import. That function reads one process-wide domain and picks its
language from the environment alone, so it can follow neither ``--lang`` nor a Chinese default
under ``LANG=C``. `speak_for_click` therefore rebinds those module names to `click_gettext` /
`click_ngettext`, which read ``workflow/locale/zh/LC_MESSAGES/click.po`` (Chinese for click's
msgids) when the language is Chinese and give click's English back otherwise; the stdlib's
global gettext state is left alone. tests/test_cli_i18n.py fails when an installed click has a
message that file lacks. To refresh it after a click upgrade::

    pybabel extract --sort-output --no-location -k ngettext:1,2 -o build/click.pot \\
        "$(python -c 'import click, os; print(os.path.dirname(click.__file__))')"
    pybabel update -D click -l zh -w 100 -i build/click.pot -d workflow/locale
    # translate, then
    pybabel compile -D click -l zh -d workflow/locale
"""

from __future__ import annotations

import gettext
import os
import sys
from collections.abc import Mapping
from importlib import import_module
from pathlib import Path

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "N_",
    "_",
    "click_gettext",
    "click_ngettext",
    "current_language",
    "language_from_environment",
    "ngettext",
    "set_language",
    "speak_for_click",
]

DOMAIN = "convalescence"
LOCALE_DIRECTORY = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "zh"
LANGUAGES = ("zh", "en")  # zh: the message ids themselves; en: the catalogue
_ENVIRONMENT = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")  # gettext's order

CLICK_DOMAIN = "click"  # zh/LC_MESSAGES/click.po: Chinese for click's own English msgids
# click's modules that bind the standard library's gettext/ngettext at import and speak to the
# user (click._termui_impl and click._winconsole do too, for editors, pagers and the Windows
# console, which this program never opens: importing them would cost ~90 ms for nothing)
CLICK_MODULES = (
    "click.core",
    "click.decorators",
    "click.exceptions",
    "click.formatting",
    "click.parser",
    "click.shell_completion",
    "click.termui",
    "click.types",
    "click.utils",
)

_language: str | None = None  # None until asked: then the environment decides
_catalogues: dict[tuple[str, str], gettext.NullTranslations] = {}  # (domain, language)


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


def _translations(domain: str, ids_language: str) -> gettext.NullTranslations:
    """``domain``'s catalogue for the current language, loaded once; when that is the language
    its ids are written in (Chinese for ours, English for click's) the ids are the text."""
    language = current_language()
    found = _catalogues.get((domain, language))
    if found is None:
        if language == ids_language:
            found = gettext.NullTranslations()
        else:
            found = gettext.translation(
                domain, LOCALE_DIRECTORY, languages=[language], fallback=True
            )
        _catalogues[domain, language] = found
    return found


def _catalogue() -> gettext.NullTranslations:
    return _translations(DOMAIN, DEFAULT_LANGUAGE)


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


def _click_catalogue() -> gettext.NullTranslations:
    return _translations(CLICK_DOMAIN, "en")  # click's ids are its English


def click_gettext(message: str) -> str:
    """One of click's English messages in the current language."""
    return _click_catalogue().gettext(message)


def click_ngettext(singular: str, plural: str, count: int) -> str:
    return _click_catalogue().ngettext(singular, plural, count)


def speak_for_click() -> None:
    """Make click's own words (usage line, section titles, the help option, parse errors)
    follow `current_language`: its modules' ``_`` and ``ngettext``, the standard library's
    functions bound at import, are rebound to `click_gettext` and `click_ngettext`. Only names
    still bound to the standard library's functions are touched, and calling this again changes
    nothing. Needs click installed; the CLI calls it once, at import."""
    for name in CLICK_MODULES:
        module = sys.modules.get(name) or import_module(name)
        if getattr(module, "_", None) is gettext.gettext:
            module._ = click_gettext  # type: ignore[attr-defined]
        if getattr(module, "ngettext", None) is gettext.ngettext:
            module.ngettext = click_ngettext  # type: ignore[attr-defined]
