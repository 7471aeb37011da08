"""The optimizer catalogue: printed updates against torch.optim (200 steps, float64), schedules, proofs, bad input."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl.backends import get_backend
from symdl.codegen.optimizer import print_update, state_keys
from symdl.optim import (
    adagrad,
    adam,
    adamw,
    classic_momentum,
    cosine,
    exponential,
    nadam,
    optimizer,
    optimizer_names,
    rmsprop,
    sgd,
    step,
)
from symdl.optim.proofs import (
    PLANTED,
    adam_without_bias_correction,
    prove_all,
    prove_bias_correction,
)

torch = pytest.importorskip("torch")

STEPS = 200
SHAPES = {"W1": (3, 4), "b1": (4,)}


@pytest.fixture(autouse=True)
def _torch_float64():
    """torch's optimizer scalars (Nadam's mu_product, the step) follow the default dtype: float64 here."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def printed_step(opt, params=tuple(SHAPES)):
    """The real printed update (numpy backend, in place) as a function step(params, grads, state, **unbound)."""
    code = print_update(opt, list(params), get_backend("numpy").printer(), functional=False)
    args = "".join(f", {a}" for a in code.arguments)
    head = [f"{p} = params[{p!r}]" for p in params] + [f"g{p} = grads[{p!r}]" for p in params]
    body = textwrap.indent("\n".join([*head, *code.compute, *code.write]), "    ")
    namespace: dict = {"numpy": np}
    exec(f"def step(params, grads, state{args}):\n{body}\n", namespace)  # the test's own generated text
    return namespace["step"]


_PRINTED: dict = {}


def printed_with_arguments(opt):
    """(step, values): the update printed once per structure with every hyperparameter unbound (an argument of
    the printed code), and this optimizer's values for them — hypothesis varies values, not the printing."""
    key = (opt.name, tuple(sorted(opt.options.items())), tuple(h.name for h in opt.hyperparameters))
    if key not in _PRINTED:
        _PRINTED[key] = printed_step(opt.with_values(**{h.name: None for h in opt.hyperparameters}))
    return _PRINTED[key], {h.name: h.value for h in opt.hyperparameters}


def initial_state(opt, params):
    state = {"t": 0}
    for slot in opt.global_slots[1:]:
        state[slot.name] = float(slot.init)
    for name, value in params.items():
        for slot in opt.parameter_slots:
            state[f"{slot.name}_{name}"] = np.full_like(value, float(slot.init.xreplace({sp.Symbol("w", real=True): 0})))
    assert sorted(state) == sorted(state_keys(opt, list(params)))
    return state


def gradients(seed: int):
    rng = np.random.default_rng(seed)
    return [{p: rng.standard_normal(shape) for p, shape in SHAPES.items()} for _ in range(STEPS)]


def run_symdl(opt, seed: int, bound: bool = False):
    """200 steps of the printed update: hyperparameters as arguments (``bound=False``) or printed in as constants."""
    rng = np.random.default_rng(seed + 1000)
    params = {p: rng.standard_normal(shape) for p, shape in SHAPES.items()}
    state = initial_state(opt, params)
    step_fn, values = (printed_step(opt), {}) if bound else printed_with_arguments(opt)
    for grads in gradients(seed):
        step_fn(params, {k: v.copy() for k, v in grads.items()}, state, **values)
    return params, state


def run_torch(cls, kwargs, seed: int, scheduler=None):
    rng = np.random.default_rng(seed + 1000)
    params = {p: torch.tensor(rng.standard_normal(shape), requires_grad=True) for p, shape in SHAPES.items()}
    opt = cls(list(params.values()), foreach=False, **kwargs)
    sched = scheduler(opt) if scheduler else None
    for grads in gradients(seed):
        for p, tensor in params.items():
            tensor.grad = torch.tensor(grads[p])
        opt.step()
        if sched:
            sched.step()
    return {p: t.detach().numpy() for p, t in params.items()}


def assert_same(ours, theirs):
    for p in SHAPES:
        np.testing.assert_allclose(ours[p], theirs[p], rtol=1e-10, atol=1e-13)


rate = st.floats(1e-4, 0.1)
beta = st.floats(0.0, 0.99)
decay = st.sampled_from([0.0, 1e-3, 0.05])
seeds = st.integers(0, 2**16)
few = settings(max_examples=6, deadline=None)


@few
@given(lr=rate, momentum=st.sampled_from([0.0, 0.5, 0.9]), dampening=st.sampled_from([0.0, 0.3]), weight_decay=decay,
       nesterov=st.booleans(), seed=seeds)
