"""``symdl list``: every rule with its kind, parameters and formula, as a table or JSON."""

from __future__ import annotations

import argparse
import json

from ..numbers import format_number
from ..report.display import text_table
from .common import EXIT_OK, out

__all__ = ["cmd_list"]


def cmd_list(args: argparse.Namespace) -> int:
    from ..rulebook.registry import rule_params, rule_summary, rules

    entries = []
    for name, kind in rules().items():
        params = [
            {"name": p.name, "default": p.default, "description": p.description, "positive": p.positive}
            for p in rule_params(name)
        ]
        entries.append({"name": name, "kind": kind, "params": params, "summary": rule_summary(name)})
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
