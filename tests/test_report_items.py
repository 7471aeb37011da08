"""symdl.report.sections: the content of derivation reports — steps that are true, kinks, checks that can fail."""

import re

import pytest
import sympy as sp

import symdl
from symdl.report.model import Math, Report, Section
from symdl.report.named_constants import CONSTANTS
from symdl.report.sections import (
    backprop_section,
    batchnorm_section,
    build_report,
    chain_steps,
    dropout_section,
    formula_section,
    head,
    init_section,
    report_item_names,
    rule_section,
)
from symdl.rulebook.definition import Definition
from symdl.rulebook.rule import Rule
from symdl.symbolic.functions import sigmoid, softplus

ELEMENTWISE = [name for name in symdl.rules() if isinstance(symdl.rule(name), symdl.Rule)]
VECTOR = [name for name in symdl.rules() if isinstance(symdl.rule(name), symdl.VectorRule)]
KEY = re.compile(r"[a-z0-9_-]+")
# Sample points for the first input, away from every kink and breakpoint of the library (0, ±1, y ± δ).
POINTS = (-2.3, -0.7, 0.45, 1.7, 3.1)
OTHER = sp.Rational(37, 100)  # every other input (a loss's target, PReLU's α)


def _identity_gap(r: Rule, math: Math, t: float) -> float:
    """|lhs − rhs| at first input t, with g(z) → the rule's expression, the output symbol → g(z), parameters bound,
    constants shown by name (SELU's λ, α) → their exact values."""
    g = head(r)
    expr = r.expr
    point = {r.wrt: sp.Float(t, 30), **{s: OTHER for s in r.inputs[1:]}, sp.Symbol("x", real=True): sp.Float(t, 30)}
    replace = {g: expr, **{c.symbol: c.value for c in CONSTANTS}}
    if r.definition.output is not None:
        replace[r.definition.output] = expr
    difference = (math.lhs - math.rhs).xreplace(replace).doit()
    value = sp.N(r.bind(difference).subs(point), 30)
    return abs(float(value))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_every_step_equation_holds(name):
    r = symdl.rule(name)
    section = rule_section(r, verify=False, plot=False)
    assert len(section.steps) >= 2
    equations = [m for step in (*section.steps,) for m in step.math if m.rhs is not None] + list(section.definition)
    equations = [m for m in equations if m.relation == "="]  # a constant's value to ten digits (λ ≈ 1.050700987) is no identity
    assert len(equations) >= 3
    for math in equations:
        for t in POINTS:
            assert _identity_gap(r, math, t) < 1e-20, (name, math, t)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_steps_derive_rather_than_state(name):
    r = symdl.rule(name)
    section = rule_section(r, verify=False, plot=False)
    titles = [s.title for s in section.steps]
    assert titles[0] in ("Differentiate the definition", "The definition in elementary functions")
    first = next(s for s in section.steps if s.title == "Differentiate the definition")
    assert any(isinstance(m.rhs, sp.Derivative) for m in first.math)  # the unevaluated d/dz of the definition
    assert titles[-1] == "The generated numpy code" and "def " in section.steps[-1].code
    if r.definition.textbook is not None:
        assert any(t.startswith("The textbook form") for t in titles)
    for step in section.steps:
        for m in step.math:
            assert isinstance(m.lhs, sp.Basic) and (m.rhs is None or isinstance(m.rhs, sp.Basic))


def test_sigmoid_in_terms_of_its_output_and_its_chain_rule():
    section = rule_section("sigmoid", verify=False, plot=False)
    g = sp.Symbol("g", real=True)
    textbook = next(s for s in section.steps if s.title.startswith("The textbook form"))
    assert any(m.rhs == g * (1 - g) for m in textbook.math)
    assert any(s.title.startswith("Chain rule") for s in section.steps)
    assert textbook.note == ""  # nothing proven without verify
    verified = rule_section("sigmoid", verify=True, plot=False)
    for title in ("The textbook form (in terms of the output)", "The numerically stable form"):
        assert next(s for s in verified.steps if s.title == title).note.startswith("proven:")


