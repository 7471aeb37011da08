"""The rows of ``symdl verify``: proofs, finite differences, mpmath references, stability and planted mistakes."""

from .rules import FD_TOLERANCE, CheckTable, RuleReport, verify_rule, verify_rules

__all__ = ["CheckTable", "FD_TOLERANCE", "RuleReport", "verify_rule", "verify_rules"]
