"""Exports under every framework transform: torch.func, forward AD, torch.compile, pickle; jax jit/grad/vmap/jvp/jacfwd/jacrev/hessian.

References are the frameworks' own functions (``torch.nn.functional.softplus``, ``jax.nn.softplus`` …) at float64.
"""

from __future__ import annotations

import functools
import inspect
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from symdl.export.custom_gradient import (
    GENERATED_PACKAGE,
    rule_module_source,
    to_jax,
    to_torch,
)

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

jax.config.update("jax_enable_x64", True)

# torch's forward mode imports its jvp decompositions on first use, which call the deprecated torch.jit.script
# (a DeprecationWarning up to torch 2.13, a FutureWarning from 2.14: the filter names no category).
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")

# Points away from relu's kink at 0 (torch and symdl agree there too, tested in test_export.py).
POINTS = arrays(np.float64, st.integers(1, 6), elements=st.floats(-30, 30).filter(lambda x: abs(x) > 1e-3))

TORCH_REFERENCES = {
    "softplus": lambda z: torch.nn.functional.softplus(z, threshold=50.0),  # the default 20 returns z above 20
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
}
JAX_REFERENCES = {"softplus": lambda z: jax.nn.softplus(z), "relu": lambda z: jax.nn.relu(z), "sigmoid": lambda z: jax.nn.sigmoid(z)}


def _close(got, expected, rtol=1e-12, atol=1e-15):
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=rtol, atol=atol)


# --- PyTorch ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TORCH_REFERENCES))
@settings(max_examples=10)
@given(points=POINTS)
def test_torch_func_transforms_match_torch_itself(name, points):
    from torch.func import grad, hessian, jacfwd, jacrev, vmap

    ours, theirs = to_torch(name).apply, TORCH_REFERENCES[name]
    z = torch.from_numpy(points)
    _close(vmap(ours)(z), theirs(z))
    _close(vmap(grad(ours))(z), vmap(grad(theirs))(z))
    _close(jacrev(ours)(z), jacrev(theirs)(z))
    _close(jacfwd(ours)(z), jacfwd(theirs)(z))
    _close(vmap(hessian(ours))(z), vmap(hessian(theirs))(z))
    _close(hessian(lambda z: ours(z).sum())(z), hessian(lambda z: theirs(z).sum())(z))


@pytest.mark.parametrize("name", sorted(TORCH_REFERENCES))
def test_torch_forward_ad_dual_numbers(name):
    import torch.autograd.forward_ad as fwad

    z = torch.linspace(-4.0, 4.0, 7, dtype=torch.float64) + 0.01
    t = torch.linspace(0.5, 2.0, 7, dtype=torch.float64)
    results = []
    for f in (to_torch(name).apply, TORCH_REFERENCES[name]):
        with fwad.dual_level():
            out = fwad.unpack_dual(f(fwad.make_dual(z, t)))
            results.append((out.primal.clone(), out.tangent.clone()))
    _close(results[0][0], results[1][0])
    _close(results[0][1], results[1][1])


def test_torch_forward_mode_with_broadcasting_and_numbers():
    from torch.func import jacfwd, jacrev, jvp

    mse = to_torch("mse").apply
    rng = np.random.default_rng(0)
    a, y = torch.from_numpy(rng.normal(size=(3, 4))), torch.from_numpy(rng.normal(size=4))
    for argnums in (0, 1, (0, 1)):
        forward, reverse = jacfwd(mse, argnums=argnums)(a, y), jacrev(mse, argnums=argnums)(a, y)
        for f, r in zip(*((x,) if argnums != (0, 1) else x for x in (forward, reverse))):
            _close(f, r)
    _, tangent = jvp(lambda a: mse(a, 0.5), (a,), (torch.ones_like(a),))  # a Python number as the second input
    _close(tangent, a - 0.5)
    l2 = to_torch("l2").apply  # a sum over its input: one number out
    _close(jacfwd(l2)(a), jacrev(l2)(a))
    _close(jvp(l2, (a,), (torch.ones_like(a),))[1], jacrev(l2)(a).sum())


