r"""Exact proofs about the optimizers' updates, each run on the catalogue's own SymPy assignments.

Every proof returns an :class:`OptimizerProof` — the statement, the steps
taken and whether it holds — and every claim comes with a wrong variant that
the same procedure refutes (:func:`prove_all` lists both):

* :func:`prove_bias_correction` — Adam, constant gradient: m_t = (1−β₁ᵗ)g,
  v_t = (1−β₂ᵗ)g² (induction on t), so m̂_t = g, v̂_t = g² and every step is
  η·g/(|g| + ε). Adam without the correction fails it (the planted mistake).
* :func:`prove_momentum_forms` — PyTorch's b ← μb + g, w ← w − ηb equals the
  classic v ← μv − ηg, w ← w + v under ηb = −v (induction, symbolic g); with a
  learning-rate schedule the two forms differ.
* :func:`prove_nesterov` — PyTorch's Nesterov step equals Sutskever's
  look-ahead form under w = θ + μv, v = −ηb.
* :func:`prove_weight_decay` — an L2 penalty (λ/2)‖w‖² in the loss is SGD's
  ``weight_decay = λ`` and the decoupled decay w ← (1 − ηλ)w − ηg; PyTorch's
  Adam ``weight_decay`` is that L2 penalty, which is **not** AdamW's decoupled
  decay for any λ′ (exact counterexample); AdamW is w(1 − ηλ) minus Adam's step.
* :func:`prove_reductions` — momentum with μ = 0 is SGD (not with dampening);
  Adam and Nadam with β₁ = β₂ = 0 take the step η·g/(|g| + ε), which is not SGD.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

import sympy as sp

from .adaptive import BETA1, BETA2, adam, adamw, nadam
from .base import ETA, G, Optimizer, Slot, T, W
from .catalogue import EPSILON, LAMBDA, MU, TAU, B, M, V, build, classic_momentum, sgd
from .schedules import GAMMA, exponential

__all__ = [
    "PLANTED", "OptimizerProof", "adam_without_bias_correction", "prove_all", "prove_bias_correction", "prove_momentum_forms",
    "prove_nesterov", "prove_reductions", "prove_weight_decay",
]

N = sp.Symbol("n", integer=True, positive=True)
#: The label of the planted mistake in :func:`prove_all` (Adam without bias correction, which must be caught).
PLANTED = "Adam without bias correction: caught"


@dataclass(frozen=True)
class OptimizerProof:
    """A claim about optimizer updates: its statement, the steps of the proof (or the counterexample), whether it holds."""

    statement: str
    steps: tuple[str, ...]
    holds: bool

    def __bool__(self) -> bool:
        return self.holds

    def refuted(self) -> OptimizerProof:
        """The claim that this one is false (holds when this one does not): how a wrong variant is reported."""
        return OptimizerProof(f"refuted: {self.statement}", self.steps, not self.holds)


def _nonzero_somewhere(expr: sp.Expr) -> bool:
    """``expr`` is clearly not 0 at a rational point (integers for integer symbols): a quick refutation before simplify."""
    point = {s: sp.Integer(2 + i) if s.is_integer else sp.Rational(3 + 2 * i, 7)
             for i, s in enumerate(sorted(expr.free_symbols, key=str))}
    value = sp.N(expr.xreplace(point), 30)
    return bool(value.is_number and value.is_finite and abs(value) > 1e-20)


def _zero(expr: sp.Expr) -> bool:
    """``expr`` ≡ 0 exactly: expanded to 0, or (unless a rational point shows it is not) simplified to 0."""
    expanded = sp.expand(expr)
    return expanded == 0 or (not _nonzero_somewhere(expanded) and sp.simplify(expanded) == 0)


def _state(opt: Optimizer, **slots: sp.Expr) -> dict[sp.Symbol, sp.Expr]:
    """A symbolic state of ``opt``: each slot its own symbol unless given (``t=n - 1``, ``m=…``)."""
    return {s.symbol: slots.get(s.name, s.symbol) for s in opt.slots}


# --- Adam's bias correction -----------------------------------------------------------------------------------------


def adam_without_bias_correction() -> Optimizer:
    """The planted mistake: Adam with w ← w − η·m/(√v + ε), m and v not divided by 1 − βᵗ."""
    base = adam()
    update = (*base.update[:-1], (W, W - ETA * M / (sp.sqrt(V) + EPSILON)))
    return build("adam_without_bias_correction", 1e-3, base.hyperparameters[1:], (Slot(M), Slot(V)), update)


def prove_bias_correction(opt: Optimizer | None = None) -> OptimizerProof:
    """For a constant gradient g, m_t = (1−β₁ᵗ)g and v_t = (1−β₂ᵗ)g², so every step of ``opt`` (Adam) is η·g/(|g|+ε)."""
    opt = adam() if opt is None else opt
    closed_m = lambda k: (1 - BETA1**k) * G  # noqa: E731
    closed_v = lambda k: (1 - BETA2**k) * G**2  # noqa: E731
    statement = (f"{opt.name}, constant gradient g: m_t = (1-beta1^t) g, v_t = (1-beta2^t) g^2, hence m_hat_t = g, "
                 "v_hat_t = g^2 and w_t - w_(t-1) = -eta g/(|g| + eps) at every t >= 1")
    init = opt.initial_state()
    base = _zero(init[M] - closed_m(0)) and _zero(init[V] - closed_v(0))
    steps = [f"base t = 0: m_0 = {init[M]}, v_0 = {init[V]} = (1-beta^0)(...): {'holds' if base else 'fails'}"]
    before = _state(opt, t=N - 1, m=closed_m(N - 1), v=closed_v(N - 1))
    after, w_new = opt.step(before, W, G)
    induction = after[T] == N and _zero(after[M] - closed_m(N)) and _zero(after[V] - closed_v(N))
    steps.append(f"step t-1 -> t (symbolic t, beta1, beta2, g): m_t = {sp.factor(after[M])}, "
                 f"v_t = {sp.factor(after[V])}: {'holds' if induction else 'fails'}")
    unbiased = ETA * G / (sp.Abs(G) + EPSILON)
    unchanged = _zero((W - w_new) - unbiased)
    steps.append(f"the step with m_t, v_t put in: w_(t-1) - w_t = {W - w_new}: "
                 f"{'= eta g/(|g|+eps)' if unchanged else 'not eta g/(|g|+eps)'}")
    if not unchanged:
        point = {N: 1, BETA1: sp.Rational(1, 2), BETA2: sp.Rational(15, 16), G: 1, ETA: 1, EPSILON: sp.Rational(1, 100)}
        steps.append(f"counterexample t=1, beta1=1/2, beta2=15/16, g=1, eta=1, eps=1/100: step = "
                     f"{sp.nsimplify((W - w_new).xreplace(point))}, not {unbiased.xreplace(point)}")
    return OptimizerProof(statement, tuple(steps), base and induction and unchanged)


# --- momentum: PyTorch's form and the classic form ------------------------------------------------------------------


def prove_momentum_forms(pytorch: Optimizer | None = None, classic: Optimizer | None = None) -> OptimizerProof:
    """PyTorch's b ← μb + g, w ← w − ηb equals the classic v ← μv − ηg, w ← w + v under ηₜ·bₜ = −vₜ (induction on t).

    Holds for a constant η; with a schedule (pass optimizers with one) the
    step fails and an exact two-step run is the counterexample.
    """
    pytorch = sgd(0.1, momentum=0.9) if pytorch is None else pytorch
    classic = classic_momentum(0.1, 0.9) if classic is None else classic
    eta = lambda opt, k: opt.learning_rate.xreplace({T: k})  # noqa: E731
    statement = (f"{pytorch.name} (b <- mu b + g, w <- w - eta b) equals {classic.name} (v <- mu v - eta g, w <- w + v) "
                 f"with eta_t b_t = -v_t, eta_t = {pytorch.learning_rate}, for every gradient sequence")
    steps = ["base t = 0: b_0 = v_0 = 0 and the same w_0, so eta b_0 = -v_0"]
    b = sp.Symbol("b", real=True)
    torch_state, torch_w = pytorch.step(_state(pytorch, t=N - 1, b=b), W, G)
    classic_state, classic_w = classic.step(_state(classic, t=N - 1, v=-eta(classic, N - 1) * b), W, G)
    velocity = _zero(eta(pytorch, N) * torch_state[B] + classic_state[V])
    same_w = _zero(torch_w - classic_w)
    steps.append(f"step t-1 -> t (symbolic g, b_(t-1), mu, t): eta_t b_t + v_t = "
                 f"{sp.simplify(eta(pytorch, N) * torch_state[B] + classic_state[V])}, w_t - w_t' = {sp.simplify(torch_w - classic_w)}")
    holds = velocity and same_w
    if not holds:
        values = {ETA: 1, MU: sp.Rational(1, 2), GAMMA: sp.Rational(1, 2)}
        runs = [opt.run([1, 1], 0, values)[-1] for opt in (pytorch, classic)]
        steps.append(f"counterexample eta=1, mu=1/2, gamma=1/2, w_0=0, g=(1, 1): w_2 = {runs[0]} vs {runs[1]}")
    return OptimizerProof(statement, tuple(steps), holds)


# --- Nesterov -------------------------------------------------------------------------------------------------------


def _sutskever_nesterov(theta: sp.Expr, v: sp.Expr, grad: Callable[[sp.Expr], sp.Expr]) -> tuple[sp.Expr, sp.Expr]:
    """One step of Sutskever et al. (2013), eq. (3)-(4): v ← μv − η∇f(θ + μv), θ ← θ + v."""
    v_new = MU * v - ETA * grad(theta + MU * v)
    return theta + v_new, v_new


def prove_nesterov(shift: sp.Expr = MU) -> OptimizerProof:
    """PyTorch's Nesterov SGD equals Sutskever's look-ahead form under w = θ + μv (the look-ahead point), v = −ηb.

    ``shift`` replaces μ in w = θ + shift·v (0: no look-ahead, the wrong variant).
    """
    pytorch = sgd(0.1, momentum=0.9, nesterov=True)
    f_prime = sp.Function("f_prime", real=True)
    statement = (f"sgd(nesterov=True) (b <- mu b + g(w), w <- w - eta (g(w) + mu b)) equals Sutskever's look-ahead "
                 f"(v <- mu v - eta f'(theta + mu v), theta <- theta + v) with w = theta + {shift} v, v = -eta b")
    steps = [f"base t = 0: b_0 = v_0 = 0, w_0 = theta_0 + {shift}*0"]
    b = sp.Symbol("b", real=True)
    v = -ETA * b
    theta = W - shift * v
    state, w_new = pytorch.step(_state(pytorch, t=N - 1, b=b), W, f_prime(W))
    theta_new, v_new = _sutskever_nesterov(theta, v, f_prime)
    gaps = (sp.expand(w_new - (theta_new + shift * v_new)), sp.expand(v_new + ETA * state[B]))
    holds = all(_zero(gap) for gap in gaps)
    steps.append(f"step t-1 -> t (arbitrary f', symbolic mu, eta, b): w_t - (theta_t + {shift} v_t) = {sp.simplify(gaps[0])}, "
                 f"v_t + eta b_t = {sp.simplify(gaps[1])}")
    if not holds:
        point = {ETA: sp.Rational(1, 10), MU: sp.Rational(1, 2)}
        w, theta_k, v_k, state = sp.S.One, sp.S.One, sp.S.Zero, pytorch.initial_state()
        for _ in range(2):
            state, w = pytorch.step(state, w, w, point)
            theta_k, v_k = _sutskever_nesterov(theta_k, v_k, lambda x: x)
            theta_k, v_k = theta_k.xreplace(point), v_k.xreplace(point)
        steps.append(f"counterexample f(x) = x^2/2, w_0 = 1, eta = 1/10, mu = 1/2: w_2 = {w}, "
                     f"theta_2 + {shift.xreplace(point)} v_2 = {theta_k + shift.xreplace(point) * v_k}")
    return OptimizerProof(statement, tuple(steps), holds)


# --- weight decay ---------------------------------------------------------------------------------------------------


def _same_step(a: Optimizer, b: Optimizer, grad_b: sp.Expr, transform: Callable[[sp.Expr, sp.Expr], sp.Expr] | None = None,
               values: Mapping[sp.Symbol, sp.Expr] | None = None) -> bool:
    """From the same arbitrary state: ``a`` on g and ``b`` on ``grad_b`` give the same state and the same w
    (``transform(w, w_b)`` maps b's new w first) — so by induction the same trajectory."""
    state = _state(a, t=N - 1)
    sa, wa = a.step(state, W, G, values)
    sb, wb = b.step(state, W, grad_b, values)
    wb = transform(W, wb) if transform else wb
    return all(_zero(sa[s] - sb[s]) for s in sa) and _zero(wa - wb)


def prove_weight_decay(adam_equals_decoupled: bool = False) -> OptimizerProof:
    """L2 penalty (λ/2)‖w‖² ≡ SGD ``weight_decay = λ`` ≡ decoupled decay; for Adam the L2 penalty is not AdamW's decay.

    ``adam_equals_decoupled``: claim the wrong variant instead (Adam + L2 ≡
    decoupled decay), which the exact counterexample refutes.
    """
    l2 = G + LAMBDA * W  # the gradient of C + (λ/2)‖w‖²
    checks = {
        "SGD: weight_decay=lambda on g == plain SGD on g + lambda w (the L2 penalty's gradient)":
            _same_step(sgd(0.1, weight_decay=0.1), sgd(0.1), l2),
        "SGD with momentum: weight_decay=lambda == momentum SGD on g + lambda w":
            _same_step(sgd(0.1, momentum=0.9, weight_decay=0.1), sgd(0.1, momentum=0.9), l2),
        "SGD: L2 step w - eta (g + lambda w) == decoupled (1 - eta lambda) w - eta g":
            _zero(sgd(0.1).step(_state(sgd(0.1)), W, l2)[1] - ((1 - ETA * LAMBDA) * W - ETA * G)),
        "Adam: torch's weight_decay=lambda == Adam on g + lambda w (L2, not decoupled)":
            _same_step(adam(weight_decay=0.1), adam(), l2),
        "AdamW: w_t == (1 - eta lambda) w_(t-1) - (Adam's step), same m and v":
            _same_step(adamw(), adam(), G, lambda w, wb: wb - ETA * LAMBDA * w),
    }
    steps = [f"{label}: {'holds' if ok else 'fails'} (one step from an arbitrary state; induction on t)"
             for label, ok in checks.items()]
    # Adam + L2 with any λ′ ≥ 0 against AdamW, first step at ε = 0, w = 1, g = 1, η = 1/10, λ = 1.
    lam_prime = sp.Symbol("lambda_prime", nonnegative=True)
    point = {ETA: sp.Rational(1, 10), EPSILON: 0, LAMBDA: 1}
    first = {s.symbol: s.init for s in adam().slots}
    adam_l2 = adam().step(first, sp.S.One, 1 + lam_prime, point)[1]
    decoupled = adamw().step(first, sp.S.One, sp.S.One, point)[1]
    equal_at = sp.solveset(sp.simplify(adam_l2 - decoupled), lam_prime, sp.S.Reals).intersect(sp.Interval(0, sp.oo))
    differ = equal_at == sp.S.EmptySet
    steps.append(f"Adam + L2 (lambda' >= 0, any beta1, beta2) vs AdamW (lambda = 1), first step at w=1, g=1, eta=1/10, "
                 f"eps=0: w_1 = {adam_l2} vs {decoupled}: {'no lambda prime gives AdamW' if differ else 'equal for some lambda prime'}")
    if adam_equals_decoupled:
        statement = "Adam with an L2 penalty (lambda'/2)||w||^2 equals AdamW's decoupled weight decay for some lambda'"
        return OptimizerProof(statement, tuple(steps), all(checks.values()) and not differ)
    statement = ("an L2 penalty (lambda/2)||w||^2 equals SGD's weight_decay = lambda and the decoupled decay "
                 "w <- (1 - eta lambda) w - eta g; torch's Adam weight_decay is that L2 penalty, which is not AdamW's "
                 "decoupled decay for any lambda'; AdamW is (1 - eta lambda) w minus Adam's step")
    return OptimizerProof(statement, tuple(steps), all(checks.values()) and differ)


# --- reductions -----------------------------------------------------------------------------------------------------


def prove_reductions(dampening: bool = False) -> OptimizerProof:
    """Momentum with μ = 0 is SGD; Adam and Nadam with β₁ = β₂ = 0 step by η·g/(|g| + ε) (which is not SGD's ηg).

    ``dampening``: claim the wrong variant that SGD with μ = 0 and τ ≠ 0
    still reduces to SGD (PyTorch scales g by 1 − τ from the second step).
    """
    plain = sgd(0.1)
    momentum = sgd(0.1, momentum=0.9, dampening=0.5) if dampening else sgd(0.1, momentum=0.9)
    at_zero = {MU: 0}
    checks = {
        f"sgd(momentum=mu{', dampening=tau' if dampening else ''}) at mu = 0 == sgd, any b, any t":
            _zero(momentum.step(_state(momentum, t=N), W, G, at_zero)[1] - plain.step(_state(plain, t=N), W, G)[1]),
        "classic momentum at mu = 0 == sgd":
            _zero(classic_momentum().step(_state(classic_momentum()), W, G, at_zero)[1] - (W - ETA * G)),
    }
    sign_step = W - ETA * G / (sp.Abs(G) + EPSILON)
    for opt in (adam(), nadam()):
        checks[f"{opt.name} at beta1 = beta2 = 0 steps by eta g/(|g| + eps), any m, v, t >= 1"] = _zero(
            opt.step(_state(opt, t=N - 1), W, G, {BETA1: 0, BETA2: 0})[1] - sign_step)
    steps = [f"{label}: {'holds' if ok else 'fails'}" for label, ok in checks.items()]
    if dampening:
        point = {ETA: 1, MU: 0, TAU: sp.Rational(1, 2)}
        w2 = momentum.run([1, 1], 0, point)[-1]
        steps.append(f"counterexample eta=1, mu=0, tau=1/2, g=(1, 1): w_2 = {w2}, SGD gives -2 (from t=2 the step is eta (1-tau) g)")
    not_sgd = sp.simplify(sign_step - (W - ETA * G)) != 0
    steps.append(f"Adam at beta1 = beta2 = 0 is not SGD: eta g/(|g|+eps) - eta g = {sp.simplify(ETA * G - ETA * G / (sp.Abs(G) + EPSILON))}")
    statement = (f"momentum with mu = 0{' and dampening tau' if dampening else ''} reduces to SGD; Adam and Nadam with "
                 "beta1 = beta2 = 0 reduce to w <- w - eta g/(|g| + eps), not to SGD")
    return OptimizerProof(statement, tuple(steps), all(checks.values()) and not_sgd)


def prove_all() -> dict[str, OptimizerProof]:
    """Every optimizer proof and the refutation of its wrong variant, by label (computed once per process)."""
    return dict(_prove_all())


@cache
def _prove_all() -> dict[str, OptimizerProof]:
    scheduled = exponential(1.0, 0.5)
    return {
        "Adam bias correction: m_hat = g, v_hat = g^2 for a constant g": prove_bias_correction(),
        PLANTED: prove_bias_correction(adam_without_bias_correction()).refuted(),
        "PyTorch momentum == classic momentum (eta b = -v)": prove_momentum_forms(),
        "with a schedule the two momentum forms differ": prove_momentum_forms(
            sgd(scheduled, momentum=0.9), classic_momentum(scheduled, 0.9)).refuted(),
        "PyTorch Nesterov == Sutskever look-ahead (w = theta + mu v)": prove_nesterov(),
        "Nesterov without the look-ahead shift (w = theta): refuted": prove_nesterov(sp.S.Zero).refuted(),
        "L2 penalty == weight decay for SGD, not for Adam; AdamW decoupled": prove_weight_decay(),
        "Adam + L2 == decoupled decay: refuted": prove_weight_decay(adam_equals_decoupled=True).refuted(),
        "mu = 0 momentum is SGD; beta1 = beta2 = 0 Adam/Nadam is eta g/(|g|+eps)": prove_reductions(),
        "mu = 0 with dampening is SGD: refuted": prove_reductions(dampening=True).refuted(),
    }
