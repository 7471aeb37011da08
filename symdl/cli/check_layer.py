"""``symdl check 'y[i] = …'``: a formula layer's VJPs proven at concrete sizes and its singularities listed.

The arrays are read off the text (:func:`symdl.symbolic.index_parse.infer_arrays`:
each subscripted name's axes are named after the letters of its first use),
then the text goes to the safe parser like any formula.
"""

from __future__ import annotations

import argparse
import json
import re

from .common import EXIT_FAILED, EXIT_OK, UsageError, out

__all__ = ["is_layer_equation", "check_formula_layer"]

_EQUATION = re.compile(r"\s*[A-Za-z]\w*\s*(\[[^\]]*\])?\s*=(?!=)")


def is_layer_equation(target: str) -> bool:
    """Whether ``target`` starts as an equation ``y[i] = …`` or ``y = …`` (a rule or formula never does)."""
    return bool(_EQUATION.match(target))


def check_formula_layer(args: argparse.Namespace) -> int:
    """Prove every VJP at concrete sizes and list every singularity; exit 1 when a proof fails."""
    from ..formula_layers.layer import formula_layer
    from ..symbolic.index_parse import infer_arrays, parse_index_equations

    if args.param or args.symbol or args.wrt:
        raise UsageError("--param, --symbol and --wrt apply to rules and formulas, not to layer equations")
    arrays = infer_arrays(args.target)
    if not arrays:
        parse_index_equations(args.target, {})  # the parser's own error for text that reads no array
    layer = formula_layer(args.target, inputs=arrays, name="layer")
    proofs = layer.prove()
    singular = layer.singularities()
    passed = all(proofs.values())
    if args.json:
        out(json.dumps({
            "outputs": {name: list(axes) for name, axes in layer.outputs.items()},
            "arrays": {name: list(axes) for name, axes in layer.arrays.items()},
            "vjps": {name: str(layer.vjp(name)) for name in layer.arrays},
            "proofs": {label: {"holds": p.holds, "method": p.method} for label, p in proofs.items()},
            "singularities": [str(s) for s in singular],
            "passed": passed,
        }, indent=2))
        return EXIT_OK if passed else EXIT_FAILED
    declared = ", ".join(f"{n}[{', '.join(a)}]" if a else n for n, a in layer.arrays.items())
    out(f"formula layer: outputs {', '.join(layer.outputs)}; arrays {declared}")
    for name in layer.arrays:
        out(f"  VJP by {name}: {layer.vjp(name)}")
    for label, proof in proofs.items():
        out(f"  {'proven' if proof else 'NOT PROVEN'}: {label}: {proof.method}")
    for s in singular:
        out(f"  singular: {s} (generated code raises there instead of returning NaN)")
    if not singular:
        out("  no singularities")
    out(f"{'PASS' if passed else 'FAIL'}")
    return EXIT_OK if passed else EXIT_FAILED
