"""check_network_grad's steps: eps^(1/5)·max(1, max|θ|), shortened by 8× (up to six times) while a step changes the
side of a breakpoint of an activation, the loss or a weight's penalty; a point on one is refused in one line."""

from __future__ import annotations

import re

import numpy as np
import pytest

import symdl
from symdl.testing import Tolerance, assert_network_grad_close, check_network_grad

STEP = float(np.finfo(np.float64).eps ** (1 / 5))
ON_A_BREAKPOINT = (
    "check_network_grad: the point is within {} of a breakpoint (kink) of an activation, the loss or the penalty; "
    "the loss has no derivative to check there"
)
X, Y = np.array([[1.0]]), np.array([[0.0]])


def one_unit(**spec):
    """z = W·x + b with one input, one output: at x = 1 the pre-activation is W + b."""
    return symdl.Network([1, 1], **{"activation": "identity", "output_activation": "identity", **spec}).compile()


def at(W: float, b: float) -> dict[str, np.ndarray]:
    return {"W1": np.array([[W]]), "b1": np.array([b])}


def test_far_from_kinks_the_step_is_eps_to_the_fifth_times_the_largest_parameter():
    relu = one_unit(output_activation="relu")
    assert check_network_grad(relu, at(0.5, 0.25), X, Y).step == STEP
    assert check_network_grad(relu, at(3.0, -2.0), X, Y).step == pytest.approx(3 * STEP, rel=1e-15)


@pytest.mark.parametrize("distance", [1e-3, 1e-4, 1e-6, 1e-8])
def test_near_a_kink_the_step_shrinks_by_eight_until_no_evaluation_crosses_it(distance):
    """relu(W + b) with W + b just above 0: the first step crosses the kink, a central difference there fails."""
    relu = one_unit(output_activation="relu", loss="mse")
    report = check_network_grad(relu, at(1.0, distance - 1.0), np.array([[1.0]]), np.array([[1.0]]))
    assert report.passed
    shrinks = round(np.log(STEP / report.step) / np.log(8))
    assert 1 <= shrinks <= 6 and report.step == pytest.approx(STEP / 8**shrinks, rel=1e-15)
    assert report.step < distance  # every evaluation stayed on the kink's side


def test_a_point_on_a_kink_names_the_last_step_tried_in_one_line():
    """Seven tries, from eps^(1/5)·max(1, max|θ|) down to 8⁻⁶ of it: the message names that last step."""
    relu = one_unit(output_activation="relu")
    for scale, last in ((1.0, "2.8e-09"), (100.0, "2.8e-07")):
        with pytest.raises(ValueError, match=f"^{re.escape(ON_A_BREAKPOINT.format(last))}$"):
            check_network_grad(relu, at(scale, -scale), X, Y)


def hidden_elu_at(z: float) -> dict[str, np.ndarray]:
    return {"W1": np.array([[0.5]]), "b1": np.array([z - 0.5]), "W2": np.array([[0.7]]), "b2": np.array([0.1])}


@pytest.mark.parametrize(
    ("net", "on", "off"),
    [
        # elu: no kink (its derivative is continuous at 0) but its second derivative jumps there
        (lambda: symdl.Network([1, 1, 1], activation="elu").compile(), hidden_elu_at(0.0), hidden_elu_at(0.3)),
        (lambda: one_unit(output_activation="elu"), at(0.0, 0.0), at(0.5, 0.0)),
        # huber's second derivative jumps at |a − y| = 1 (δ = 1); the loss's kinks are in a, the target held
        (lambda: one_unit(loss="huber"), at(0.0, 1.0), at(0.5, 1.0)),
        (lambda: one_unit(loss="huber"), at(0.0, -1.0), at(0.5, -1.0)),
        (lambda: one_unit(loss="mae"), at(0.0, 0.0), at(0.5, 0.0)),
        # L1 on the weights only: W = 0 is a kink, b = 0 is not
        (lambda: one_unit(penalty="l1"), at(0.0, 0.5), at(0.5, 0.0)),
    ],
    ids=["hidden elu", "output elu", "huber above", "huber below", "mae", "l1 penalty"],
)
def test_every_part_of_the_network_is_watched_for_its_breakpoints(net, on, off):
    compiled = net()
    try:
        check_network_grad(compiled, on, X, Y)
        refused = None
    except ValueError as error:
        refused = str(error)
    assert refused == ON_A_BREAKPOINT.format("2.8e-09")
    report = check_network_grad(compiled, off, X, Y)
    assert report.passed and report.step == STEP


