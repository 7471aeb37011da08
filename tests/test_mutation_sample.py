"""A fixed sample of mutants of the core: the suite's own tests must fail on each (CI's cut of tools/mutation.py).

Each mutant is one textual change to a module's source. It is applied in
process by compiling the changed module and swapping the code (and defaults)
of every function that changed (top-level, a method of one of its classes, or
behind an lru_cache, whose cache is emptied) into the live function objects, so
that every reference to them, the tests' own imports included, runs the
mutant; the original code is put back afterwards. Then the named tests of the
suite, which mutation testing found to kill it, are run and must fail.
"""

from __future__ import annotations

import importlib
import inspect
import types
from contextlib import contextmanager

import numpy as np
import pytest
import sympy as sp
import test_finite_real
import test_gradcheck
import test_gradcheck_edges
import test_gradcheck_floor
import test_gradcheck_steps
import test_kernel_unit
import test_measures
import test_network_check
import test_parse
import test_parse_errors
import test_printers_unit
import test_proof
import test_proof_one_sided
import test_proof_points
import test_proof_poles
import test_proof_regimes
import test_regimes
import test_testing_stability

#: (module, original text, mutated text, tests of the suite that must fail on it: (test, args)).
SAMPLE = [
    ("symdl.symbolic.parse", 'lines = source.split("\\n")', "lines = source.split(None)",
     [(test_parse_errors.test_a_syntax_error_in_a_multiline_formula_names_its_line_and_column,
       ("z + 1\n)", "line 2, column 1"))]),
    ("symdl.symbolic.parse", "abs(exact) <= _FLOAT_MAX", "abs(exact) < _FLOAT_MAX",
     [(test_parse_errors.test_the_largest_float_is_accepted_exactly, ())]),
    ("symdl.symbolic.parse", "if depth > MAX_BRACKET_DEPTH:", "if depth >= MAX_BRACKET_DEPTH:",
     [(test_parse.test_limits_are_inclusive, ())]),
    ("symdl.symbolic.regimes", "[cuts[0] / 2 if s.is_nonnegative else cuts[0] - 1]", "[cuts[0] - 1]",
     [(test_proof_regimes.test_a_positive_parameter_is_checked_between_0_and_its_first_critical_value, ())]),
    ("symdl.symbolic.regimes", "[cuts[-1] / 2 if s.is_nonpositive else cuts[-1] + 1]", "[cuts[-1] + 1]",
     [(test_proof_regimes.test_a_negative_parameter_is_checked_between_its_last_critical_value_and_0, ())]),
    ("symdl.symbolic.branch_at", "if value == 0 and not zero:", "if value == 1 and not zero:",
     [(test_proof_regimes.test_signed, ())]),
    ("symdl.symbolic.proof", "if _numeric_witness(expr):\n        return False",
     "if _numeric_witness(expr):\n        return True",
     [(test_proof.test_refuses_false_identities, ("softplus is not identity",))]),
    ("symdl.symbolic.witnesses", "        lo = hi - 4\n", "        lo = hi - 5\n",
     [(test_proof_regimes.test_a_counterexample_is_the_simplest_rational_in_the_failing_interval, ())]),
    ("symdl.testing.gradcheck", "(4 * fine - coarse) / 3", "(4 * fine - coarse) / 4",
     [(test_gradcheck.test_richardson_is_more_accurate_than_plain_central_differences, ())]),
    ("symdl.testing.gradcheck", "h = min(h, 0.5 * float(np.min(distance)))", "h = min(h, 2 * float(np.min(distance)))",
     [(test_gradcheck.test_declared_kinks_shorten_the_step_so_no_evaluation_crosses_one, ())]),
    ("symdl.testing.gradcheck", "if worst is None or _badness(report) > _badness(worst):",
     "if worst is None or _badness(report) < _badness(worst):",
     [(test_gradcheck.test_declared_kinks_shorten_the_step_so_no_evaluation_crosses_one, ())]),
    ("symdl.symbolic.proof", "if sample and is_degenerate(expr, var, points, sample):",
     "if False and is_degenerate(expr, var, points, sample):",
     [(test_proof_regimes.test_coinciding_parameters_do_not_refute_a_true_identity,
       (test_proof_regimes.COINCIDING_IDENTITIES[1],))]),
    ("symdl.testing.gradcheck", "return math.fsum(terms.ravel()), math.fsum(np.abs(terms).ravel())",
     "return float(np.sum(terms)), math.fsum(np.abs(terms).ravel())",
     [(test_gradcheck_floor.test_terms_are_added_exactly, ())]),
    ("symdl.testing.gradcheck", "return math.fsum(terms.ravel()), math.fsum(np.abs(terms).ravel())",
     "return math.fsum(terms.ravel()), abs(math.fsum(terms.ravel()))",
     [(test_gradcheck_floor.test_the_floor_uses_the_size_of_the_terms_not_of_their_sum, ())]),
    ("symdl.testing.gradcheck", "step_u = h * float(np.sum(u * relative))", "step_u = h / float(np.sum(u * relative))",
     [(test_gradcheck_steps.test_each_coordinate_is_stepped_at_its_own_scale, (True, 1 / 5))]),
    ("symdl.testing.gradcheck", "axis=-1)", "axis=+1)",
     [(test_gradcheck_steps.test_kinks_are_measured_element_by_element_in_x_of_two_axes, ())]),
    ("symdl.testing.subgradient", "left = 2 * side(-1, step / 2) - side(-1, step)", "left = 2 * side(-1, step / 3) - side(-1, step)",
     [(test_gradcheck_steps.test_one_sided_richardson_leaves_the_known_h_squared_error, ())]),
    ("symdl.testing.subgradient", "known = x.dtype if x.dtype in TOLERANCES", "known = x.dtype if x.dtype not in TOLERANCES",
     [(test_gradcheck_edges.test_subgradient_tolerances_follow_the_dtype_of_x_or_the_ones_given, ())]),
    ("symdl.testing.gradcheck", "return report.abs_error / (", "return report.abs_error * (",
     [(test_gradcheck_edges.test_the_worst_coordinate_is_judged_against_its_own_tolerance_and_ties_name_the_first, ())]),
    ("symdl.testing.subgradient", "value - high - slack)", "value - high + slack)",
     [(test_gradcheck_edges.test_the_worst_element_is_the_furthest_outside_relative_to_its_slack_on_either_side, ())]),
    ("symdl.verify.measures", "return True  # nothing to check", "return False  # nothing to check",
     [(test_measures.test_correct_rules_pass_both_measures, ("sigmoid",))]),
    ("symdl.verify.measures", "if abs(returned - expected) > 1e-12", "if abs(returned - expected) > 1e12",
     [(test_measures.test_generated_code_that_returns_another_subgradient_than_declared_fails, ("relu", 0, 1))]),
    ("symdl.symbolic.regimes", "s.is_positive and value <= 0", "s.is_positive and value < 0",
     [(test_regimes.test_a_parameter_of_declared_sign_is_sampled_inside_its_half_line, ())]),
    ("symdl.symbolic.regimes", "if len(combos) > 64:", "if len(combos) >= 64:",
     [(test_regimes.test_at_most_64_parameter_regimes_are_checked, ())]),
    ("symdl.symbolic.regimes", "collections.deque((seed, len(free)) for seed", "collections.deque((seed, len(free) - 1) for seed",
     [(test_regimes.test_one_worklist_lifts_from_switches_and_samples_alike_as_deep_as_there_are_parameters, ())]),
    ("symdl.symbolic.regimes", "itertools.product((1, -1), repeat=len(inner))", "itertools.product((1, -1))",
     [(test_regimes.test_real_roots_take_each_inner_abs_and_sign_both_ways, ())]),
    ("symdl.symbolic.regimes", "if not value.has(sp.Float):", "if False:",
     [(test_proof_regimes.test_breakpoints_equal_at_a_sample_are_one_breakpoint_and_a_tolerance_only_for_floats, ())]),
    ("symdl.symbolic.regimes", "float(p) if p.is_number else 0.0", "float(p) if False else 0.0",
     [(test_regimes.test_breakpoints_merge_repeated_roots_and_sort_numbers_first, ())]),
    ("symdl.symbolic.witnesses", "if expr.xreplace(point).free_symbols:", "if expr.free_symbols - set(point):",
     [(test_proof_points.test_an_indexed_weight_is_sampled_as_one_number_and_gets_a_counterexample, ())]),
    ("symdl.symbolic.witnesses", "sp.Rational(-13, 4)]", "sp.Rational(-13, 5)]",
     [(test_proof_points.test_without_breakpoints_the_whole_line_is_sampled_at_fixed_points_in_order, ())]),
    ("symdl.symbolic.witnesses", "(t + trial) % 2 else -1", "(t + trial) % 3 else -1",
     [(test_proof_points.test_a_failure_hidden_at_the_first_witness_points_is_shown_at_a_later_one_of_the_other_sign, ())]),
    ("symdl.symbolic.proof", "excluded = {sp.N(substituted(p, sample), digits)", "excluded = {sp.N(substituted(p, sample), digits + 1)",
     [(test_proof_points.test_a_kink_at_a_point_with_no_exact_float_is_excluded, ())]),
    ("symdl.symbolic.proof", "breakpoints(concrete, var), {}", "breakpoints(concrete, None), {}",
     [(test_proof_points.test_a_degenerate_sample_is_checked_at_its_own_breakpoints_and_says_so, ())]),
    ("symdl.codegen.kernel", 'name, suffix = f"x{index}", 0', 'name, suffix = f"x{index}", 1',
     [(test_kernel_unit.test_python_names_keep_safe_names_and_number_the_others, ())]),
    ("symdl.codegen.kernel", "not x.is_number and lo < hi:", "not x.is_number and lo <= hi:",
     [(test_kernel_unit.test_a_clip_needs_its_lower_bound_below_its_upper_bound, ())]),
    ("symdl.codegen.kernel", 'if len(names) == 1 else f"numpy.broadcast_shapes', 'if len(names) == 2 else f"numpy.broadcast_shapes',
     [(test_kernel_unit.test_the_source_of_a_one_input_kernel, ())]),
    ("symdl.backends.printers", "if op not in self._RELATIONS:", "if op in self._RELATIONS:",
     [(test_printers_unit.test_torch_relations_are_elementwise_calls_with_the_tensor_first, (test_printers_unit.x < test_printers_unit.y,
                                                                                           "torch.lt(x, y)"))]),
    ("symdl.backends.printers", "{-axis - 1}", "{-axis + 1}",
     [(test_printers_unit.test_first_arg_max_marks_the_first_largest_element_along_its_axis, (-2,))]),
    ("symdl.backends.printers", 'bound = "min" if func == "maximum"', 'bound = "min" if func != "maximum"',
     [(test_printers_unit.test_elementwise_expressions_in_jax_and_torch, (sp.Max(test_printers_unit.x, 0), "jnp.maximum(0, x)",
                                                                          "torch.clamp(x, min=0)"))]),
    ("symdl.testing.network_check", "self.loss = _side_of(network.loss)", "self.loss = _side_of(None)",
     [(test_network_check.test_every_part_of_the_network_is_watched_for_its_breakpoints,
       (lambda: test_network_check.one_unit(loss="huber"), test_network_check.at(0.0, 1.0), test_network_check.at(0.5, 1.0)))]),
    ("symdl.testing.network_check", 'if key.startswith("W"):', 'if key.startswith("w"):',
     [(test_network_check.test_every_part_of_the_network_is_watched_for_its_breakpoints,
       (lambda: test_network_check.one_unit(penalty="l1"), test_network_check.at(0.0, 0.5), test_network_check.at(0.5, 0.0)))]),
    ("symdl.testing.network_check", "        step /= 8\n", "        step /= 9\n",
     [(test_network_check.test_near_a_kink_the_step_shrinks_by_eight_until_no_evaluation_crosses_it, (1e-4,))]),
    ("symdl.testing.network_check", 'getattr(net, "param_names", tuple(params))', 'getattr(None, "param_names", tuple(params))',
     [(test_network_check.test_running_statistics_stay_as_given_and_do_not_set_the_step, ())]),
    ("symdl.testing", 'np.errstate(over="raise", invalid="raise"', 'np.errstate(over=None, invalid="raise"',
     [(test_testing_stability.test_numpy_errors_are_caught_whatever_the_callers_error_state,
       (lambda t: np.log(np.exp(t) + 1), np.array([0.0, 1000.0]), "overflow encountered in exp", "ignore"))]),
    ("symdl.testing.differences", "isinstance(index, bool) or not isinstance(index, numbers.Integral)",
     "isinstance(index, bool) and not isinstance(index, numbers.Integral)",
     [(test_testing_stability.test_central_difference_takes_only_an_integer_index_of_an_argument, (1.0,))]),
    ("symdl.testing", "out.append(rng.uniform(lo, hi, size=count))", "out.append(rng.uniform(lo, size=count))",
     [(test_testing_stability.test_sample_points_are_float64_from_integer_labels_and_within_any_range, ())]),
    ("symdl.testing.differences", "return central_difference(lambda *moved: forward(*moved, *fixed), values, index)",
     "return central_difference(lambda *moved: forward(*moved, *fixed), values)",
     [(test_testing_stability.test_held_central_difference_by_the_second_argument, ())]),
    ("symdl.testing", "dtype=bool) if where is None else", "dtype=bool) if where is None or True else",
     [(test_testing_stability.test_the_reference_is_nan_outside_where_and_where_the_expression_is_not_real, ())]),
    ("symdl.testing", "not (before == 0 and value != 0 and", "not (before == 0 and value == 0 and",
     [(test_testing_stability.test_a_value_first_found_at_800_digits_is_confirmed_at_1600, ())]),
    ("symdl.testing", "if size * missed < _UNDERFLOW or exact_zero", "if size * missed >= 0 or exact_zero",
     [(test_testing_stability.test_a_zero_at_800_digits_among_huge_terms_is_cancellation_and_1600_digits_resolve_it, ())]),
    ("symdl.symbolic.proof", "branch.xreplace({var: end + side * t})", "branch.xreplace({var: side * t})",
     [(test_proof_one_sided.test_a_breakpoint_that_crosses_0_inside_a_regime_does_not_prove_a_false_identity,
       (test_proof_one_sided._on(test_proof_one_sided.z > test_proof_one_sided.p - 1),
        {test_proof_one_sided.p: sp.Rational(1, 4), test_proof_one_sided.z: sp.Rational(-1, 4)}))]),
    ("symdl.symbolic.poles", "_not_finite(lhs.subs(var, p)) and _not_finite", "_not_finite(lhs.subs(var, p)) or _not_finite",
     [(test_proof_poles.test_a_form_with_a_finite_value_at_the_pole_is_refuted, (sp.Integer(0),))]),
    ("symdl.symbolic.poles", "if signed and left != right:", "if signed and left == right:",
     [(test_proof_poles.test_different_signed_infinities_at_a_pole_are_refuted, ())]),
    ("symdl.testing", "v is sp.S.Zero and _compares_rationals(f, at)", "v is sp.S.Zero",
     [(test_testing_stability.test_an_exact_zero_needs_every_other_factor_finite_and_no_float_constant, ())]),
    ("symdl.backends.runtime_numbers", "if not low <= number <= top:", "if not low < number <= top:",
     [(test_finite_real.test_both_ends_are_inclusive_and_a_learning_rate_starts_at_0, ())]),
]