def test_torch_vector_rules_under_every_transform():
    from torch.func import hessian, jacfwd, jacrev, vmap

    rng = np.random.default_rng(1)
    z = torch.from_numpy(rng.normal(size=(3, 4)))
    y = torch.softmax(torch.from_numpy(rng.normal(size=(3, 4))), -1)
    softmax = to_torch("softmax").apply
    for transform in (jacfwd, jacrev):
        _close(transform(softmax)(z), transform(lambda z: torch.softmax(z, -1))(z))
    _close(vmap(softmax)(z), torch.softmax(z, -1))
    sce = to_torch("softmax_cross_entropy").apply

    def reference(a, y):
        return -(y * torch.log_softmax(a, -1)).sum(-1)

    for transform in (jacfwd, jacrev, hessian):
        for argnums in (0, 1):
            _close(transform(sce, argnums=argnums)(z, y), transform(reference, argnums=argnums)(z, y))
    _close(vmap(sce)(z, y), reference(z, y))


def test_torch_exports_pickle_by_reference_and_have_rule_names():
    cls = to_torch("softplus")
    assert cls.__name__ == "Softplus" and cls.__module__.startswith(GENERATED_PACKAGE + ".")
    assert sys.modules[cls.__module__].Softplus is cls and to_torch("softplus") is cls
    assert pickle.loads(pickle.dumps(cls)) is cls
    z = torch.tensor([-1.0, 2.0], dtype=torch.float64)
    assert torch.equal(pickle.loads(pickle.dumps(cls.apply))(z), cls.apply(z))
    assert to_torch("log(exp(z) + 1)").__name__ == "SoftplusFormula"  # not F (import torch.nn.functional as F)
    assert to_torch("x*y", wrt="x", symbols=["y"]).__name__ == "Formula"
    assert "class Softplus(torch.autograd.Function)" in inspect.getsource(sys.modules[cls.__module__])
    with_params = to_torch("leaky_relu", params={"alpha": 0.2})
    assert with_params.__module__ != to_torch("leaky_relu").__module__  # other text, other module