def test_sgd_matches_torch(lr, momentum, dampening, weight_decay, nesterov, seed):
    if nesterov and (momentum == 0 or dampening):
        nesterov = False
    kw = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
    assert_same(run_symdl(sgd(**kw), seed)[0], run_torch(torch.optim.SGD, kw, seed))


@few
@given(lr=rate, momentum=st.floats(0.0, 0.95), seed=seeds)
def test_classic_momentum_is_torch_sgd_with_momentum(lr, momentum, seed):
    ours = run_symdl(classic_momentum(lr, momentum), seed)[0]
    assert_same(ours, run_torch(torch.optim.SGD, dict(lr=lr, momentum=momentum), seed))


@few
@given(lr=rate, lr_decay=st.sampled_from([0.0, 0.01]), weight_decay=decay, init=st.sampled_from([0.0, 0.1]),
       eps=st.sampled_from([1e-10, 1e-3]), seed=seeds)
def test_adagrad_matches_torch(lr, lr_decay, weight_decay, init, eps, seed):
    kw = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, initial_accumulator_value=init, eps=eps)
    assert_same(run_symdl(adagrad(**kw), seed)[0], run_torch(torch.optim.Adagrad, kw, seed))


@few
@given(lr=rate, alpha=st.floats(0.5, 0.999), weight_decay=decay, momentum=st.sampled_from([0.0, 0.9]),
       centered=st.booleans(), seed=seeds)
def test_rmsprop_matches_torch(lr, alpha, weight_decay, momentum, centered, seed):
    kw = dict(lr=lr, alpha=alpha, weight_decay=weight_decay, momentum=momentum, centered=centered)
    assert_same(run_symdl(rmsprop(**kw), seed)[0], run_torch(torch.optim.RMSprop, kw, seed))


@few
@given(lr=rate, b1=beta, b2=st.floats(0.5, 0.9999), eps=st.sampled_from([1e-8, 1e-3]), weight_decay=decay, seed=seeds)
def test_adam_and_adamw_match_torch(lr, b1, b2, eps, weight_decay, seed):
    kw = dict(lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay)
    assert_same(run_symdl(adam(**kw), seed)[0], run_torch(torch.optim.Adam, kw, seed))
    assert_same(run_symdl(adamw(**kw), seed)[0], run_torch(torch.optim.AdamW, kw, seed))


@few
@given(lr=rate, b1=beta, b2=st.floats(0.5, 0.9999), weight_decay=decay, psi=st.sampled_from([4e-3, 0.05]),
       decoupled=st.booleans(), seed=seeds)
def test_nadam_matches_torch(lr, b1, b2, weight_decay, psi, decoupled, seed):
    kw = dict(lr=lr, betas=(b1, b2), weight_decay=weight_decay, momentum_decay=psi, decoupled_weight_decay=decoupled)
    ours, state = run_symdl(nadam(**kw), seed)
    assert_same(ours, run_torch(torch.optim.NAdam, kw, seed))
    assert state["t"] == STEPS and 0 <= state["mu_product"] < 1


def run_keras_nadam(lr, b1, b2, eps, weight_decay, seed):
    """Keras 3's Nadam by hand, as keras/src/optimizers/nadam.py and the base optimizer's apply() compute it:
    decoupled decay w ← w − wλη first, Πμ ← Πμ·β₁(1 − ½·0.96^(i+1)) (no ψ: 0.96 to the step itself), then the step."""
    rng = np.random.default_rng(seed + 1000)
    params = {p: rng.standard_normal(shape) for p, shape in SHAPES.items()}
    m = {p: np.zeros(shape) for p, shape in SHAPES.items()}
    v = {p: np.zeros(shape) for p, shape in SHAPES.items()}
    u_product = 1.0
    for iterations, grads in enumerate(gradients(seed)):
        for p in params:
            params[p] = params[p] - params[p] * weight_decay * lr
        u_product = u_product * b1 * (1.0 - 0.5 * 0.96 ** (iterations + 1))
        u_t, u_t_1 = b1 * (1.0 - 0.5 * 0.96 ** (iterations + 1)), b1 * (1.0 - 0.5 * 0.96 ** (iterations + 2))
        for p, g in grads.items():
            m[p] += (g - m[p]) * (1 - b1)
            v[p] += (np.square(g) - v[p]) * (1 - b2)
            m_hat = u_t_1 * m[p] / (1 - u_product * u_t_1) + (1 - u_t) * g / (1 - u_product)
            v_hat = v[p] / (1 - b2 ** (iterations + 1))
            params[p] = params[p] - m_hat * lr / (np.sqrt(v_hat) + eps)
    return params


