"""A streaming metric as mathematics: state slots sₖ, the update sₖ ← sₖ + Σᵢ wᵢ·fₖ(yᵢ, ŷᵢ) and a result R(s).

Every metric symdl knows is a sum of per-sample terms (Keras' ``Mean``,
``MeanAbsoluteError``, ``Precision`` … are too): its state is a few running
sums, each batch adds the batch sum of one SymPy expression of a sample's
target y and prediction ŷ (weighted by the sample weight w, 1 when none is
given), and the result is a SymPy expression of the state alone. Because the
update only adds, the state after a stream of batches is the state of their
concatenation — the property :mod:`symdl.metrics.proofs` proves and that
makes the streamed value exact (averaging per-batch results is not).

A result that divides by a slot is 0 while that slot is 0 (Keras'
``divide_no_nan``): :func:`ratio` states it as a ``Piecewise``, and
:func:`code_form` rewrites the division so that the printed code never
divides by zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import sympy as sp

from ..excerpt import excerpt
from ..numbers import finite_float

__all__ = ["A", "V", "W", "Y", "Accumulator", "MetricSpec", "code_form", "ratio"]

#: A sample's target y, its prediction ŷ (printed ``a``, as the losses of symdl.rulebook.losses), a value v, a weight w.
Y = sp.Symbol("y", real=True)
A = sp.Symbol("a", real=True)
V = sp.Symbol("v", real=True)
W = sp.Symbol("w", real=True)


def ratio(numerator: sp.Expr, denominator: sp.Expr) -> sp.Expr:
    """n/d, and 0 where d = 0 (Keras' ``divide_no_nan``: a metric of no samples is 0)."""
    return sp.Piecewise((sp.S.Zero, sp.Eq(denominator, 0)), (numerator / denominator, True))


def code_form(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every :func:`ratio` n/d as n/(1 if d = 0 else d): the same value, printed with no division by zero.

    Where d ≠ 0 the new denominator is d; where d = 0 the ratio's own branch gives 0 (proven in
    :func:`symdl.metrics.proofs.code_form_is_exact`).
    """

    def safe(piecewise: sp.Piecewise) -> sp.Expr:
        (zero, guard), (value, _) = piecewise.args
        d = guard.lhs
        numerator = value * d  # SymPy collects d·d⁻¹ = 1
        if numerator.has(1 / d):
            raise ValueError(f"code_form: {value} is not a multiple of 1/({d})")
        denominator = sp.Pow(sp.Piecewise((1, guard), (d, True)), -1, evaluate=False)  # a Pow would enter the Piecewise
        return sp.Piecewise((zero, guard), (sp.Mul(numerator, denominator, evaluate=False), True))

    def is_ratio(e: sp.Basic) -> bool:
        return (isinstance(e, sp.Piecewise) and len(e.args) == 2 and e.args[0][0] == 0
                and isinstance(e.args[0][1], sp.Eq) and e.args[0][1].rhs == 0 and e.args[1][1] == sp.true)

    return expr.replace(is_ratio, safe)


@dataclass(frozen=True)
class Accumulator:
    """One state slot s: s ← s + Σᵢ wᵢ·term(yᵢ, ŷᵢ) each batch, starting from ``init``."""

    symbol: sp.Symbol
    term: sp.Expr
    init: sp.Expr = sp.S.Zero

    @property
    def name(self) -> str:
        """The slot's key in the state dict (Keras' variable name: ``total``, ``true_positives``)."""
        return self.symbol.name


def _number(name: str, value: object) -> float:
    x = finite_float(value)
    if x is None:
        raise ValueError(f"{name}: expected a finite real number, got {excerpt(value)}")
    return x


@dataclass(frozen=True)
class MetricSpec:
    """What a streaming metric is: its slots (:class:`Accumulator`), its per-sample inputs and its result R(s).

    ``inputs`` pairs each argument name of ``update_state`` with its symbol
    (``("y_true", Y), ("y_pred", A)``, or ``("values", V)`` for a mean).
    ``argmax``: the inputs are rows of class scores, reduced to the index of
    their largest entry (the first on ties) before the terms see them.
    ``binary_labels``: y must be 0 or 1.
    """

    kind: str
    title: str
    inputs: tuple[tuple[str, sp.Symbol], ...]
    accumulators: tuple[Accumulator, ...]
    result: sp.Expr
    params: Mapping[str, float] = field(default_factory=dict)
    argmax: bool = False
    binary_labels: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", {k: _number(f"{self.kind}: {k}", v) for k, v in dict(self.params).items()})
        names = [acc.name for acc in self.accumulators]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"{self.kind}: the state slots must be distinct and at least one, got {names}")
        symbols = {s for _, s in self.inputs}
        for acc in self.accumulators:
            if not acc.term.free_symbols <= symbols:
                raise ValueError(f"{self.kind}: the term of {acc.name} uses {acc.term.free_symbols - symbols}")
        if not self.result.free_symbols <= set(self.slots):
            raise ValueError(f"{self.kind}: the result uses symbols other than the state: {self.result.free_symbols}")

    def __hash__(self) -> int:
        return hash((self.kind, tuple(sorted(self.params.items()))))

    @property
    def slots(self) -> tuple[sp.Symbol, ...]:
        """The state symbols, in order."""
        return tuple(acc.symbol for acc in self.accumulators)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.inputs)

    def batch_sum(self, acc: Accumulator) -> sp.Symbol:
        """S_s: the symbol of Σᵢ wᵢ·term over one batch, as the update reads it."""
        return sp.Symbol(f"S_{acc.name}", real=True)

    def update(self) -> tuple[tuple[sp.Symbol, sp.Expr], ...]:
        """The update as assignments s ← s + S_s (S_s the batch sum of s's term)."""
        return tuple((acc.symbol, acc.symbol + self.batch_sum(acc)) for acc in self.accumulators)

    def initial_state(self) -> dict[sp.Symbol, sp.Expr]:
        """Every slot's value before the first batch."""
        return {acc.symbol: acc.init for acc in self.accumulators}

    def step(self, state: Mapping[sp.Symbol, sp.Expr], sums: Mapping[sp.Symbol, sp.Expr]) -> dict[sp.Symbol, sp.Expr]:
        """The state after one batch whose batch sums S_s are ``sums`` (keyed by slot symbol), on SymPy values."""
        env = {**{self.batch_sum(acc): sums[acc.symbol] for acc in self.accumulators}, **state}
        return {target: expr.xreplace(env) for target, expr in self.update()}

    def batch_sums(self, samples: Sequence[Mapping[sp.Symbol, sp.Expr]],
                   weights: Sequence[sp.Expr] | None = None) -> dict[sp.Symbol, sp.Expr]:
        """Σᵢ wᵢ·term(sampleᵢ) of every slot, exactly, for samples given as {input symbol: value}."""
        ws = [sp.S.One] * len(samples) if weights is None else list(weights)
        return {acc.symbol: sp.Add(*(w * acc.term.xreplace(dict(s)) for w, s in zip(ws, samples)))
                for acc in self.accumulators}

    def value(self, state: Mapping[sp.Symbol, sp.Expr]) -> sp.Expr:
        """R(state): the metric's result for a state, exactly."""
        return self.result.xreplace(dict(state))

    def equations(self) -> list[sp.Eq]:
        """The update and the result as equations: s′ = s + Σᵢ wᵢ·fₛ(yᵢ, ŷᵢ) for each slot, then R = result."""
        i = sp.Symbol("i", integer=True)
        eqs = []
        for acc in self.accumulators:
            term = acc.term.xreplace({s: sp.Indexed(sp.IndexedBase(s.name), i) for _, s in self.inputs})
            weighted = sp.Indexed(sp.IndexedBase("w"), i) * term
            eqs.append(sp.Eq(sp.Symbol(acc.name + "'"), acc.symbol + sp.Sum(weighted, (i, 1, sp.Symbol("n"))), evaluate=False))
        eqs.append(sp.Eq(sp.Symbol(self.kind), self.result, evaluate=False))
        return eqs
