"""Vector rules: proofs hold and catch planted mistakes; generated code matches independent numpy references."""

import inspect
from dataclasses import replace
from functools import lru_cache

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from symdl import rule
from symdl.codegen.index_kernels import FirstArgMax
from symdl.rulebook.vector_rule import COTANGENT, ROW_COTANGENT, VectorRule
from symdl.rulebook.vector_rules import a, k, n, sigma, v, x, y, z
from symdl.verify.vector_rules import _accuracy, check_vector_rule

VECTOR_RULES = ["softmax", "softmax_cross_entropy", "maxout", "rbf"]


@lru_cache(maxsize=None)
def kernels(name: str, wrt: str | None = None):
    r = rule(name)
    return r.numeric(), r.numeric_derivative(wrt)


def reference_softmax(zz):
    e = np.exp(zz - zz.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


finite = st.floats(-30, 30, allow_nan=False, allow_infinity=False)
rows = st.integers(1, 5)
widths = st.integers(1, 6)


@pytest.mark.parametrize("name", VECTOR_RULES)
def test_every_identity_is_proven(name):
    proofs = rule(name).prove()
    assert proofs
    assert all(proofs.values()), [label for label, p in proofs.items() if not p]


def mutated(name, **changes):
    r = rule(name)
    return VectorRule(r.name, r.kind, replace(r.definition, **changes), r.summary)


@pytest.mark.parametrize(
    "name, changes",
    [
        ("softmax", lambda d: {"vjps": {z: -d.vjps[z]}}),
        ("softmax", lambda d: {"vjps": {z: 2 * d.vjps[z]}}),
        ("softmax", lambda d: {"vjps": {z: v[k] * d.forward.subs(sp.Symbol("i", integer=True, nonnegative=True), k)}}),
        ("softmax_cross_entropy", lambda d: {"vjps": {**d.vjps, a: d.vjps[a] + y[k]}}),
        ("maxout", lambda d: {"vjps": {z: ROW_COTANGENT * FirstArgMax(-z[sp.Symbol("j", integer=True, nonnegative=True)], sp.Symbol("j", integer=True, nonnegative=True), k, n)}}),
        ("rbf", lambda d: {"vjps": {**d.vjps, sigma: d.vjps[sigma] * sigma[sp.Symbol("i", integer=True, nonnegative=True)]}}),
        ("rbf", lambda d: {"vjps": {**d.vjps, x: -d.vjps[x]}}),
    ],
)
def test_planted_mistakes_fail_the_proof(name, changes):
    r = rule(name)
    broken = mutated(name, **changes(r.definition))
    assert not all(broken.prove().values())


@settings(deadline=None)
@given(rows.flatmap(lambda b: widths.flatmap(lambda w: st.tuples(
    arrays(np.float64, (b, w), elements=finite), arrays(np.float64, (b, w), elements=finite)))))
def test_softmax_and_its_vjp_match_numpy(data):
    zz, vv = data
    forward, vjp = kernels("softmax")
    s = reference_softmax(zz)
    np.testing.assert_allclose(forward(zz), s, rtol=1e-12, atol=1e-300)
    jac = np.einsum("bi,ik->bik", s, np.eye(zz.shape[-1])) - np.einsum("bi,bk->bik", s, s)
    np.testing.assert_allclose(vjp(zz, vv), np.einsum("bi,bik->bk", vv, jac), rtol=1e-9, atol=1e-12)


@settings(deadline=None)
@given(rows.flatmap(lambda b: widths.flatmap(lambda w: st.tuples(
    arrays(np.float64, (b, w), elements=finite), st.lists(st.integers(0, w - 1), min_size=b, max_size=b)))))
def test_cross_entropy_and_gradient_match_numpy(data):
    logits, labels = data
    onehot = np.eye(logits.shape[-1])[labels]
    forward, grad = kernels("softmax_cross_entropy", "a")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    expected = -(onehot * (shifted - np.log(np.exp(shifted).sum(-1, keepdims=True)))).sum(-1)
    np.testing.assert_allclose(forward(logits, onehot), expected, rtol=1e-12, atol=1e-15)
    s = reference_softmax(logits)
    # s_c − 1 = −Σ_{i≠c} s_i: summed without cancellation, the accurate reference where s_c ≈ 1.
    expected_grad = s * (1 - onehot) - onehot * (s * (1 - onehot)).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(grad(logits, onehot), expected_grad, rtol=1e-9, atol=1e-300)


def test_maxout_sends_the_gradient_to_the_first_of_tied_pieces():
    forward, vjp = kernels("maxout")
    zz = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [-1.0, -5.0, -2.0]])
    np.testing.assert_array_equal(forward(zz), [3.0, 2.0, -1.0])
    np.testing.assert_array_equal(vjp(zz, np.array([1.0, 2.0, 3.0])), [[0, 1, 0], [2, 0, 0], [3, 0, 0]])


