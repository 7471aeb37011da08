"""Where check_grad and one_sided_differences evaluate f: per-coordinate steps, kinks in x of any shape,
one-sided Richardson against its known truncation error."""

import numpy as np
import pytest

from symdl.testing import (
    assert_grad_close,
    assert_subgradient,
    check_grad,
    one_sided_differences,
)

EPS = float(np.finfo(np.float64).eps)


class Recorder:
    """f, remembering every point it is evaluated at."""

    def __init__(self, f):
        self.f, self.points = f, []

    def __call__(self, v):
        self.points.append(np.array(v, copy=True))
        return self.f(v)


def offsets(recorder, x):
    return [p - x for p in recorder.points]


@pytest.mark.parametrize(("richardson", "power"), [(True, 1 / 5), (False, 1 / 3)])
def test_each_coordinate_is_stepped_at_its_own_scale(richardson, power):
    # x_i moves by h_i = eps^power·max(1, |x_i|) (and h_i/2 with Richardson), whatever the largest |x|.
    x = np.array([0.25, -8.0, 3.0])
    f = Recorder(lambda v: float(np.sum(v**2)))
    report = check_grad(f, 2 * x, x, mode="coordinates", richardson=richardson)
    steps = EPS**power * np.maximum(1.0, np.abs(x))
    per_coordinate = 4 if richardson else 2
    assert len(f.points) == per_coordinate * x.size == report.evaluations
    for i in range(x.size):
        moves = offsets(f, x)[i * per_coordinate:(i + 1) * per_coordinate]
        expected = [steps[i], -steps[i], steps[i] / 2, -steps[i] / 2][:per_coordinate]
        for move, size in zip(moves, expected):
            assert np.delete(move, i).tolist() == [0.0, 0.0]
            assert move[i] == pytest.approx(size, rel=1e-9)
    worst = int(report.worst.removeprefix("coordinate (").removesuffix(",)"))
    assert report.step == pytest.approx(steps[worst], rel=1e-12)


def test_a_random_direction_is_scaled_coordinate_by_coordinate():
    # Along u ⊙ max(1, |x|)/max(1, ‖x‖∞) at the step eps^(1/5)·max(1, ‖x‖∞): move_i / (eps^(1/5)·max(1, |x_i|)) is
    # the unit vector u (and u/2), and the analytic value is ⟨g, move⟩/step.
    x = np.array([0.5, -100.0, 20.0, 0.0])
    g = np.array([1.0, 2.0, -3.0, 4.0])
    f = Recorder(lambda v: float(g @ v))
    report = check_grad(f, g, x, directions=3)
    scaled = [move / (EPS**0.2 * np.maximum(1.0, np.abs(x))) for move in offsets(f, x)]
    assert [round(float(np.linalg.norm(s)), 6) for s in scaled] == [1.0, 1.0, 0.5, 0.5] * 3
    assert report.step == pytest.approx(EPS**0.2 * 100, rel=1e-12)
    along = [float(g @ move) / report.step for move in offsets(f, x)[0::4]]  # x + h·u of each direction
    assert report.passed and min(abs(a - report.analytic) for a in along) < 1e-9


def test_a_given_step_is_used_as_is_and_small_x_is_stepped_at_scale_1():
    x = np.array([0.5, -10.0])
    f = Recorder(lambda v: float(np.sum(v**2)))
    check_grad(f, 2 * x, x, mode="coordinates", step=2.0**-7)
    assert [float(np.abs(m).max()) for m in offsets(f, x)] == [2.0**-7, 2.0**-7, 2.0**-8, 2.0**-8] * 2
    assert check_grad(f, 2 * x, x, step=2.0**-7).step == 2.0**-7
    small = np.array([0.5, -0.25])  # max(1, ‖x‖∞) = 1
    assert check_grad(lambda v: float(np.sum(v**2)), 2 * small, small).step == pytest.approx(EPS**0.2, rel=1e-12)


def test_f_is_evaluated_in_the_dtype_of_x():
    x = np.array([0.5, -2.0], dtype=np.float32)
    f = Recorder(lambda v: np.float32(np.sum(v**2)))
    for mode in ("coordinates", "directions"):
        assert_grad_close(f, 2 * x, x, mode=mode)
    assert {p.dtype for p in f.points} == {np.dtype(np.float32)}


def test_an_empty_x_is_refused():
    for mode in ("coordinates", "directions"):
        with pytest.raises(ValueError, match=r"^check_grad: x is empty; accepted: a float array of at least one element$"):
            check_grad(lambda v: 0.0, lambda v: v, np.zeros(0), mode=mode)


def test_a_coordinate_near_0_beside_a_large_one_is_checked_at_its_own_scale():
    # At the large coordinate's scale (step ≈ 7e2), sin(50·x₁) would be sampled across many periods.
    x = np.array([1e5, 1e-3])
    f = lambda v: float(v[0] + np.sin(50 * v[1]))  # noqa: E731
    g = lambda v: np.array([1.0, 50 * np.cos(50 * v[1])])  # noqa: E731
    for mode in ("coordinates", "directions"):
        assert_grad_close(f, g, x, mode=mode)
        wrong = lambda v: g(v) * np.array([1.0, 1.001])  # noqa: E731
        assert not check_grad(f, wrong, x, mode=mode).passed