def test_chain_steps_take_composites_apart():
    z = sp.Symbol("z", real=True)
    steps = chain_steps(sp.log(1 + sp.exp(2 * z)) + z**3 * sp.sin(z), z)
    titles = [s.title for s in steps]
    assert titles[0] == "Sum rule" and "Product rule" in titles and any(t.startswith("Chain rule") for t in titles)
    for step in steps:
        (m,) = step.math
        assert sp.simplify(m.lhs.doit() - m.rhs.doit()) == 0
    assert chain_steps(sp.tanh(z), z) == []  # a table entry: nothing to take apart
    assert len(chain_steps(sp.exp(sp.exp(sp.exp(sp.exp(sp.exp(z))))), z, depth=2)) == 2


def test_piecewise_is_differentiated_branch_by_branch():
    section = rule_section("hard_tanh", verify=False, plot=False)
    branch = next(s for s in section.steps if s.title.startswith("Branch by branch"))
    (m,) = branch.math
    assert isinstance(m.rhs, sp.Piecewise) and any(isinstance(e, sp.Derivative) for e, _ in m.rhs.args)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_kink_steps_exist_exactly_for_rules_with_kinks(name):
    r = symdl.rule(name)
    section = rule_section(r, verify=False, plot=False)
    assert len(section.kinks) == len(r.kinks)
    exact = {c.symbol: c.value for c in CONSTANTS}  # SELU's λα is shown by name
    for step, kink in zip(section.kinks, r.kinks):
        left, right, value = step.math
        assert isinstance(left.lhs, sp.Limit) and left.rhs.xreplace(exact) == kink.left and right.rhs.xreplace(exact) == kink.right
        assert value.rhs.xreplace(exact) == kink.value
        assert "between the one-sided derivatives" in step.note


@pytest.mark.parametrize(
    ("name", "params", "index", "says"),
    [
        ("relu", {}, 0, "the kink is convex, so it is a subgradient"),
        ("hard_tanh", {}, 1, "the kink is concave, so no subgradient exists"),  # slope 1 then 0 at z = 1
        ("hard_swish", {}, 0, "the kink is concave, so no subgradient exists"),  # slope 0 then −1/2 at z = −3
        ("elu", {"alpha": 2.0}, 0, "the kink is concave"),  # slope α = 2 then 1
        ("hardshrink", {}, 0, "the function itself jumps here"),
        ("threshold", {"threshold": 0.5, "value": 2.0}, 0, "the function itself jumps here"),
    ],
)
def test_a_kink_note_says_what_lying_between_the_one_sided_derivatives_means_there(name, params, index, says):
    r = symdl.rule(name, **params)
    note = rule_section(r, verify=False, plot=False).kinks[index].note
    assert says in note, note
    assert ("subgradient exists" in note) or ("jumps here" in note) or note.endswith("so it is a subgradient")


def test_a_kink_note_shows_a_long_number_to_six_digits_and_a_learned_slope_by_name():
    selu = rule_section(symdl.rule("selu"), verify=False, plot=False).kinks[0].note
    assert "jumps from ≈ 1.7581 to ≈ 1.0507" in selu, selu  # λα and λ, not 30 digits
    prelu = rule_section(symdl.rule("prelu"), verify=False, plot=False).kinks[0].note
    assert "jumps from α to 1" in prelu and "subgradient" not in prelu, prelu  # convex only while α ≤ 1


def test_kink_convention_changes_the_kink_step():
    pytorch = rule_section(symdl.rule("relu"), verify=False, plot=False).kinks[0]
    right = rule_section(symdl.rule("relu", kink_convention="right"), verify=False, plot=False).kinks[0]
    assert pytorch.math[2].rhs == 0 and right.math[2].rhs == 1
    assert "right derivative" in right.note


@pytest.mark.parametrize("name", VECTOR)
def test_vector_rules_have_steps(name):
    section = rule_section(name, verify=False, plot=False)
    assert len(section.steps) >= 2 and section.kinks == () and section.checks == ()
    assert any("vector-Jacobian" in s.title for s in section.steps)


@pytest.mark.parametrize("name", VECTOR)
def test_a_textbook_vector_step_states_its_right_side_in_the_left_sides_indices(name):
    for step in rule_section(name, verify=False, plot=False).steps:
        for m in step.math if step.title.startswith("The textbook") else ():
            # symdl's own functions (sparsemax's τ_t) bind their index themselves: left out of the count
            opaque = {f: sp.Dummy() for f in m.rhs.atoms(sp.Function) if not type(f).__module__.startswith("sympy")}
            indices = {s for s in m.rhs.xreplace(opaque).free_symbols if s.is_integer}
            assert indices <= m.lhs.atoms(sp.Symbol) | {sp.Symbol("n", integer=True, positive=True)}, (step.title, m)


