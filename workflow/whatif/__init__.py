"""What-if before publishing (issue 13): the roster and the open cases under the version in
force and under a draft, compared article by article, with nothing written.

`what_if` builds a `WhatIfReport` (`workflow.whatif.service`), set-based over the database
(`workflow.store.whatif`); `workflow.whatif.roster` and `workflow.whatif.cases` compare purely
with the engine's own evaluator and guard rules; `workflow.whatif.render` turns the report
into HTML and XLSX.
"""

from workflow.whatif.model import WhatIfReport
from workflow.whatif.service import load_draft_file, load_draft_text, what_if

__all__ = ["WhatIfReport", "load_draft_file", "load_draft_text", "what_if"]
