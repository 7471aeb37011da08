"""check_grad(kinks=callable): x ↦ a lower bound of the distance to f's nearest kink, for floor(g(x)) in user code."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from symdl.testing import assert_grad_close, check_grad

GRADIENT_OF_G = np.array([3.0, -2.0])  # g(x) = 3x₀ − 2x₁ + 1/10


def g(x: np.ndarray) -> float:
    return float(GRADIENT_OF_G @ x + 0.1)


def f(x: np.ndarray) -> float:
    """⌊g(x)⌋·(x₀ + x₁²): jumps wherever g crosses an integer, a line in the plane, not a coordinate's integer."""
    return float(np.floor(g(x)) * (x[0] + x[1] ** 2))


def grad(x: np.ndarray) -> np.ndarray:
    return np.floor(g(x)) * np.array([1.0, 2 * x[1]])


def to_jump(x: np.ndarray) -> float:
    """|g − nearest integer| / ‖∇g‖: the Euclidean distance from x to the nearest line g = n."""
    return abs(g(x) - np.rint(g(x))) / float(np.linalg.norm(GRADIENT_OF_G))


NEAR_A_JUMP = np.array([0.3, -0.4995])  # g = 1.999: 2.8e-4 from the line g = 2, closer than the default step


@pytest.mark.parametrize("mode", ["directions", "coordinates"])
def test_a_floor_of_a_combination_of_coordinates_is_crossed_without_kinks_and_not_with_its_distance(mode):
    assert not check_grad(f, grad, NEAR_A_JUMP, mode=mode).passed
    assert not check_grad(f, grad, NEAR_A_JUMP, mode=mode, kinks="integers").passed  # floor of coordinates: not this
    report = assert_grad_close(f, grad, NEAR_A_JUMP, mode=mode, kinks=to_jump)
    assert report.step <= 0.5 * to_jump(NEAR_A_JUMP)


@settings(deadline=None, max_examples=60)
@given(st.tuples(st.floats(-5, 5), st.floats(-5, 5)).map(np.array), st.sampled_from(["directions", "coordinates"]))
def test_the_check_passes_wherever_x_is_off_the_jumps_and_a_wrong_gradient_still_fails(x, mode):
    assume(to_jump(x) > 1e-9)  # a sharper bound than float rounding of g can state is not the test's business
    assert_grad_close(f, grad, x, mode=mode, kinks=to_jump)
    wrong = check_grad(f, lambda v: grad(v) + np.array([0.0, 0.25]), x, mode=mode, kinks=to_jump)
    assert not wrong.passed


@settings(deadline=None, max_examples=30)
@given(st.lists(st.floats(-20, 20).filter(lambda v: abs(v - round(v)) > 1e-6), min_size=1, max_size=4).map(np.array))
def test_per_coordinate_distances_are_the_integers_spelling(x):
    floors = lambda v: float(np.sum(np.floor(v) * v))  # noqa: E731
    by_name = check_grad(floors, np.floor, x, kinks="integers")
    by_function = check_grad(floors, np.floor, x, kinks=lambda v: np.abs(v - np.rint(v)))
    assert by_function == by_name and by_name.passed


def test_a_point_on_a_kink_is_one_value_error():
    on = np.array([0.3, -0.5])  # g = 2
    with pytest.raises(ValueError, match=r"^check_grad: kinks\(x\) is 0: x sits on a declared kink; .*assert_subgradient$"):
        check_grad(f, grad, on, kinks=lambda v: 0.0)


@pytest.mark.parametrize(("returned", "shown"), [
    (-1.0, "-1.0"), (np.nan, "nan"), ("near", "'near'"), (1j, "1j"), (None, "None"), (True, "True"),
    (np.array([]), "an array of float64 and shape (0,)"),
])
def test_a_distance_that_is_not_one_is_one_value_error(returned, shown):
    with pytest.raises(ValueError, match=r"^check_grad: kinks\(x\) must return distances ≥ 0 \(a number or an array\), "
                                         rf"got {__import__('re').escape(shown)}$"):
        check_grad(f, grad, NEAR_A_JUMP, kinks=lambda v: returned)


def test_no_kink_in_reach_is_an_infinite_distance():
    assert check_grad(f, grad, np.array([0.3, 0.0]), kinks=lambda v: np.inf) == check_grad(f, grad, np.array([0.3, 0.0]))


def test_a_torch_users_distance_gets_tensors_as_f_does():
    torch = pytest.importorskip("torch")
    seen = []

    def distance(v):
        seen.append(type(v))
        return torch.abs(v - torch.round(v)).min()

    x = torch.tensor([0.3001, -1.9999], dtype=torch.float64)
    report = assert_grad_close(lambda v: (torch.floor(v) * v).sum(), torch.floor, x, kinks=distance)
    assert seen and all(t is torch.Tensor for t in seen) and report.step <= 0.5e-4
