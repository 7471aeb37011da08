"""``symdl list``: every rule with its kind, parameters and formula, as a table or JSON.

In a fresh ``symdl`` process the rows come from :data:`symdl.cli.rule_table.RULES`,
a table generated from the registry (``python -m symdl.cli.rule_table``; a test
keeps it equal to the registry), so listing does not import SymPy. Once the
registry is loaded (``symdl.cli.main(["list"])`` from Python, perhaps after
registering rules) the registry itself is listed.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..numbers import format_number
from ..tables import text_table
from .common import EXIT_OK, out

__all__ = ["cmd_list", "rule_entries"]


def rule_entries() -> list[dict]:
    """Every rule as ``{"name", "kind", "params": [{"name", "default", "description", "positive"}], "summary"}``."""
    if "symdl.rulebook.registry" not in sys.modules:
        from .rule_table import RULES

        return json.loads(json.dumps(RULES))  # a copy
    from .rule_table import registry_entries

    return registry_entries()


def cmd_list(args: argparse.Namespace) -> int:
    entries = rule_entries()
    if args.json:
        out(json.dumps(entries, indent=2, ensure_ascii=False))
        return EXIT_OK
    rows = [
        [e["name"], e["kind"], ", ".join(f"{p['name']}={format_number(p['default'], 'g')}" for p in e["params"]) or "-", e["summary"]]
        for e in entries
    ]
    for line in text_table(rows, ["rule", "kind", "parameters", "formula"]):
        out(line)
    return EXIT_OK