def test_a_textbook_vector_step_names_every_size_it_was_proven_at():
    section = rule_section("softmax_cross_entropy", verify=True, plot=False)
    (step,) = [s for s in section.steps if s.title == "The textbook gradient"]
    assert step.note == "proven: vjp by a - textbook (Σ = 1) (n = 1, 2, 3)", step.note


def test_vector_rule_checks():
    section = rule_section("maxout", verify=True, plot=True)
    assert section.checks and all(c.passed for c in section.checks)
    assert any("finite differences" in c.what for c in section.checks) and section.plot is not None


def test_softmax_deltas_are_contracted():
    section = rule_section("softmax", verify=False, plot=False)
    raw = next(s for s in section.steps if s.title.startswith("Differentiate"))
    contracted = next(s for s in section.steps if s.title == "Contract the Kronecker deltas")
    assert raw.math[0].rhs.has(sp.KroneckerDelta)
    assert not contracted.math[0].rhs.atoms(sp.Sum) & {
        s for s in contracted.math[0].rhs.atoms(sp.Sum) if s.function.has(sp.KroneckerDelta)
    }


def test_verified_section_reports_measured_numbers():
    section = rule_section("relu", verify=True, plot=True)
    whats = [c.what for c in section.checks]
    assert all(c.passed for c in section.checks)
    fd = next(c for c in section.checks if "finite differences" in c.what)
    assert re.search(r"= \d\.\d+e-\d+|= 0 ", fd.detail)
    assert any("mutants" in c.detail for c in section.checks)
    assert any("between the one-sided derivatives" in w for w in whats)
    assert section.plot is not None and section.plot.svg.startswith("<svg") and "kink" in section.plot.caption


def _wrong_sigmoid() -> Rule:
    """σ with a planted mistake: its 'stable' derivative is twice the true one."""
    z = sp.Symbol("z", real=True)
    g = sp.Symbol("g", real=True)
    decay = sp.exp(-sp.Abs(z))
    wrong = Definition(expr=sigmoid(z), inputs=(z,), textbook=g * (1 - g), output=g,
                       stable_derivative=2 * decay / (1 + decay) ** 2)
    return Rule("wrong_sigmoid", "activation", wrong, {}, {}, "pytorch", "σ with a wrong stable derivative")


def test_checks_reflect_a_planted_mistake():
    section = rule_section(_wrong_sigmoid(), verify=True, plot=False)
    failed = {c.what: c.detail for c in section.checks if not c.passed}
    assert "proof: stable derivative - derivative ≡ 0" in failed
    fd = next(c for c in section.checks if "finite differences" in c.what)
    assert not fd.passed and float(re.search(r"= ([0-9.e+-]+)", fd.detail).group(1)) > 0.1
    stable = next(s for s in section.steps if s.title == "The numerically stable form")
    assert "NOT proven" in stable.note
    # the correct rule passes the same checks
    assert all(c.passed for c in rule_section("sigmoid", verify=True, plot=False).checks)


def test_formula_section_keeps_user_text_out():
    text = "log(exp(z) + 1)"
    section = formula_section(text, index=3, verify=True, plot=True)
    assert section.key == "formula-3" and section.title == "Formula 3" and section.kind == "formula"
    z = sp.Symbol("z", real=True)
    assert section.definition[0].rhs == sp.log(sp.exp(z) + 1)
    texts = [section.title, section.summary, section.plot.caption]
    texts += [s.title + s.note for s in section.steps + section.kinks] + [c.what + c.detail for c in section.checks]
    assert not any(text in t for t in texts)
    # the naive softplus is printed from the rewrite pass's softplus(z): every check passes, stability included
    assert all(c.passed for c in section.checks), [c.what for c in section.checks if not c.passed]
    assert any("finite and warning-free" in c.what for c in section.checks)
    stable = next(s for s in section.steps if s.title == "The numerically stable form")
    assert [m.rhs for m in stable.math] == [softplus(z), sigmoid(z)] and "NOT" not in stable.note
    assert next(c for c in section.checks if "finite differences" in c.what).passed


def test_formula_with_kink_gets_its_kink_step():
    section = formula_section("max(0, z)**2 + abs(z)", verify=False, plot=False)
    assert len(section.kinks) == 1 and section.kinks[0].math[2].rhs == 0


