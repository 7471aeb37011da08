"""``symdl.register``: a kind or a name no rule can have is refused in one line, and nothing is registered.

A kind such as 'nonsense' was registered and then broke ``symdl.rules()`` (KeyError) for the whole process; a name
such as '../evil', 'a b' or 5 was registered, though every generated module names its functions after the rule.
"""

import pytest
import sympy as sp

import symdl
from symdl import Definition
from symdl.rulebook import registry


def _square() -> Definition:
    """z²."""
    z = sp.Symbol("z", real=True)
    return Definition(expr=z**2, inputs=(z,))


@pytest.mark.parametrize(("name", "kind", "message"), [
    ("square_for_register_test", "nonsense",
     r"^register: kind must be one of activation, loss, penalty, got 'nonsense'$"),
    ("../evil", "activation", r"^register: a rule's name must be an ASCII identifier that is not a Python keyword "
                              r"\(it names generated functions\), got '\.\./evil'$"),
    ("a b", "activation", r"^register: a rule's name must be an ASCII identifier"),
    ("", "activation", r"^register: a rule's name must be an ASCII identifier"),
    ("lambda", "activation", r"^register: a rule's name must be an ASCII identifier"),
    (5, "activation", r"^register: a rule's name must be an ASCII identifier .*, got 5$"),
])
def test_a_kind_or_name_no_rule_can_have_is_refused_and_nothing_is_registered(monkeypatch, name, kind, message):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # a registration that slips through goes
    before = dict(symdl.rules())
    with pytest.raises(ValueError, match=message):
        symdl.register(name, kind)(_square)
    assert symdl.rules() == before


@pytest.mark.parametrize(("make", "message"), [
    (lambda: symdl.Param("k", -1.0, "scale", positive=True), r"^Param 'k': positive=True needs a default > 0, got -1\.0$"),
    (lambda: symdl.Param("k", float("nan"), "scale"), r"^Param 'k': default must be a finite real number, got nan$"),
    (lambda: symdl.Param("k", "1", "scale"), r"^Param 'k': default must be a finite real number, got '1'$"),
    (lambda: symdl.Param("1k", 1.0, "scale"), r"^Param: a parameter's name must be an ASCII identifier that is not a "
                                              r"Python keyword, got '1k'$"),
])
def test_a_parameter_is_refused_when_made_if_its_default_breaks_its_own_sign(make, message):
    """Param('k', -1.0, positive=True) was taken; building the rule with its default then said
    "parameter 'k' of rule … must be > 0, got None" (None: no value was given, the default was the culprit)."""
    with pytest.raises(ValueError, match=message):
        make()


def test_a_value_given_against_a_parameters_sign_is_named_in_the_refusal():
    with pytest.raises(ValueError, match=r"^parameter 'lambd' of rule 'softshrink' must be > 0, got -1$"):
        symdl.rule("softshrink", lambd=-1)
