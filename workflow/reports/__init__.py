"""Reports of art. 18 (A18.2) and the papers a batch needs: the annual performance report,
the printable batch roster and the condolence-visit list (A9.3).

Aggregation (`performance_report`, `batch_roster`, `visit_list`) returns plain data classes
read with set-based SQL; rendering (`workflow.reports.html`, `workflow.reports.xlsx`) turns them
into a self-contained HTML file or a workbook. A host system needs one import line::

    from workflow.reports import performance_report, write_performance_report
"""

from workflow.reports._model import (
    BatchRoster,
    Figures,
    PerformanceReport,
    PolicySource,
    RosterEntry,
    VisitEntry,
    VisitFigures,
    VisitList,
)
from workflow.reports.files import write_performance_report
from workflow.reports.performance import performance_report
from workflow.reports.roster import batch_roster
from workflow.reports.visits import visit_list

__all__ = [
    "BatchRoster",
    "Figures",
    "PerformanceReport",
    "PolicySource",
    "RosterEntry",
    "VisitEntry",
    "VisitFigures",
    "VisitList",
    "batch_roster",
    "performance_report",
    "visit_list",
    "write_performance_report",
]