def test_kinks_are_measured_element_by_element_in_x_of_two_axes():
    # The nearest kink of each element: x[1, 0] is 2⁻¹⁵ above the kink at 1, so the step is half that.
    x = np.array([[0.4, -2.0, 3.0], [1.0 + 2.0**-15, 0.75, -0.3]])
    f = lambda v: float(np.sum(np.maximum(v, 0.0) + np.maximum(v - 1.0, 0.0)))  # noqa: E731
    g = lambda v: (v > 0).astype(float) + (v > 1).astype(float)  # noqa: E731
    report = assert_grad_close(f, g, x, kinks=[0.0, 1.0])
    assert report.step == 2.0**-16
    assert assert_grad_close(f, g, x, kinks=[0.0, 1.0], mode="coordinates").step <= 2.0**-16
    on = x.copy()
    on[0, 2] = 1.0  # on the second kink
    with pytest.raises(ValueError, match=r"^check_grad: x\[0, 2\] = 1\.0 sits on a declared kink; two-sided "
                       r"differences say nothing there: check its value with assert_subgradient$"):
        check_grad(f, g, on, kinks=[0.0, 1.0])


def test_one_sided_richardson_is_exact_on_quadratic_pieces():
    # f = −v + v² left of 0, 3v + v² right: D(h) = slope ± h, and 2·D(h/2) − D(h) cancels the h term exactly.
    f = lambda v: np.where(v < 0, -v + v**2, 3 * v + v**2)  # noqa: E731
    left, right = one_sided_differences(f, np.array([0.0, 0.0]), h=np.array([2.0**-4, 2.0**-6]))
    assert left.tolist() == [-1.0, -1.0] and right.tolist() == [3.0, 3.0]


def test_one_sided_richardson_leaves_the_known_h_squared_error():
    # f = v³: D(h) = 3x² ± 3xh + h², so 2·D(h/2) − D(h) = 3x² − h²/2 on both sides (every value exact here).
    x = np.array([0.0, 0.5, -2.0])
    h = np.array([2.0**-3, 2.0**-4, 2.0**-5])
    left, right = one_sided_differences(lambda v: v**3, x, h=h)
    assert left.tolist() == right.tolist() == (3 * x**2 - h**2 / 2).tolist()
    # The default step at 0 is sqrt(eps) (= 2⁻²⁶): the error −h²/2 is −eps/2.
    left, right = one_sided_differences(lambda v: v**3, np.array([0.0]))
    assert left.tolist() == right.tolist() == [-EPS / 2]


def test_a_given_one_sided_step_is_taken_in_the_dtype_of_x():
    x = np.array([0.0, 1.0], dtype=np.float32)
    f = Recorder(lambda v: v**2)
    left, right = one_sided_differences(f, x, h=np.array([2.0**-4, 2.0**-5]))
    assert {p.dtype for p in f.points} == {np.dtype(np.float32)}
    assert left.tolist() == right.tolist() == [0.0, 2.0]
    with pytest.raises(TypeError, match=r"^one_sided_differences: x must be a float array, got dtype int64$"):
        one_sided_differences(f, np.array([1, 2], dtype=np.int64))
    with pytest.raises(TypeError, match=r"^assert_subgradient: x must be a float array, got dtype int64$"):
        assert_subgradient(f, np.array([0.0, 2.0]), np.array([1, 2], dtype=np.int64))
    # a NaN or infinite point is x's fault, not h's (it was "h must be finite numbers > 0, got None"); empty x is refused
    with pytest.raises(ValueError, match=r"^one_sided_differences: x\[1\] = nan; accepted: a point of finite numbers$"):
        one_sided_differences(np.abs, np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match=r"^one_sided_differences: x = inf; accepted: a point of finite numbers$"):
        one_sided_differences(np.abs, np.array(np.inf))
    with pytest.raises(ValueError, match=r"^one_sided_differences: x is empty; accepted: a float array of at least one element$"):
        one_sided_differences(np.abs, np.array([]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_sided_steps_are_sqrt_eps_times_max_1_x(dtype):
    x = np.array([0.0, 0.5, -4.0, 300.0], dtype=dtype)
    f = Recorder(lambda v: v * 2)
    left, right = one_sided_differences(f, x)
    h = np.sqrt(np.finfo(dtype).eps) * np.maximum(1, np.abs(x.astype(np.float64)))
    moves = offsets(f, x)
    assert [m.dtype for m in f.points] == [np.dtype(dtype)] * 5
    assert moves[0].tolist() == [0.0] * 4  # f(x), then x − h/2, x − h, x + h/2, x + h
    for move, size in zip(moves[1:], (-h / 2, -h, h / 2, h)):
        np.testing.assert_allclose(move, size, rtol=0.02 if dtype == np.float32 else 1e-7)
    np.testing.assert_allclose(np.stack([left, right]), 2.0, rtol=1e-5)
