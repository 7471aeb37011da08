"""The checker catches planted mistakes in every element-wise rule (and misses none it should catch)."""

import pytest
import sympy as sp

import symdl
from symdl.rulebook.rule import Rule
from symdl.verify.mutations import mutants, mutation_report

ELEMENTWISE = [n for n in symdl.rules() if isinstance(symdl.rule(n), Rule)]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_every_planted_mistake_is_caught(name):
    report = mutation_report(symdl.rule(name))
    assert report.total >= 2
    assert report.survivors == [] and report.killed == report.total


def test_a_mutant_equal_to_the_derivative_is_equivalent_not_counted():
    report = mutation_report(symdl.rule("exponential"))  # (e^z)' = e^z: "function for derivative" is no mistake
    assert report.equivalent == ["function for derivative"]


def test_the_mutants_are_the_classic_mistakes():
    r = symdl.rule("mse")
    found = mutants(r)
    a, y = r.inputs
    assert set(found) == {"sign flip", "factor two", "function for derivative", "dropped term", "wrong variable"}
    assert sp.simplify(found["wrong variable"] - (y - a)) == 0


def test_a_rule_with_a_kink_gets_a_wrong_kink_value_mutant():
    relu = mutation_report(symdl.rule("relu"))
    smooth = mutation_report(symdl.rule("sigmoid"))
    assert relu.total == len(mutants(symdl.rule("relu"))) + 1
    assert smooth.total == len(mutants(symdl.rule("sigmoid")))