@few
@given(lr=rate, b1=beta, b2=st.floats(0.5, 0.9999), eps=st.sampled_from([1e-7, 1e-3]), weight_decay=decay, seed=seeds)
def test_nadam_with_momentum_decay_1_is_keras_nadam(lr, b1, b2, eps, weight_decay, seed):
    """docs/optimizers.md's mapping: Keras 3 Nadam is momentum_decay=1 with decoupled weight decay; ψ = 0.004 is not."""
    keras = run_keras_nadam(lr, b1, b2, eps, weight_decay, seed)
    kw = dict(lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay, decoupled_weight_decay=True)
    assert_same(run_symdl(nadam(**kw, momentum_decay=1.0), seed)[0], keras)
    if b1 > 0.1:  # with β₁ ≈ 0 the momentum schedule hardly matters
        torch_default = run_symdl(nadam(**kw), seed)[0]
        assert max(np.max(np.abs(torch_default[p] - keras[p])) for p in SHAPES) > 1e-6 * lr


BOUND_CASES = [
    (sgd, "SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    (sgd, "SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    (adagrad, "Adagrad", dict(lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1)),
    (rmsprop, "RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01)),
    (adam, "Adam", dict(lr=0.01, betas=(0.0, 0.5), weight_decay=0.01)),
    (adamw, "AdamW", dict(lr=0.01)),
    (nadam, "NAdam", dict(lr=0.01, weight_decay=0.01, decoupled_weight_decay=True)),
]


@pytest.mark.parametrize(("factory", "cls", "kw"), BOUND_CASES, ids=[f"{c}-{i}" for i, (_, c, _) in enumerate(BOUND_CASES)])
def test_printed_with_constants_matches_torch(factory, cls, kw):
    """The printing a network gets: hyperparameters folded into the code as constants (β₁ = 0 prints 0**t)."""
    assert_same(run_symdl(factory(**kw), 5, bound=True)[0], run_torch(getattr(torch.optim, cls), kw, 5))


SCHEDULES = [
    (lambda lr: step(lr, 7, 0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5)),
    (lambda lr: exponential(lr, 0.98), lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.98)),
    (lambda lr: cosine(lr, 50, 1e-3), lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=50, eta_min=1e-3)),
]


@pytest.mark.parametrize(("ours", "theirs"), SCHEDULES, ids=["step", "exponential", "cosine"])
def test_schedules_match_torch_lr_scheduler(ours, theirs):
    schedule = ours(0.1)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = theirs(opt)
    for t in range(1, STEPS + 1):  # step t uses the scheduler's value at epoch t - 1
        np.testing.assert_allclose(schedule.at(t), opt.param_groups[0]["lr"], rtol=1e-10)
        opt.step()
        sched.step()


@pytest.mark.parametrize(("ours", "theirs"), SCHEDULES, ids=["step", "exponential", "cosine"])
def test_a_scheduled_optimizer_matches_torch(ours, theirs):
    kw = dict(betas=(0.9, 0.99))
    assert_same(run_symdl(adam(ours(0.05), **kw), 3)[0], run_torch(torch.optim.Adam, dict(lr=0.05, **kw), 3, theirs))


# --- proofs ---------------------------------------------------------------------------------------------------------


def test_every_proof_holds_and_every_wrong_variant_is_refuted():
    results = prove_all()
    assert len(results) == 10 and all(r.holds and r.statement and r.steps for r in results.values())
    refutations = [label for label in results if results[label].statement.startswith("refuted: ")]
    assert len(refutations) == 5


def test_the_missing_bias_correction_is_caught_with_an_exact_counterexample():
    assert prove_bias_correction().holds
    planted = prove_bias_correction(adam_without_bias_correction())
    assert not planted.holds
    assert "counterexample" in planted.steps[-1] and "25/13" in planted.steps[-1]


def test_optimizer_state_symbolic_runs_agree_with_the_proofs_closed_form():
    b1, g = sp.Symbol("beta_1", positive=True), sp.Symbol("g", real=True)
    opt = adam()
    state = opt.initial_state()
    for t in range(1, 5):
        state, _ = opt.step(state, sp.Symbol("w", real=True), g)
        assert sp.expand(state[sp.Symbol("m", real=True)] - (1 - b1**t) * g) == 0