def test_formula_with_unbound_parameter_is_not_checked_numerically():
    section = formula_section("a*z**2", params={"a": None}, verify=True, plot=True)
    assert section.plot is None
    numeric = [c for c in section.checks if "numerically" in c.what]
    assert numeric and not numeric[0].passed and "a" in numeric[0].detail


def test_formula_is_parsed_safely():
    with pytest.raises(symdl.FormulaError):
        formula_section("__import__('os').system('true')", verify=False, plot=False)


def test_backprop_section_contracts_deltas_and_proves():
    section = backprop_section((2, 3, 1), "tanh", "mse", verify=True)
    assert section.key == "backprop" and section.kind == "backprop"
    raws = [s for s in section.steps if s.title.startswith("Differentiate $C$ by $w^")]
    contracted = [s for s in section.steps if s.title == "Contract the Kronecker deltas"]
    assert len(raws) == 2 and len(contracted) == 2
    for raw, done in zip(raws, contracted):
        assert raw.math[0].rhs.has(sp.KroneckerDelta) and not done.math[0].rhs.has(sp.KroneckerDelta)
    # ∂C/∂w^2_pq contracts to a single product: C'(a^2_p, y_p) σ'(z^2_p) a^1_q
    assert not contracted[0].math[0].rhs.has(sp.Sum)
    bp = next(s for s in section.steps if s.title == "BP1–BP4 in index notation")
    assert len(bp.math) == 2 + 2 + 2  # BP1, BP2, BP3 ×2, BP4 ×2
    assert len(section.checks) >= 6 and all(c.passed for c in section.checks)
    assert any("finite differences" in c.what and "e-" in c.detail for c in section.checks)


def test_backprop_with_a_piecewise_activation_skips_the_concrete_proof():
    section = backprop_section((2, 2, 1), "relu", "mse", verify=True)
    assert "no proof at concrete sizes" in section.summary
    assert all(c.passed for c in section.checks)


def test_backprop_section_with_output_activation_penalty_batchnorm_and_dropout():
    section = backprop_section((2, 3, 1), "tanh", "binary_cross_entropy", output_activation="sigmoid", penalty="l2",
                               batchnorm=True, dropout=0.2, verify=True)
    names = {str(m.lhs.func) for m in section.definition if isinstance(m.lhs, sp.Function)}
    assert {r"\varphi", r"\varphi_{L}", r"\ell", r"\Omega"} <= names  # every function the equations use is defined
    sigma_l = next(m for m in section.definition if str(getattr(m.lhs, "func", "")) == r"\varphi_{L}")
    assert sigma_l.rhs == symdl.rule("sigmoid").expr.subs(symdl.rule("sigmoid").wrt, sigma_l.lhs.args[0])
    assert "sigmoid on the output layer" in section.summary and "dropout (drop probability 0.2)" in section.summary
    assert "derivation and its proofs are of the plain network" in section.summary
    matrix = next(s for s in section.steps if s.title.startswith("BP1–BP4 in matrix form"))
    rhs = [m.rhs for m in matrix.math]
    assert sum("\\Omega'(W^{" in str(r) for r in rhs) == 2  # the penalty's gradient is in BP4 of both layers
    # No proof at concrete sizes claims this network; the compiled one is checked against finite differences.
    assert not any("widths (2, 3, 1)" in c.what for c in section.checks)
    network_check = section.checks[-1]
    assert "finite differences" in network_check.what and network_check.passed


def test_backprop_bad_network_is_refused():
    with pytest.raises(ValueError):
        backprop_section((2,), "tanh", "mse")
    with pytest.raises(ValueError):
        backprop_section((2, 1), "nope", "mse")


def test_batchnorm_section():
    section = batchnorm_section()
    sigma = sp.Symbol("sigma", positive=True)
    titles = [s.title for s in section.steps]
    assert titles[0] == "Backward through y = γx̂ + β"
    why = next(s for s in section.steps if s.title == "Why inference uses m/(m − 1)")
    assert why.math[1].rhs == sigma**2 and why.math[0].rhs != sigma**2
    assert len(section.checks) > 20 and all(c.passed for c in section.checks)
    assert any("symbolic m" in c.what for c in section.checks)