def test_the_options_reach_the_check():
    """rtol, atol, tolerance, directions and seed are check_grad's, passed through by the assert as well."""
    net = symdl.Network([2, 3, 1], activation="tanh").compile()
    params = net.init(0)
    Xs, Ys = np.array([[0.3, -0.2], [0.1, 0.4]]), np.array([[0.5], [-0.5]])
    original = net.loss_and_grad

    class Off:  # the gradient 1e-4 too large (relative): fails float64's rtol 1e-6, passes rtol 1e-3
        def __getattr__(self, name):
            return getattr(net, name)

        def loss_and_grad(self, p, X, Y):
            loss, grads = original(p, X, Y)
            return loss, {k: g * (1 + 1e-4) for k, g in grads.items()}

    assert not check_network_grad(Off(), params, Xs, Ys).passed
    with pytest.raises(AssertionError, match="^Gradient check failed"):
        assert_network_grad_close(Off(), params, Xs, Ys)
    report = assert_network_grad_close(Off(), params, Xs, Ys, rtol=1e-3, directions=3, seed=5)
    assert report.tolerance == Tolerance(1e-3, 1e-10) and report.checked == 3
    assert report.tolerance == check_network_grad(Off(), params, Xs, Ys, rtol=1e-3).tolerance
    assert assert_network_grad_close(Off(), params, Xs, Ys, tolerance=Tolerance(0.0, 1.0)).tolerance == Tolerance(0.0, 1.0)
    assert assert_network_grad_close(Off(), params, Xs, Ys, atol=1.0).tolerance == Tolerance(1e-6, 1.0)
    assert check_network_grad(Off(), params, Xs, Ys, atol=1.0).passed
    one, other = (check_network_grad(net, params, Xs, Ys, directions=1, seed=s) for s in (1, 2))
    assert one.analytic != other.analytic  # another seed, another direction
    default = check_network_grad(net, params, Xs, Ys)
    assert default.checked == 20 and default == check_network_grad(net, params, Xs, Ys, directions=20, seed=0)


def test_anything_but_a_compiled_network_is_refused_in_one_line_naming_its_type():
    with pytest.raises(ValueError, match=r"^check_network_grad: expected a compiled network \(symdl\.Network\(\.\.\.\)\.compile\(\)\), got Network$"):
        check_network_grad(symdl.Network([1, 1]), at(0.5, 0.0), X, Y)


def test_pytest_shows_the_callers_line_not_the_raise_inside_symdl():
    net = symdl.Network([2, 3, 1], activation="tanh").compile()
    params = net.init(0)
    Xs, Ys = np.array([[0.3, -0.2]]), np.array([[0.5]])

    class Wrong:
        def __getattr__(self, name):
            return getattr(net, name)

        def loss_and_grad(self, p, X, Y):
            loss, grads = net.loss_and_grad(p, X, Y)
            return loss, {k: 2 * g for k, g in grads.items()}

    with pytest.raises(AssertionError) as caught:
        assert_network_grad_close(Wrong(), params, Xs, Ys)
    shown = [str(e.statement) for e in caught.traceback.filter(caught)]
    assert not [s for s in shown if "raise AssertionError" in s]


def test_running_statistics_stay_as_given_and_do_not_set_the_step():
    """Batch norm's running mean and variance are state, not parameters: not moved, not in the gradient, no scale."""
    net = symdl.Network([2, 3, 1], batchnorm=True).compile()
    params = net.init(0)
    params["running_var1"] = np.full(3, 100.0)
    Xs, Ys = np.array([[0.3, -0.2], [0.1, 0.4], [1.0, 0.5]]), np.array([[0.5], [-0.5], [0.2]])
    before = {k: v.copy() for k, v in params.items()}
    report = assert_network_grad_close(net, params, Xs, Ys)
    largest = max(float(np.max(np.abs(params[k]))) for k in net.param_names)
    assert largest < 100 and report.step == pytest.approx(STEP * max(1.0, largest), rel=1e-15)
    assert all(np.array_equal(params[k], before[k]) for k in params)


def test_a_rule_that_stops_the_gradient_is_refused_in_one_line_naming_it():
    net = symdl.Network([2, 3, 1], activation=symdl.formula_rule("z*stop_gradient(z)"), loss="mse").compile()
    Xs, Ys = np.array([[0.3, -0.2]]), np.array([[0.5]])
    name = net.network.activation.name
    message = (f"check_network_grad: {name!r} stops the gradient (stop_gradient), so finite differences of the loss "
               "cannot check it; check the rule with symdl.verify_rule, which holds the stopped parts fixed")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check_network_grad(net, net.init(0), Xs, Ys)