@settings(deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.data())
def test_rbf_and_its_gradients_match_numpy(batch, n_in, units, data):
    xx = data.draw(arrays(np.float64, (batch, n_in), elements=st.floats(-3, 3)))
    ww = data.draw(arrays(np.float64, (n_in, units), elements=st.floats(-3, 3)))
    ss = data.draw(arrays(np.float64, (units,), elements=st.floats(0.5, 4)))
    vv = data.draw(arrays(np.float64, (batch, units), elements=st.floats(-1, 1)))
    forward = kernels("rbf")[0]
    vjp = {name: kernels("rbf", name)[1] for name in ("x", "W", "sigma")}
    diff = ww[None, :, :] - xx[:, :, None]  # (batch, n_in, units)
    h = np.exp(-(diff**2).sum(axis=1) / ss**2)
    np.testing.assert_allclose(forward(xx, ww, ss), h, rtol=1e-12)
    common = vv * h * 2 / ss**2  # (batch, units)
    np.testing.assert_allclose(vjp["x"](xx, ww, ss, vv), np.einsum("bu,biu->bi", common, diff), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(vjp["W"](xx, ww, ss, vv), -np.einsum("bu,biu->iu", common, diff), rtol=1e-9, atol=1e-12)
    expected_sigma = (vv * h * 2 * (diff**2).sum(axis=1) / ss**3).sum(axis=0)
    np.testing.assert_allclose(vjp["sigma"](xx, ww, ss, vv), expected_sigma, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", VECTOR_RULES)
def test_generated_code_passes_the_numeric_checks(name):
    report = check_vector_rule(rule(name), rows=8)
    assert report["fd_error"] <= 1e-6
    assert report["accuracy64"] <= 1e-13
    assert report["accuracy32"] <= 1e-5
    assert report["unstable"] == []


class _OffSoftmax(VectorRule):
    """softmax whose generated forward is off by a relative 2⁻³⁰ (its VJP is untouched)."""

    def numeric(self):
        kernel = super().numeric()
        return lambda *args: kernel(*args) * (1 + 2.0**-30)


def test_accuracy_divides_the_error_by_the_error_bound():
    """|num − exact| / Σ|term|·(1 + Σ|u|): for softmax's one term e^{z_i}/Σe^{z_j} the bound is s_i·(1 + Σ_j |z_j|).

    An error of 2⁻³⁰·s_i is 2⁻³⁰/(1 + Σ|z|) of it, worst at the row with the smallest Σ|z|: the bound neither
    excuses the error (too large) nor inflates it (too small).
    """
    r = rule("softmax")
    rng = np.random.default_rng(3)
    zz = rng.uniform(-40, 40, size=(6, 3))
    zz[2] = [0.25, -0.5, 0.125]  # the smallest Σ|z| = 0.875
    values = {z: zz, COTANGENT: rng.uniform(-1, 1, size=(6, 3))}
    assert _accuracy(r, values, np.float64) <= 1e-15
    off = _OffSoftmax(r.name, r.kind, r.definition, r.summary)
    assert _accuracy(off, values, np.float64) == pytest.approx(2.0**-30 / 1.875, rel=1e-6, abs=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_stays_float32_and_extremes_stay_finite(dtype):
    zz = np.array([[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -1000.0]], dtype=dtype)
    forward, vjp = kernels("softmax")
    out = forward(zz)
    assert out.dtype == dtype and np.all(np.isfinite(out))
    assert vjp(zz, np.ones_like(zz)).dtype == dtype
    onehot = np.eye(3, dtype=dtype)[[2, 0]]
    ce, grad = kernels("softmax_cross_entropy", "a")
    loss = ce(zz, onehot)
    assert loss.dtype == dtype and np.all(np.isfinite(loss))
    np.testing.assert_allclose(loss, [0.0, 0.0 + np.log(2)], atol=1e-6)


def test_unknown_input_names_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="its inputs: x, W, sigma"):
        rule("rbf").numeric_derivative("b")


def test_maxout_derivative_is_the_first_arg_max_indicator():
    r = rule("maxout")
    d = r.derivative()
    assert isinstance(d, FirstArgMax) and not d.has(sp.Derivative)
    assert r.latex()["definition"].startswith("g =")


@pytest.mark.parametrize("name", ["softmax", "softmin", "log_softmax", "sparsemax", "maxout", "softmax_cross_entropy", "rbf"])
def test_a_0d_input_is_refused_in_one_line_by_forward_and_vjp(name):
    # torch.softmax(tensor(2.), -1) is 1, but symdl's torch and jax exports of these rules refuse a 0-d input;
    # the numpy kernels do the same instead of raising numpy's AxisError.
    r = rule(name)
    for kernel in (r.numeric(), r.numeric_derivative()):
        arity = len(inspect.signature(kernel.function).parameters)
        with pytest.raises(ValueError, match=rf"^{kernel.name}: \w+ needs (a last axis|2 last axes) \(the kernel's "
                                             r"indices\), got a 0-d array$"):
            kernel(*[np.float64(2.0)] * arity)
    one = np.array([2.0])  # a one-element vector is still one: softmax [2] ↦ [1]
    np.testing.assert_array_equal(rule("softmax").numeric()(one), reference_softmax(one))