def test_batchnorm_names_no_quantity_delta_the_letter_of_the_error_signal_of_bp1_bp4():
    section = batchnorm_section(verify=False)
    maths = [*section.definition, *(m for s in section.steps for m in s.math)]
    names = {getattr(a, "name", "") for m in maths for side in (m.lhs, m.rhs) if side is not None
             for a in sp.preorder_traversal(side) if isinstance(a, sp.Symbol | sp.IndexedBase)}
    assert "mu_d" in names  # the mean of the residuals, which restores μ⁰'s lost digits
    assert not {n for n in names if n == "delta" or n.startswith(("delta_", "delta^"))}, names


def test_batchnorm_backward_stages_add_up_to_the_closed_form():
    """The stage-by-stage dL/dx_p, with the stage results substituted, equals the closed form (numerically, m = 3)."""
    from symdl.layers import batchnorm_symbolic as bn

    section = batchnorm_section()
    steps = {s.title: s for s in section.steps}
    total = steps[r"Backward into $x_{p}$: the three paths added"].math[0].rhs
    for title in ("Backward through y = γx̂ + β", r"Backward into $\sigma^{2}_{B}$ (x̂ depends on it through the root)",
                  r"Backward into $\mu_{B}$ (through x̂ and through $\sigma^{2}_{B}$)"):
        m = steps[title].math[0]
        total = total.xreplace({m.lhs: m.rhs})
        total = total.xreplace({mm.lhs: mm.rhs for mm in steps[title].math})
    mu, var = sp.IndexedBase("mu_B", real=True), sp.IndexedBase("sigma_B^2", real=True)
    total = total.xreplace({sp.Derivative(sp.Symbol("L", real=True), var[bn.j]): steps[
        r"Backward into $\sigma^{2}_{B}$ (x̂ depends on it through the root)"].math[0].rhs})
    total = total.subs({var[bn.j]: bn.batch_variance(), mu[bn.j]: bn.batch_mean()})
    closed = bn.vjp_closed_form()["x"]
    values = {bn.m: 3, bn.p: 1, bn.epsilon: sp.Rational(1, 10), bn.gamma[bn.j]: sp.Rational(3, 2)}
    data = {**{bn.x[t, bn.j]: sp.Rational(v) for t, v in enumerate((1, -2, 5))},
            **{bn.dy[t, bn.j]: sp.Rational(v) for t, v in enumerate((2, 1, -1))}}
    def at(e):
        return sp.N(e.subs(values).doit().subs(data), 30)
    assert abs(at(total) - at(closed)) < 1e-25


def test_dropout_and_init_sections():
    for section in (dropout_section(), init_section(verify=False)):
        assert section.steps and KEY.fullmatch(section.key)
    assert all(c.passed for c in dropout_section().checks) and dropout_section().checks
    assert init_section(verify=False).checks == ()


def test_dropout_and_init_sections_name_each_output_once_and_state_each_equation_once():
    from symdl.report.printing import latex_math

    for section in (dropout_section(verify=False), init_section(verify=False)):
        lhs = [latex_math(m).split(" = ")[0] for m in section.definition]
        assert len(set(lhs)) == len(lhs), lhs  # training and inference outputs are told apart
        assert not any(re.search(r"_\{[a-z]+ [a-z]+\}", name) for name in lhs), lhs  # no italic 'weightscaling'
        for step in section.steps:
            shown = [latex_math(m) for m in step.math]
            assert len(set(shown)) == len(shown), (step.title, shown)


def test_layer_sections_come_from_the_layers(monkeypatch):
    """A new layer type's section appears in the report by its own module alone (report_section + report())."""
    from symdl.layers import BatchNorm, Dropout, base
    from symdl.report.layer_sections import layer_section, layer_section_keys

    assert layer_section_keys() == ("batchnorm", "dropout")
    assert batchnorm_section(verify=False) == layer_section(BatchNorm, verify=False) == layer_section(BatchNorm(), verify=False)
    assert dropout_section(verify=False) == layer_section(Dropout(0.2), verify=False)
    monkeypatch.setattr(base, "_LAYER_TYPES", list(base._LAYER_TYPES))

    class Scale(base.Layer):
        report_section = "scale"

        def forward(self, s):
            return []

        def backward(self, s, upstream):
            return [], upstream

        @classmethod
        def report(cls, *, verify=True):
            x, c = sp.symbols("x c")
            return base.LayerReport("Scaling", "y = c·x", (Math(sp.Symbol("y"), c * x),), (),
                                    {"dy/dx - c": sp.diff(c * x, x) - c == 0} if verify else {})

    assert "scale" in report_item_names() and layer_section_keys()[-1] == "scale"
    report = build_report(["dropout", "scale"], verify=True, plots=False)
    section = report.sections[-1]
    assert (section.key, section.kind, section.title, section.summary) == ("scale", "scale", "Scaling", "y = c·x")
    assert [c.what for c in section.checks] == ["proof: dy/dx - c ≡ 0"] and section.checks[0].passed
    assert build_report(["scale"], verify=False, plots=False).sections[0].checks == ()
    with pytest.raises(ValueError, match="no layer type"):
        layer_section("nope")