def test_a_symbolic_run_uses_the_scheduled_rate_not_the_base_rate():
    """η in the update is η(t): with η_t = γ^(t−1) the second step uses η/2 (PyTorch: w₂ = −1 − ½·(3/2) = −7/4)."""
    eta, gamma, mu = sp.Symbol("eta", positive=True), sp.Symbol("gamma", positive=True), sp.Symbol("mu", nonnegative=True)
    opt = sgd(exponential(1.0, 0.5), momentum=0.5)
    assert opt.run([1, 1], 0, {eta: 1, gamma: sp.Rational(1, 2), mu: sp.Rational(1, 2)}) == [0, -1, sp.Rational(-7, 4)]


# --- the registry, configs and bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("opt", [
    sgd(0.1, momentum=0.9, nesterov=True, weight_decay=0.01), sgd(0.1, momentum=0.5, dampening=0.2),
    classic_momentum(0.1, 0.8), adagrad(initial_accumulator_value=0.1, lr_decay=0.01), rmsprop(centered=True, momentum=0.9),
    adam(step(0.1, 10)), adamw(cosine(0.01, 100, 1e-4)), nadam(exponential(0.01, 0.99), decoupled_weight_decay=True),
], ids=lambda o: o.name)
def test_a_config_rebuilds_the_same_optimizer(opt):
    config = opt.config()
    rebuilt = optimizer(config["name"], **config["options"], **config["hyperparameters"])
    assert rebuilt.config() == config and rebuilt.bound() == opt.bound()


def test_every_registered_optimizer_prints_and_names():
    assert optimizer_names() == ["adagrad", "adam", "adamw", "classic_momentum", "nadam", "rmsprop", "sgd"]
    for name in optimizer_names():
        assert print_update(optimizer(name), ["W"], get_backend("numpy").printer(), functional=True).write


