"""Tamper-evident history (A19.1): hash chains over the append-only audit records and the check
that they still hold.

`chain` is the pure canonical form and hash the store writes with; `verify` re-reads the
database and names the first broken record. ``convalescence audit verify`` is the command line.
"""

from workflow.audit.verify import Break, Report, verify, verify_database

__all__ = ["Break", "Report", "verify", "verify_database"]
