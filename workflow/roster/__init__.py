"""Agency rosters (军休干部名册): read JSON (or JSON Lines), CSV (UTF-8 or GB18030) or XLSX files,
validate every record against docs/roster-formats.md, and import them into the cadres table all
or nothing, streaming them in bounded memory (`import_roster`'s ``progress`` hears how far).

A host system needs one import line: ``from workflow.roster import import_roster, RosterError``.
The enumerations a record may use are in `workflow.roster.vocabulary`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflow.roster.importer import (
        CheckedRoster,
        ImportReport,
        Progress,
        check_roster,
        import_roster,
        write_roster,
    )
    from workflow.roster.readers import (
        Location,
        RawRow,
        RosterError,
        RosterFile,
        RowProblem,
        flat_columns,
        flatten,
        open_roster,
        read_roster,
        write_csv,
    )
    from workflow.roster.record import (
        CadreRecord,
        FamilyContact,
        FieldProblem,
        Health,
        Honour,
        InvalidRecord,
        Merit,
        Recommendation,
        parse_record,
    )

# Loaded on first use (PEP 562): the record checks and the vocabulary are pure, and a caller
# that only validates a profile (`workflow.profile_check`) must not load the importer's
# database layer with them.
_HOMES = {
    **dict.fromkeys(
        (
            "CheckedRoster",
            "ImportReport",
            "Progress",
            "check_roster",
            "import_roster",
            "write_roster",
        ),
        "workflow.roster.importer",
    ),
    **dict.fromkeys(
        (
            "Location",
            "RawRow",
            "RosterError",
            "RosterFile",
            "RowProblem",
            "flat_columns",
            "flatten",
            "open_roster",
            "read_roster",
            "write_csv",
        ),
        "workflow.roster.readers",
    ),
    **dict.fromkeys(
        (
            "CadreRecord",
            "FamilyContact",
            "FieldProblem",
            "Health",
            "Honour",
            "InvalidRecord",
            "Merit",
            "Recommendation",
            "parse_record",
        ),
        "workflow.roster.record",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "CadreRecord",
    "CheckedRoster",
    "FamilyContact",
    "FieldProblem",
    "Health",
    "Honour",
    "ImportReport",
    "InvalidRecord",
    "Location",
    "Merit",
    "Progress",
    "RawRow",
    "Recommendation",
    "RosterError",
    "RosterFile",
    "RowProblem",
    "check_roster",
    "flat_columns",
    "flatten",
    "import_roster",
    "open_roster",
    "parse_record",
    "read_roster",
    "write_csv",
    "write_roster",
]
