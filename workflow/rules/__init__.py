"""Named, pure policy rules that definitions refer to as guards."""

from workflow.rules.registry import RULES, GuardContext, Rule, Verdict, evaluate, rule

# Importing the modules registers their rules; the registry is the public surface.
from workflow.rules import convalescence as _convalescence  # noqa: F401  # isort: skip
from workflow.rules import binding as _binding  # noqa: F401  # isort: skip
from workflow.rules import eligibility as _eligibility  # noqa: F401  # isort: skip
from workflow.rules import trip as _trip  # noqa: F401  # isort: skip

__all__ = ["RULES", "GuardContext", "Rule", "Verdict", "evaluate", "rule"]
