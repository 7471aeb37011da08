"""symdl.rulebook.derivation: one Derivation per rule and input, computed once, read by every presenter."""

from __future__ import annotations

import json

import pytest
import sympy as sp

import symdl
from symdl.cli import main
from symdl.report import display, sections
from symdl.rulebook.derivation import Derivation, Derives, RuleLike
from symdl.rulebook.derivation_steps import chain_steps
from symdl.rulebook.registry import rule, rules


def test_the_derivation_is_computed_once_and_kept_on_the_rule():
    r = rule("sigmoid")
    d = r.derivation()
    assert d is r.derivation() is r.derivation("z") is r.derivation(r.wrt)
    assert d.proofs is d.proofs and d.steps() is d.steps() and d.kernels is d.kernels
    with pytest.raises(AttributeError):
        d.derivative = sp.S.Zero  # frozen


def test_each_input_has_its_own_derivation():
    r = rule("mse")
    by_a, by_y = r.derivation(), r.derivation("y")
    assert by_a is not by_y and by_a.wrt != by_y.wrt
    assert sp.simplify(by_y.derivative - sp.diff(r.expr, by_y.wrt)) == 0
    with pytest.raises(ValueError, match="no input"):
        r.derivation("q")


@pytest.mark.parametrize("name", list(rules()))
def test_every_registered_rule_conforms_to_the_protocol(name):
    r = rule(name)
    assert isinstance(r, RuleLike) and isinstance(r, Derives)
    d = r.derivation()
    assert isinstance(d, Derivation) and d.rule is r and d.wrt == r.wrt
    assert d.variables == tuple(r.inputs) and d.expression == r.expr
    assert r.element_wise == (not isinstance(r, symdl.VectorRule))
    assert d.steps(proven=False), "every rule shows how its derivative arises"
    record = json.loads(json.dumps(d.record()))
    assert record["name"] == name and record["wrt"] == str(r.wrt)


def _spy_on_diff(monkeypatch):
    """Record every differentiation (``sympy.diff`` and ``expr.diff`` both end in ``Expr.diff``)."""
    calls = []
    original = sp.Expr.diff

    def spy(self, *args, **kwargs):
        calls.append((self, args))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sp.Expr, "diff", spy)
    return calls


def test_presenters_read_the_cached_derivation_and_never_differentiate_again(monkeypatch, capsys):
    r = symdl.formula_rule("log(1 + exp(z))")
    d = r.derivation()
    d.proofs, d.steps(), d.steps(proven=False), d.kernels, d.kink_steps  # everything computed once, here
    monkeypatch.setattr(symdl.rulebook.registry, "rule", lambda *a, **k: r)
    calls = _spy_on_diff(monkeypatch)
    bundle = display.derivation(r)._repr_mimebundle_()
    section = sections.rule_section(r, verify=False, plot=False)
    assert calls == [], "display and report sections must not call sympy.diff"
    uncached = symdl.formula_rule("log(1 + exp(z))")
    sections.rule_section(uncached, verify=False, plot=False)
    assert calls, "the spy sees a derivation being computed"
    assert section.steps == d.steps(proven=False) and section.definition == d.definition
    assert "text/latex" in bundle and display.derivation(r).proofs is d.proofs


def test_cli_json_is_the_derivation_record(capsys):
    assert main(["derive", "softplus", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    record = rule("softplus").derivation().record()
    record.pop("methods")
    assert printed == json.loads(json.dumps(record))


def test_cli_derive_uses_the_rules_derivation(monkeypatch, capsys):
    seen = []
    original = Derives.derivation

    def spy(self, wrt=None):
        d = original(self, wrt)
        seen.append(d)
        return d

    monkeypatch.setattr(Derives, "derivation", spy)
    assert main(["derive", "tanh", "--time-limit", "0"]) == 0  # in process, where the spy is
    assert seen and seen[0].rule.name == "tanh"
    assert str(seen[0].derivative) in capsys.readouterr().out


def _compose(expr: sp.Expr, steps) -> sp.Expr:
    """d expr/dz rebuilt from the chain steps: each unevaluated Derivative replaced by its step's right side."""
    table = {m.lhs: m.rhs for s in steps for m in s.math}
    rebuilt = sp.Derivative(expr, sp.Symbol("z", real=True))
    for _ in range(len(table) + 1):
        rebuilt = rebuilt.xreplace(table)
    return rebuilt.doit()


@pytest.mark.parametrize("text", ["log(1 + exp(z))", "z**2*exp(-z)", "tanh(3*z + 1)", "sin(z)/(1 + z**2)"])
def test_steps_compose_to_the_derivative(text):
    r = symdl.formula_rule(text)
    steps = chain_steps(r.expr, r.wrt, limit=50, depth=50)
    assert steps
    assert sp.simplify(_compose(r.expr, steps) - r.derivation().derivative) == 0


def test_a_wrong_step_is_refuted():
    r = symdl.formula_rule("log(1 + exp(z))")
    steps = chain_steps(r.expr, r.wrt, limit=50, depth=50)
    first = steps[0]
    (math,) = first.math
    wrong = type(first)(first.title, (type(math)(math.lhs, 2 * math.rhs),))
    assert sp.simplify(_compose(r.expr, [wrong, *steps[1:]]) - r.derivation().derivative) != 0