def _pairs(module_name: str, live_scope: dict, changed_scope: dict):
    """(live function, its counterpart compiled from the changed source) for each function defined in the module:
    top-level functions, methods of its classes (classmethods by their function) and lru_cache'd functions."""
    for name, live in live_scope.items():
        changed = changed_scope.get(name)
        if isinstance(live, type) and live.__module__ == module_name and isinstance(changed, type):
            for attr, method in vars(live).items():
                other = vars(changed).get(attr)
                if isinstance(method, classmethod | staticmethod) and isinstance(other, classmethod | staticmethod):
                    method, other = method.__func__, other.__func__
                if isinstance(method, types.FunctionType) and isinstance(other, types.FunctionType):
                    yield method, other, None
            continue
        cache = live if hasattr(live, "cache_clear") else None
        if cache is not None:  # functools.lru_cache: the wrapped function, and its cache emptied around the mutant
            live, changed = live.__wrapped__, getattr(changed, "__wrapped__", None)
        if isinstance(live, types.FunctionType) and live.__module__ == module_name and isinstance(changed, types.FunctionType):
            yield live, changed, cache


@contextmanager
def mutant(module_name: str, original: str, mutated: str):
    """Run the module's functions with ``original`` replaced by ``mutated`` in its source (exactly once)."""
    module = importlib.import_module(module_name)
    source = inspect.getsource(module)
    assert source.count(original) == 1, f"{original!r} is not in {module_name} exactly once"
    namespace = {"__name__": module_name, "__package__": module.__package__, "__file__": module.__file__}
    exec(compile(source.replace(original, mutated), module.__file__, "exec"), namespace)  # noqa: S102 (our own source)
    saved, caches = [], []
    for live, changed, cache in _pairs(module_name, vars(module), namespace):
        if cache is not None:
            caches.append(cache)
        if any(live is done for done, *_ in saved):  # a cached function is also the module's own name
            continue
        if changed.__code__.co_code != live.__code__.co_code or changed.__code__.co_consts != live.__code__.co_consts:
            saved.append((live, live.__code__, live.__defaults__, live.__kwdefaults__))
            live.__code__, live.__defaults__, live.__kwdefaults__ = (
                changed.__code__, changed.__defaults__, changed.__kwdefaults__)
    assert saved, f"the mutant of {module_name} changed no function"
    for cache in caches:
        cache.cache_clear()
    try:
        yield
    finally:
        for live, code, defaults, kwdefaults in saved:
            live.__code__, live.__defaults__, live.__kwdefaults__ = code, defaults, kwdefaults
        for cache in caches:
            cache.cache_clear()