@pytest.mark.parametrize(("call", "match"), [
    (lambda: sgd(-0.1), r"^lr: expected a finite real number from 0 to 1.8e308, got -0.1$"),
    (lambda: sgd(0.1, momentum=-1), "momentum"),
    (lambda: sgd(0.1, nesterov=True), "Nesterov momentum needs momentum > 0"),
    (lambda: sgd(0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening = 0"),
    (lambda: sgd(0.1, nesterov="yes"), "nesterov: expected True or False"),
    (lambda: adam(betas=(0.9, 1.0)), "beta2: expected a number < 1"),
    (lambda: adam(betas=(0.9,)), "betas: expected a pair"),
    (lambda: adam(eps=float("nan")), "eps: expected a finite real number"),
    (lambda: adamw(weight_decay=-1e-2), "weight_decay"),
    (lambda: rmsprop(alpha=-0.5), "alpha"),
    # α ≥ 1 (torch takes α > 1): v ← αv + (1−α)g² goes negative, √v NaN; α = 1 keeps v = 0, steps of ηg/ε
    (lambda: rmsprop(alpha=1.5), r"^alpha: expected a number < 1, got 1.5$"),
    (lambda: rmsprop(alpha=1.0), r"^alpha: expected a number < 1, got 1.0$"),
    (lambda: nadam(betas=(1.5, 0.999)), r"^beta1: expected a number < 1, got 1.5$"),
    (lambda: optimizer("adam", beta2=-0.1), r"^beta2: expected a number >= 0, got -0.1$"),
    # an Optimizer given new values (optimizer(opt, **values), with_values) checks them as its constructor does
    (lambda: optimizer(sgd(0.1, momentum=0.9), momentum=-1), r"^momentum: expected a number >= 0, got -1$"),
    (lambda: optimizer(adam(), lr=-1e-3), r"^lr: expected a finite real number from 0 to 1.8e308, got -0.001$"),
    (lambda: adam().with_values(beta1=1.0), r"^beta1: expected a number < 1, got 1.0$"),
    (lambda: nadam().with_values(beta2=2), r"^beta2: expected a number < 1, got 2$"),
    (lambda: rmsprop().with_values(alpha=3), r"^alpha: expected a number < 1, got 3$"),
    (lambda: adamw().with_values(weight_decay=-0.1), r"^weight_decay: expected a number >= 0, got -0.1$"),
    (lambda: adam().with_values(eps=-1e-8), r"^eps: expected a number >= 0, got -1e-08$"),
    (lambda: adagrad(lr_decay=-1), "lr_decay"),
    (lambda: nadam(momentum_decay=-1), "momentum_decay"),
    (lambda: step(0.1, 0), "step_size: expected a positive whole number"),
    (lambda: step(0.1, 2.5), "step_size"),
    (lambda: exponential(0.1, 0.0), "gamma: expected a number > 0"),
    (lambda: cosine(0.1, 0), "T_max"),
    (lambda: optimizer("adma"), "did you mean 'adam'"),
    (lambda: optimizer("sgd", betas=(0.9, 0.9)), "optimizer 'sgd'"),
    (lambda: optimizer("sgd", beta1=0.9), "beta1/beta2"),
    (lambda: optimizer("adam", schedule="linear"), "unknown schedule 'linear'"),
    (lambda: optimizer("adam", weightdecay=0.1),
     r"^optimizer 'adam': no hyperparameter 'weightdecay'; did you mean 'weight_decay'\? accepted: lr, betas, eps, weight_decay, beta1"),
    (lambda: optimizer("sgd", amsgrad=True), r"^optimizer 'sgd': no hyperparameter 'amsgrad'; accepted: lr, momentum, dampening"),
    (lambda: optimizer("sgd", T_max=10), r"no hyperparameter 'T_max'; accepted: .*, schedule$"),
])
def test_bad_hyperparameters_give_one_line_value_errors(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


def test_momentum_above_one_is_accepted_as_torch_accepts_it_and_unbound_values_stay_unbound():
    assert sgd(0.1, momentum=2.0).hyperparameter("momentum").value == 2.0  # torch.optim.SGD(momentum=2) too
    assert adam().with_values(beta1=None, lr=None).hyperparameter("beta1").value is None
    assert rmsprop().with_values(alpha=0.5).hyperparameter("alpha").value == 0.5


def test_sgd_and_adam_print_as_before():
    printer = get_backend("numpy").printer()
    classic = print_update(sgd(lr=None), ["W1"], printer, functional=False, keep_step=False)
    assert classic.compute == ("gW1 *= lr",) and classic.write == ("W1 -= gW1",) and classic.arguments == ("lr",)
    code = print_update(adam(0.01), ["W1"], printer, functional=False)
    assert code.compute[-1] == "_sW1 = 0.01*_m_W1*_step0/(numpy.sqrt(_step1*_v_W1) + 1.0e-8)"  # new slot values, new names
    assert code.compute[2] == "_step0 = (1 - 0.90000000000000002**t)**(-1.0)"


# --- symdl verify ---------------------------------------------------------------------------------------------------


def test_the_verify_row_proves_everything_and_catches_the_planted_update(monkeypatch):
    from symdl.verify import optimizers as row

    report = row.verify_optimizer_proofs()
    assert report.passed and len(report.proofs) == 9 and (report.mutants_killed, report.mutants_total) == (1, 1)
    # A checker that no longer sees the missing correction must fail the row.
    blind_results = {**prove_all(), PLANTED: prove_bias_correction().refuted()}
    monkeypatch.setattr(row, "prove_all", lambda: blind_results)
    blind = row.verify_optimizer_proofs()
    assert not blind.passed and blind.mutant_survivors == ["Adam without bias correction"]


def test_the_optimizers_page_runs_as_written():
    import doctest
    from pathlib import Path

    page = Path(__file__).resolve().parent.parent / "docs" / "optimizers.md"
    result = doctest.testfile(str(page), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8 and result.failed == 0


# --- the JAX (functional) and PyTorch printers ----------------------------------------------------------------------


def run_backend(opt, backend: str, seed: int):
    """200 steps of the update printed for ``backend`` (JAX: functional, returns the new values), on its arrays."""
    be = get_backend(backend)
    lib = pytest.importorskip(be.library)
    code = print_update(opt, list(SHAPES), be.printer(), functional=be.functional)
    head = [f"{p} = params[{p!r}]" for p in SHAPES] + [f"g{p} = grads[{p!r}]" for p in SHAPES]
    ret = "{" + ", ".join(f"{k!r}: {v}" for k, v in code.new_state.items()) + "}" if be.functional else "state"
    params_ret = "{" + ", ".join(f"{p!r}: {p}" for p in SHAPES) + "}"
    body = textwrap.indent("\n".join([*head, *code.compute, *code.write, f"return {params_ret}, {ret}"]), "    ")
    namespace: dict = {be.module: lib.numpy if backend == "jax" else lib}
    exec(f"def step(params, grads, state):\n{body}\n", namespace)  # the test's own generated text
    array = (lambda a: lib.numpy.asarray(a)) if backend == "jax" else torch.tensor
    rng = np.random.default_rng(seed + 1000)
    params = {p: rng.standard_normal(shape) for p, shape in SHAPES.items()}
    state = {k: (array(v) if isinstance(v, np.ndarray) else v) for k, v in initial_state(opt, params).items()}
    params = {p: array(v) for p, v in params.items()}
    for grads in gradients(seed):
        params, state = namespace["step"](params, {p: array(g) for p, g in grads.items()}, state)
    return {p: np.asarray(v) for p, v in params.items()}


@pytest.mark.parametrize(("factory", "cls", "kw"), BOUND_CASES, ids=[f"{c}-{i}" for i, (_, c, _) in enumerate(BOUND_CASES)])
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_jax_and_torch_printings_match_torch_optim(backend, factory, cls, kw):
    if backend == "jax":
        jax = pytest.importorskip("jax")
        with jax.enable_x64(True):
            ours = run_backend(factory(**kw), backend, 7)
    else:
        ours = run_backend(factory(**kw), backend, 7)
    assert_same(ours, run_torch(getattr(torch.optim, cls), kw, 7))


@pytest.mark.parametrize(("ours", "theirs"), SCHEDULES, ids=["step", "exponential", "cosine"])
def test_a_math_scalar_printer_lets_torch_print_every_schedule(ours, theirs):
    """torch.cos(t) refuses a Python number: the step's scalars printed with Python's math module instead — and with
    torch's functions where the count is a 0-d tensor on the device (advanced in place: CUDA-graph capturable)."""
    import math

    from symdl.backends.base import emit_functions
    from symdl.backends.runtime_torch import _store

    opt = nadam(ours(0.01))
    backend = get_backend("torch")
    code = print_update(opt, ["W"], backend.printer(), functional=False, backend=backend)
    body = textwrap.indent("\n".join(["W = params['W']", "gW = grads['W']", *code.compute, *code.write]), "    ")
    namespace: dict = {"torch": torch, "math": math}
    exec(emit_functions(_store), namespace)  # the runtime helper as generated modules hold it
    exec(f"def step(params, grads, state):\n{body}\n", namespace)  # the test's own generated text
    if "else:" in code.compute:  # the scalars printed twice: for a count on the device, then (else) for a Python count
        after = code.compute[code.compute.index("else:") + 1:]
        python_count = [line.strip() for line in after[:next(k for k, line in enumerate(after) if not line.startswith(" "))]]
    else:
        python_count = list(code.compute)
    assert any(line.startswith("_step") for line in python_count)
    assert not any("torch." in line for line in python_count if line.startswith("_step"))
    for counts in ("python", "tensor"):
        params = {"W": torch.zeros(3)}
        state = {"t": 0, "mu_product": 1.0, "m_W": torch.zeros(3), "v_W": torch.zeros(3)}
        if counts == "tensor":
            state.update(t=torch.tensor(0), mu_product=torch.tensor(1.0))
        held = state["t"]
        reference = torch.zeros(3, requires_grad=True)
        ref_opt = torch.optim.NAdam([reference], lr=0.01, foreach=False)
        sched = theirs(ref_opt)
        for k in range(60):
            grad = torch.cos(torch.arange(3.0) + k)
            namespace["step"](params, {"W": grad.clone()}, state)
            reference.grad = grad.clone()
            ref_opt.step()
            sched.step()
        # a tensor count: the scalars in float32 (torch's default dtype), not Python's float64
        tolerance = {"rtol": 1e-10, "atol": 1e-13} if counts == "python" else {"rtol": 1e-4, "atol": 1e-6}
        np.testing.assert_allclose(params["W"].numpy(), reference.detach().numpy(), **tolerance)
        assert int(state["t"]) == 60 and (counts == "python" or state["t"] is held)


@pytest.mark.parametrize("opt", [
    *(optimizer(name) for name in optimizer_names()),
    optimizer("adam", lr=cosine(0.1, 10)),
    sgd(step(0.1, 3, 0.5), momentum=0.9, nesterov=True),
    optimizer("rmsprop", centered=True, momentum=0.5),
    sgd(lr=None),
], ids=repr)
def test_the_repr_is_a_call_that_rebuilds_the_optimizer(opt):
    import symdl

    rebuilt = eval(repr(opt), {"symdl": symdl})  # the test evaluates symdl's own repr text
    assert rebuilt.config() == opt.config()
