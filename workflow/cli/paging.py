"""The end of a listing's page on the command line: how many rows, and the next page's
``--after`` (keyset paging, `workflow.paging.Page`), for ``cases``, ``tasks`` and
``notifications list`` alike.

``--json`` keeps stdout one JSON list, as before paging by cursor, so the hint goes to stderr
there; a script can also pass the last row's id as ``--after``.
"""

from __future__ import annotations

from rich.text import Text

from workflow.cli import output
from workflow.i18n import _


def print_page_end(listed: str, next_after: int | None, *, as_json: bool) -> None:
    """``listed`` ("3 件案件") on stdout under the table, with the next page's ``--after``
    when there is one; with ``--json`` only the hint, on stderr."""
    hint = None if next_after is None else _("下一页：--after {after}").format(after=next_after)
    if as_json:
        if hint is not None:
            output.stderr().print(Text(hint))
        return
    output.say(listed if hint is None else _("{listed}（{hint}）").format(listed=listed, hint=hint))
