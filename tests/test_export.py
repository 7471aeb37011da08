"""Custom-gradient exports to JAX and PyTorch: gradients, second derivatives, stability, dtypes, kinks, bad input."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import symdl
from symdl.export.custom_gradient import (
    SUPPORTED_VECTOR_RULES,
    rule_module_source,
    stabilise,
    to_jax,
    to_torch,
)
from symdl.symbolic.parse import FormulaError
from symdl.testing import central_difference

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
jax_test_util = pytest.importorskip("jax.test_util")

jax.config.update("jax_enable_x64", True)

ELEMENTWISE = [name for name in symdl.rules() if isinstance(symdl.rule(name), symdl.Rule)]
# Second derivatives exist everywhere (smooth) or away from the kinks used below.
SMOOTH = ["identity", "sigmoid", "tanh", "softplus", "exponential", "mse", "log_cosh", "binary_cross_entropy", "l2"]


def _points(r: symdl.Rule, seed: int = 0, size: int = 6) -> list[np.ndarray]:
    """float64 inputs of rule ``r``: the first input at distance 0.1 … 2.5 from every kink (all kinks of the
    built-in rules lie at offsets 0 and ±1 from the other input, or from 0)."""
    rng = np.random.default_rng(seed)
    others = []
    for s in r.inputs[1:]:
        lo, hi = r.definition.input_ranges.get(s, (-2.0, 2.0))
        others.append(rng.uniform(lo, hi, size))
    offset = rng.choice([-1, 1], size) * np.where(rng.random(size) < 0.5, rng.uniform(0.1, 0.9, size), rng.uniform(1.1, 2.5, size))
    first = (others[0] if others and r.kind == "loss" else 0.0) + offset
    return [first, *others]


def _torch_args(points: list[np.ndarray], dtype=torch.float64) -> list[torch.Tensor]:
    return [torch.tensor(p, dtype=dtype, requires_grad=True) for p in points]


# --- PyTorch ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_torch_gradcheck_every_elementwise_rule(name):
    r = symdl.rule(name)
    fn = to_torch(r)
    args = _torch_args(_points(r))
    assert torch.autograd.gradcheck(fn.apply, args)
    if name in SMOOTH or r.kind == "loss":
        assert torch.autograd.gradgradcheck(fn.apply, args)


@pytest.mark.parametrize("name", SUPPORTED_VECTOR_RULES)
def test_torch_gradcheck_vector_rules(name):
    fn = to_torch(name)
    rng = np.random.default_rng(1)
    args = _torch_args([rng.normal(size=(3, 4)) for _ in symdl.rule(name).inputs])
    assert torch.autograd.gradcheck(fn.apply, args)
    assert torch.autograd.gradgradcheck(fn.apply, args)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_torch_matches_numpy_kernels(name):
    r = symdl.rule(name)
    points = _points(r, seed=2)
    args = _torch_args(points)
    out = to_torch(r).apply(*args)
    np.testing.assert_allclose(out.detach().numpy(), r.numeric()(*points), rtol=1e-13, atol=1e-300)
    grads = torch.autograd.grad(out.sum(), args)
    for s, grad, x in zip(r.inputs, grads, points):
        expected = r.numeric_derivative(s)(*points)
        np.testing.assert_allclose(grad.numpy(), np.broadcast_to(expected, x.shape), rtol=1e-13, atol=1e-300)


# --- JAX --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_jax_check_grads_every_elementwise_rule(name):
    r = symdl.rule(name)
    f = to_jax(r)
    args = [jnp.asarray(p) for p in _points(r, seed=3)]
    jax_test_util.check_grads(jax.jit(f), args, order=1, modes=["rev"])


@pytest.mark.parametrize("name", SUPPORTED_VECTOR_RULES)
def test_jax_check_grads_vector_rules(name):
    rng = np.random.default_rng(4)
    args = [jnp.asarray(rng.normal(size=(3, 4))) for _ in symdl.rule(name).inputs]
    jax_test_util.check_grads(jax.jit(to_jax(name)), args, order=1, modes=["rev"])


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_jax_matches_numpy_kernels_and_finite_differences(name):
    r = symdl.rule(name)
    f = to_jax(r)
    points = _points(r, seed=5)
    np.testing.assert_allclose(np.asarray(f(*points)), r.numeric()(*points), rtol=1e-13, atol=1e-300)
    total = jax.jit(jax.grad(lambda *a: jnp.sum(f(*a)), argnums=tuple(range(len(points)))))
    grads = total(*points)
    elementwise = r.numeric
    for index, (s, grad) in enumerate(zip(r.inputs, grads)):
        np.testing.assert_allclose(np.asarray(grad), r.numeric_derivative(s)(*points) + 0 * points[index], rtol=1e-13, atol=1e-300)
        if not r.definition.reduce_sum:  # central_difference needs an element-wise function
            fd = central_difference(elementwise(), points, index)
            np.testing.assert_allclose(np.asarray(grad), fd, rtol=1e-7, atol=1e-8)


def test_jax_vector_rules_match_numpy_kernels():
    rng = np.random.default_rng(6)
    z = rng.normal(size=(5, 4)) * 30
    v = rng.normal(size=(5, 4))
    softmax, r = jax.jit(to_jax("softmax")), symdl.rule("softmax")
    np.testing.assert_allclose(np.asarray(softmax(z)), r.numeric()(z), rtol=1e-12, atol=1e-300)
    _, pullback = jax.vjp(softmax, jnp.asarray(z))
    np.testing.assert_allclose(np.asarray(pullback(jnp.asarray(v))[0]), r.numeric_derivative()(z, v), rtol=1e-12, atol=1e-14)
    y = np.eye(4)[rng.integers(0, 4, 5)]
    sce, r = jax.jit(to_jax("softmax_cross_entropy")), symdl.rule("softmax_cross_entropy")
    np.testing.assert_allclose(np.asarray(sce(z, y)), r.numeric()(z, y), rtol=1e-12)
    ga, gy = jax.grad(lambda a, y: jnp.sum(sce(a, y)), argnums=(0, 1))(z, y)
    np.testing.assert_allclose(np.asarray(ga), r.numeric_derivative("a")(z, y), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(gy), r.numeric_derivative("y")(z, y), rtol=1e-12, atol=1e-14)


def test_jax_second_derivative_through_the_backward_pass():
    # Second derivatives are JAX's differentiation of the printed derivative (the differentiable stable forms).
    f = to_jax("softplus")
    z = np.linspace(-5.0, 5.0, 6)
    second = jax.vmap(jax.grad(jax.grad(f)))(z)
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(np.asarray(second), s * (1 - s), rtol=1e-12)


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "binary_cross_entropy", "log_cosh", "tanh"])
def test_second_derivatives_are_exact_at_zero_where_the_stable_forms_tie(name):
    """At z = 0 (a = y = 0 for BCE) max(e^{−|z|}, [z ≥ 0]) ties; the backward pass prints σ by branches instead."""
    r = symdl.rule(name)
    var = r.wrt
    zero = {s: 0 for s in r.inputs}
    exact = float(sp.diff(r.bind(r.expr), var, 2).subs(zero).doit())
    args = [0.0] * len(r.inputs)
    with jax.enable_x64(True):
        f = to_jax(name)
        got_jax = float(jax.grad(jax.grad(lambda *a: jnp.sum(f(*a))))(*[jnp.asarray(a) for a in args]))
    points = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in args]
    value = to_torch(name).apply(*points).sum()
    (first,) = torch.autograd.grad(value, points[0], create_graph=True)
    (second,) = torch.autograd.grad(first, points[0])
    assert got_jax == pytest.approx(exact, abs=1e-15) and float(second) == pytest.approx(exact, abs=1e-15)
    # And around 0, where the branches meet, the printed derivative is still finite and continuous.
    for z in (-1e-300, 1e-300, -1000.0, 1000.0):
        point = [torch.tensor(z, dtype=torch.float64, requires_grad=True), *points[1:]]
        (first,) = torch.autograd.grad(to_torch(name).apply(*point).sum(), point[0], create_graph=True)
        (second,) = torch.autograd.grad(first, point[0])
        assert np.isfinite(float(second))


# --- the headline: the notebook's log(exp(z) + 1) ---------------------------------------------


def test_naive_softplus_autodiff_fails_at_1000_where_the_exports_do_not():
    z64 = torch.tensor(1000.0, dtype=torch.float64, requires_grad=True)
    naive = torch.log(torch.exp(z64) + 1)
    naive.backward()
    assert torch.isinf(naive) and torch.isnan(z64.grad)
    jax_naive = jax.value_and_grad(lambda z: jnp.log(jnp.exp(z) + 1))(1000.0)
    assert np.isinf(jax_naive[0]) and np.isnan(jax_naive[1])

    for dtype in (torch.float32, torch.float64):
        z = torch.tensor([1000.0, -1000.0, 0.0], dtype=dtype, requires_grad=True)
        out = to_torch("log(exp(z) + 1)").apply(z)
        out.sum().backward()
        assert out.dtype == dtype and z.grad.dtype == dtype
        assert torch.isfinite(out).all() and out[0].item() == pytest.approx(1000.0)
        assert z.grad.tolist() == [1.0, 0.0, 0.5]

    f = to_jax("log(exp(z) + 1)")
    for dtype in (jnp.float32, jnp.float64):
        z = jnp.asarray([1000.0, -1000.0, 0.0], dtype)
        value, grad = jax.jit(jax.value_and_grad(lambda z: jnp.sum(f(z))))(z)
        assert grad.dtype == dtype and np.isfinite(value)
        assert float(f(z)[0]) == pytest.approx(1000.0)
        assert np.asarray(grad).tolist() == [1.0, 0.0, 0.5]


def test_formula_patterns_become_named_functions():
    z = symdl.formula_rule("z").wrt
    assert str(stabilise(symdl.formula_rule("log(1 + exp(2*z))").expr)) == "softplus(2*z)"
    assert str(stabilise(symdl.formula_rule("1/(1 + exp(-z))").expr)) == "sigmoid(z)"
    assert str(stabilise(symdl.formula_rule("log(cosh(z))").expr)) == "log_cosh(z)"
    # equal by definition: the rewrite back to exp/log is the formula itself
    e = symdl.formula_rule("3*log(exp(z) + 1) + exp(z)/(exp(z) + 1)").expr
    assert (stabilise(e).rewrite(symdl.parse("exp(z)", symbols=["z"]).func) - e).simplify() == 0
    sig = to_torch("1/(1 + exp(-z))")
    t = torch.tensor([-1000.0, 1000.0], dtype=torch.float64, requires_grad=True)
    sig.apply(t).sum().backward()
    assert t.grad.tolist() == [0.0, 0.0]
    assert z.name == "z"


# --- dtypes, broadcasting, kinks ----------------------------------------------------------


@pytest.mark.parametrize("name", ["relu", "sigmoid", "huber", "softmax_cross_entropy"])
def test_float32_stays_float32(name):
    r = symdl.rule(name)
    shape = (3, 4)
    args32 = [np.linspace(0.1, 0.9, 12, dtype=np.float32).reshape(shape) for _ in r.inputs]
    targs = [torch.tensor(a, requires_grad=True) for a in args32]
    out = to_torch(name).apply(*targs)
    out.sum().backward()
    assert out.dtype == torch.float32 and all(t.grad.dtype == torch.float32 for t in targs)
    f = jax.jit(to_jax(name))
    assert f(*args32).dtype == jnp.float32
    grads = jax.grad(lambda *a: jnp.sum(f(*a)), argnums=tuple(range(len(args32))))(*args32)
    assert all(g.dtype == jnp.float32 for g in grads)


def test_losses_broadcast_and_sum_gradients_over_broadcast_axes():
    a = np.linspace(-2.0, 2.0, 12).reshape(3, 4)
    y = np.array([0.3, -0.1, 0.2, 0.05])
    ga, gy = jax.grad(lambda a, y: jnp.sum(to_jax("mse")(a, y)), argnums=(0, 1))(a, y)
    np.testing.assert_allclose(np.asarray(ga), a - y)
    np.testing.assert_allclose(np.asarray(gy), (y - a).sum(axis=0))
    ta, ty = torch.tensor(a, requires_grad=True), torch.tensor(y, requires_grad=True)
    to_torch("mse").apply(ta, ty).sum().backward()
    np.testing.assert_allclose(ty.grad.numpy(), (y - a).sum(axis=0))
    assert to_torch("mse").apply(ta, 0.5).shape == (3, 4)  # a Python number as an input


@pytest.mark.parametrize(
    ("name", "at", "expected"),
    [("relu", [0.0], 0.0), ("abs", [0.0], 0.0), ("hard_tanh", [1.0], 0.0), ("hard_tanh", [-1.0], 0.0),
     ("leaky_relu", [0.0], 0.01), ("mae", [0.5, 0.5], 0.0)],
)
def test_kinks_follow_symdls_convention(name, at, expected):
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in at]
    to_torch(name).apply(*tensors).backward()
    assert tensors[0].grad.item() == expected
    assert float(jax.grad(to_jax(name))(*at)) == expected


def test_relu_kink_matches_pytorch_itself():
    z = torch.tensor([0.0], requires_grad=True)
    torch.relu(z).sum().backward()
    assert to_torch("relu").apply(torch.tensor([0.0])).item() == 0.0
    assert float(jax.grad(lambda z: jnp.sum(to_jax("relu")(z)))(jnp.zeros(1))[0]) == z.grad.item()


def test_stable_at_1000_for_vector_rules():
    z = np.array([[1000.0, -1000.0, 0.0]])
    y = np.array([[0.0, 1.0, 0.0]])
    for f, wrap in ((to_jax, np.asarray), (to_torch, lambda t: t.detach().numpy())):
        softmax = f("softmax")
        out = softmax(z) if f is to_jax else softmax.apply(torch.tensor(z))
        assert np.isfinite(wrap(out)).all()
    tz = torch.tensor(z, requires_grad=True)
    loss = to_torch("softmax_cross_entropy").apply(tz, torch.tensor(y))
    loss.sum().backward()
    assert loss.item() == pytest.approx(2000.0) and tz.grad.tolist() == [[1.0, -1.0, 0.0]]


# --- generated modules ------------------------------------------------------------------


def test_rule_module_source_is_deterministic_and_imports_only_its_backend():
    for backend, allowed in (("jax", {"jax", "jax.numpy", "functools"}), ("torch", {"torch", "functools"})):
        for name in ("softplus", "huber", "softmax_cross_entropy", "log(exp(z) + 1)"):
            source = rule_module_source(name, backend)
            assert source == rule_module_source(name, backend)
            imported = {a.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import) for a in node.names}
            assert not any(isinstance(node, ast.ImportFrom) for node in ast.walk(ast.parse(source)))
            assert imported <= allowed, imported


def test_generated_modules_run_without_sympy_or_symdl(tmp_path):
    (tmp_path / "sp_jax.py").write_text(rule_module_source("log(exp(z) + 1)", "jax"))
    (tmp_path / "sp_torch.py").write_text(rule_module_source("softplus", "torch"))
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('sympy', 'symdl'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import jax, torch, sp_jax, sp_torch\n"
        "assert float(jax.grad(sp_jax.f)(1000.0)) == 1.0\n"
        "z = torch.tensor(1000.0, requires_grad=True)\n"
        "sp_torch.softplus(z).backward()\n"
        "assert z.grad.item() == 1.0\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
def test_generated_modules_pass_ruff(tmp_path):
    for i, name in enumerate(("softplus", "leaky_relu", "binary_cross_entropy", "softmax", "l1", "maxout")):
        for backend in ("jax", "torch"):
            (tmp_path / f"m_{backend}_{i}.py").write_text(rule_module_source(name, backend))
    done = subprocess.run(["ruff", "check", "--isolated", "--no-cache", str(tmp_path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("exporter", [to_jax, to_torch])
def test_bad_input(exporter):
    with pytest.raises(ValueError, match="softmax, softmax_cross_entropy, sparsemax, maxout"):
        exporter("rbf")
    with pytest.raises(ValueError, match=r"parameters \['k'\] have no value"):
        exporter("k*z**2", params={"k": None})
    with pytest.raises(FormulaError):
        exporter("__import__('os').system('true')")
    with pytest.raises(ValueError, match="no parameter"):
        exporter("leaky_relu", params={"beta": 1.0})
    with pytest.raises(TypeError, match="rule name or formula text"):
        exporter(3.5)
    with pytest.raises(ValueError, match="not to a rule object"):
        exporter(symdl.rule("relu"), wrt="x")
    with pytest.raises(ValueError, match="unknown backend"):
        rule_module_source("relu", "tensorflow")


def test_bad_arrays():
    with pytest.raises(TypeError, match="real numbers"):
        to_torch("relu").apply(torch.tensor([1 + 2j]))
    with pytest.raises(TypeError, match="real numbers"):
        to_jax("relu")(jnp.asarray([1 + 2j]))
    with pytest.raises(ValueError, match="last axis"):
        to_jax("softmax")(1.0)


def test_formula_with_parameters_and_two_inputs():
    f = to_jax("k*(a - y)**2", wrt="a", symbols=["y"], params={"k": 1.5})
    ga, gy = jax.grad(f, argnums=(0, 1))(2.0, 0.5)
    assert (float(ga), float(gy)) == (4.5, -4.5)
    assert torch.equal(to_torch("k*z**2", params={"k": 2}).apply(torch.tensor([3.0])), torch.tensor([18.0]))