#: What a failing test raises: any Exception, and pytest's Failed (pytest.fail, "DID NOT RAISE"), a BaseException.
#: Not KeyboardInterrupt or SystemExit (the run stopped), nor pytest.skip's Skipped (a skip is no failure).
FAILURES = (Exception, pytest.fail.Exception)


def assert_fails(test, args) -> None:
    """``test(*args)`` fails as a test of the suite fails; anything else propagates (a pass as pytest's Failed)."""
    with pytest.raises(FAILURES):
        test(*args)


@pytest.mark.parametrize(("module_name", "original", "mutated", "killers"), SAMPLE,
                         ids=[f"{m.rsplit('.', 1)[1]}: {new}" for m, _, new, _ in SAMPLE])
def test_the_suite_fails_on_each_sampled_mutant(module_name, original, mutated, killers):
    for test, args in killers:
        test(*args)  # passes on the real code
        with mutant(module_name, original, mutated):
            assert_fails(test, args)


def _did_not_raise():
    with pytest.raises(ValueError):
        pass


@pytest.mark.parametrize("failing", [_did_not_raise, lambda: pytest.fail("wrong"), lambda: 1 / 0,
                                     lambda: np.testing.assert_array_equal([1.0], [2.0])])
def test_a_killer_that_fails_in_any_way_of_a_test_counts(failing):
    assert_fails(failing, ())


@pytest.mark.parametrize(("stopping", "kind"), [(KeyboardInterrupt, KeyboardInterrupt), (SystemExit, SystemExit),
                                                (pytest.skip.Exception, pytest.skip.Exception)])
def test_an_interrupt_an_exit_or_a_skip_is_no_kill_and_passes_through(stopping, kind):
    def stopped():
        raise stopping("stop")

    with pytest.raises(kind):
        assert_fails(stopped, ())


def test_a_killer_that_passes_is_a_failure_of_the_harness():
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        assert_fails(lambda: None, ())


def test_a_mutant_killed_by_a_pytest_fail_counts():
    """The sample's own path: a killer that fails with pytest's "DID NOT RAISE" under the mutant."""
    def killer():
        with pytest.raises(ValueError):
            test_finite_real.finite_real("lr", -1.0, 1.0)

    killer()
    with mutant("symdl.backends.runtime_numbers", "if not low <= number <= top:", "if not True:"):
        assert_fails(killer, ())
