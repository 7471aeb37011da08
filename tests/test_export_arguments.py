"""The custom-gradient exports refuse ``params`` that are not a mapping in one line, for a rule name as for a formula."""

import pytest

from symdl.export import rule_module_source


@pytest.mark.parametrize("params", [[0.1], "alpha=0.1", (("alpha", 0.1),)])
@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_params_that_are_not_a_mapping_are_refused_for_a_rule_name_as_for_a_formula(params, backend):
    """A rule name with params=[0.1] raised "cannot convert dictionary update sequence element #0 to a sequence"
    (a string: "dictionary update sequence element #0 has length 1"); a formula already said this line."""
    message = rf"^params must be a mapping name → value \(or None\), got {type(params).__name__}$"
    for given in ("leaky_relu", "z*alpha"):
        with pytest.raises(TypeError, match=message):
            rule_module_source(given, backend, params=params)


def test_the_numpy_backend_is_refused_in_one_line_naming_those_with_custom_gradients():
    """rule_module_source(rule, "numpy") raised NotImplementedError ("does not provide custom-gradient functions"),
    after deriving the rule, naming neither the backends that take it nor the numpy module that exists."""
    with pytest.raises(ValueError) as info:
        rule_module_source("relu", "numpy")
    assert str(info.value) == ("backend 'numpy' provides no custom-gradient functions (custom_gradient_wrapper); accepted: "
                               "jax, torch; a numpy module of a rule is symdl.export.standalone.rule_module(rule)")
