"""Named, pure policy rules that definitions refer to as guards."""

from workflow.rules.registry import RULES, GuardContext, Rule, evaluate, rule

# Importing the module registers its rules; the registry is the public surface.
from workflow.rules import convalescence as _convalescence  # noqa: F401  # isort: skip

__all__ = ["RULES", "GuardContext", "Rule", "evaluate", "rule"]