def test_torch_pickle_loads_in_a_fresh_process_after_the_same_export(tmp_path):
    (tmp_path / "f.pkl").write_bytes(pickle.dumps(to_torch("sigmoid").apply))
    script = (
        "import pickle, torch\n"
        "from symdl.export import to_torch\n"
        "to_torch('sigmoid')\n"
        "f = pickle.loads(open('f.pkl', 'rb').read())\n"
        "assert f(torch.zeros(1)).item() == 0.5\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def _compile_works() -> bool:
    try:
        return bool(torch.compile(lambda x: x + 1, fullgraph=True, backend="aot_eager")(torch.zeros(1)) == 1)
    except Exception:  # no dynamo on this platform / Python
        return False


@pytest.mark.slow
# torch 2.13's Dynamo itself instantiates torch.autograd.Function (for every Function, ours or not).
@pytest.mark.filterwarnings("ignore:<class 'torch.autograd.function.Function'> should not be instantiated:DeprecationWarning")
def test_torch_compile_fullgraph_with_gradients():
    """Dynamo traces the class (forward, setup_context, backward) without a graph break; ~3 s with aot_eager."""
    if not _compile_works():
        pytest.skip("torch.compile is not available here")
    softplus = to_torch("softplus").apply
    compiled = torch.compile(lambda z: softplus(z) * 2, fullgraph=True, backend="aot_eager")
    z = torch.linspace(-3.0, 3.0, 5, dtype=torch.float64, requires_grad=True)
    out = compiled(z)
    (g,) = torch.autograd.grad(out.sum(), z)
    assert out.grad_fn is not None and "Compiled" in type(out.grad_fn).__name__
    _close(out.detach(), 2 * torch.nn.functional.softplus(z.detach()))
    _close(g, 2 * torch.sigmoid(z.detach()))


def test_torch_source_is_the_modern_style():
    source = rule_module_source("softplus", "torch")
    assert "def forward(z):" in source and "def setup_context(ctx, inputs, output):" in source
    assert "def jvp(ctx, *tangents):" in source and "generate_vmap_rule = True" in source


# --- JAX ---------------------------------------------------------------------------------------------------


@functools.cache
def _jax_transforms(name: str, ours: bool):
    """One jitted function returning f, vmap(grad f), jvp, jacfwd, jacrev, vmap(hessian f) and hessian Σf (one compile)."""
    f = to_jax(name) if ours else JAX_REFERENCES[name]

    def transforms(z):
        return (f(z), jax.vmap(jax.grad(f))(z), jax.jvp(f, (z,), (jnp.ones_like(z),))[1], jax.jacfwd(f)(z),
                jax.jacrev(f)(z), jax.vmap(jax.hessian(f))(z), jax.hessian(lambda z: jnp.sum(f(z)))(z))

    return jax.jit(transforms)


@pytest.mark.parametrize("name", sorted(JAX_REFERENCES))
@settings(max_examples=20)
@given(points=arrays(np.float64, 6, elements=st.floats(-30, 30).filter(lambda x: abs(x) > 1e-3)))
def test_jax_transforms_match_jax_itself(name, points):
    got, expected = _jax_transforms(name, True)(points), _jax_transforms(name, False)(points)
    for g, e in zip(got[:5], expected[:5]):
        _close(g, e)
    for g, e in zip(got[5:], expected[5:]):  # jax.nn.softplus'' = σ' loses digits by cancellation (2e-3 at z = 28)
        _close(g, e, atol=1e-14)


def test_second_derivative_is_exact_where_jax_nn_softplus_is_not():
    mpmath = pytest.importorskip("mpmath")
    z = np.array([-28.0, -5.0, 0.5, 20.5, 28.0])
    exact = [float(mpmath.diff(lambda x: mpmath.log1p(mpmath.exp(x)), mpmath.mpf(x), 2)) for x in z]
    _close(jax.vmap(jax.hessian(to_jax("softplus")))(z), exact, rtol=1e-14, atol=0)
    _close(torch.func.vmap(torch.func.hessian(to_torch("softplus").apply))(torch.from_numpy(z)), exact, rtol=1e-14, atol=0)
    assert abs(float(jax.hessian(jax.nn.softplus)(28.0)) / exact[-1] - 1) > 1e-4


def test_jax_vector_rules_and_reductions_under_every_transform():
    rng = np.random.default_rng(2)
    z, y = jnp.asarray(rng.normal(size=(3, 4))), jax.nn.softmax(jnp.asarray(rng.normal(size=(3, 4))))
    b = jnp.asarray(rng.normal(size=4))
    mse, l2 = to_jax("mse"), to_jax("l2")

    def reference_sce(a, y):
        return -(y * jax.nn.log_softmax(a)).sum(-1)

    def pairs(softmax, sce):
        """(ours, reference) pairs, computed in one jitted call (op-by-op dispatch of jacfwd/hessian is slow)."""
        out = [transform(softmax)(z) for transform in (jax.jacfwd, jax.jacrev)]
        out.append(jax.hessian(lambda z: jnp.sum(softmax(z) ** 2))(z))
        out += [transform(sce, argnums=k)(z, y) for transform in (jax.jacfwd, jax.jacrev, jax.hessian) for k in (0, 1)]
        out.append(jax.vmap(sce)(z, y))
        return out

    @jax.jit
    def everything():
        ours, theirs = pairs(to_jax("softmax"), to_jax("softmax_cross_entropy")), pairs(jax.nn.softmax, reference_sce)
        # y broadcast over the rows: forward mode sums over the broadcast axis as reverse mode does.
        ours += [jax.jacfwd(mse, argnums=k)(z, b) for k in (0, 1)] + [jax.jacfwd(l2)(z), jax.hessian(l2)(z).reshape(12, 12)]
        theirs += [jax.jacrev(mse, argnums=k)(z, b) for k in (0, 1)] + [jax.jacrev(l2)(z), 0.02 * jnp.eye(12)]  # Ω = λΣw², λ = 0.01
        return ours, theirs

    for got, expected in zip(*everything()):
        _close(got, expected)


def test_jax_exports_pickle_by_reference():
    f = to_jax("softplus")
    assert f.__module__.startswith(GENERATED_PACKAGE + ".") and pickle.loads(pickle.dumps(f)) is f
    assert "@jax.custom_jvp" in f.__source__ and "custom_vjp" not in f.__source__