def test_item_names_and_unknown_names():
    names = report_item_names()
    assert names[: len(symdl.rules())] == list(symdl.rules())
    assert {"backprop", "batchnorm", "dropout", "init"} <= set(names)
    with pytest.raises(ValueError) as info:
        build_report(["relu", "relux"], verify=False, plots=False)
    message = str(info.value)
    assert "'relux'" in message and "backprop" in message and "\n" not in message
    with pytest.raises(TypeError):
        build_report("relu")


def test_progress_keys_and_determinism():
    calls = []
    names = ["relu", "softplus", "mse", "l1"]
    report = build_report(names, formulas=["z**3"], verify=False, plots=True,
                          progress=lambda key, i, n: calls.append((key, i, n)))
    assert calls == [(k, i, 5) for i, k in enumerate([*names, "formula-1"])]
    assert isinstance(report, Report) and all(isinstance(s, Section) for s in report.sections)
    keys = [s.key for s in report.sections]
    assert keys == [*names, "formula-1"] and len(set(keys)) == len(keys)
    assert all(KEY.fullmatch(k) for k in keys)
    again = build_report(names, formulas=["z**3"], verify=False, plots=True)
    assert again == report
    assert [s.plot.svg for s in again.sections] == [s.plot.svg for s in report.sections]


def test_layer_items_are_deterministic():
    first = build_report(["backprop", "dropout"], verify=False, plots=False)
    second = build_report(["backprop", "dropout"], verify=False, plots=False)
    assert first == second
    assert not any(isinstance(a, sp.Dummy) for s in first.sections for st in s.steps for m in st.math
                   for a in sp.preorder_traversal(m.rhs if m.rhs is not None else m.lhs))


def test_verified_report_subset_passes():
    """The full default report takes ~1.5 min (measured, see the module's docs); a representative part of it here."""
    report = build_report(["relu", "huber", "l2", "backprop"], formulas=["z**2/2"], verify=True, plots=True)
    failed = [(s.key, c.what) for s in report.sections for c in s.checks if not c.passed]
    assert failed == []
    assert all(s.plot is not None for s in report.sections if s.kind != "backprop")


def test_keyword_spellings_of_lambda_show_as_lambda_and_a_float_parameter_as_an_approximation():
    from symdl.report.printing import latex_math, mathml_math

    for name in ("softshrink", "l1"):
        section = rule_section(name, verify=False, plot=False)
        tex = " ".join(latex_math(m) for m in section.definition)
        assert r"\lambda" in tex and "lambd" not in tex.replace(r"\lambda", "") and "lam " not in tex, tex
        assert "&#955;" in mathml_math(section.definition[-1])
    (upper,) = [m for m in rule_section("rrelu", verify=False, plot=False).definition if str(m.lhs) == "upper"]
    assert latex_math(upper) == r"upper \approx 0.333333"  # PyTorch's 1/3 as a float, not 3333333333333333/10¹⁶


@pytest.mark.parametrize("name", ["identity", "relu", "mse", "sigmoid", "softplus", "binary_cross_entropy"])
def test_the_named_function_note_appears_only_where_a_named_function_does(name):
    from symdl.symbolic.functions import NamedFunction

    r = symdl.rule(name)
    (step,) = [s for s in rule_section(r, verify=False, plot=False).steps if s.title == "SymPy's derivative of the rule"]
    assert ("named functions" in step.note) == bool(r.expr.atoms(NamedFunction)), step.note
    assert ("convention" in step.note) == bool(r.kinks), step.note


def test_vector_step_titles_name_the_variable_as_mathematics():
    titles = [s.title for s in rule_section("rbf", verify=False, plot=False).steps]
    assert "Differentiate by ${\\sigma}_{i'}$, element by element" in titles, titles  # not sigma[i']
    assert not any("sigma[" in t or "by sigma" in t for t in titles), titles
