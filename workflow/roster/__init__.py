"""Agency rosters (军休干部名册): read JSON, CSV or XLSX files, validate every record against
shared/policy/roster-format.md, and import them into the cadres table all or nothing.

A host system needs one import line: ``from workflow.roster import import_roster, RosterError``.
"""

from workflow.roster.importer import (
    CheckedRoster,
    ImportReport,
    check_roster,
    import_roster,
    write_roster,
)
from workflow.roster.readers import (
    Location,
    RawRow,
    RosterError,
    RowProblem,
    flat_columns,
    flatten,
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
    "RawRow",
    "Recommendation",
    "RosterError",
    "RowProblem",
    "check_roster",
    "flat_columns",
    "flatten",
    "import_roster",
    "parse_record",
    "read_roster",
    "write_csv",
    "write_roster",
]
