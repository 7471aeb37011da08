"""The rules ``symdl list`` shows in a fresh process, generated from the registry (so that listing imports no SymPy).

With them the ``--backend`` and ``--kink-convention`` choices, so that the parser (``--help``, shell completion)
imports no SymPy either.

Regenerate with ``python -m symdl.cli.rule_table`` after adding or changing a
rule; ``tests/test_cli_fast.py`` fails while :data:`RULES` differs from
:func:`registry_entries`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BACKENDS", "KINK_CONVENTIONS", "REDUCTIONS", "RULES", "registry_entries", "source"]


def registry_entries() -> list[dict]:
    """Every registered rule as ``symdl list --json`` prints it (this imports the registry, and SymPy)."""
    from ..rulebook.registry import rule_params, rule_summary, rules

    return [
        {
            "name": name,
            "kind": kind,
            "params": [
                {"name": p.name, "default": p.default, "description": p.description, "positive": p.positive}
                for p in rule_params(name)
            ],
            "summary": rule_summary(name),
        }
        for name, kind in rules().items()
    ]


def source() -> str:
    """This module's text with :data:`RULES` from the registry."""
    text = Path(__file__).read_text(encoding="utf-8")
    head = text[: text.index(_MARK)]
    import pprint

    from ..backends import backend_names
    from ..rulebook.definition import KINK_CONVENTIONS as conventions
    from ..rulebook.reductions import REDUCTIONS

    table = pprint.pformat(registry_entries(), width=116, sort_dicts=False)
    return (f"{head}{_MARK}\nBACKENDS: tuple[str, ...] = {backend_names()!r}\n"
            f"KINK_CONVENTIONS: tuple[str, ...] = {tuple(conventions)!r}\nREDUCTIONS: tuple[str, ...] = {REDUCTIONS!r}\n"
            f"RULES: list[dict] = {table}\n")


_MARK = "# --- generated below" + ": python -m symdl.cli.rule_table ---"  # split: the mark appears once

if __name__ == "__main__":
    Path(__file__).write_text(source(), encoding="utf-8")

# --- generated below: python -m symdl.cli.rule_table ---
BACKENDS: tuple[str, ...] = ('numpy', 'jax', 'torch')
KINK_CONVENTIONS: tuple[str, ...] = ('pytorch', 'left', 'right', 'average')
REDUCTIONS: tuple[str, ...] = ('symdl', 'mean', 'sum')
RULES: list[dict] = [{'name': 'softmax',
  'kind': 'activation',
  'params': [],
  'summary': 's_i = e^{z_i} / Σ_j e^{z_j}; ∂s_i/∂z_k = s_i(δ_ik − s_k), VJP s ⊙ (v − ⟨v, s⟩).'},
 {'name': 'softmin',
  'kind': 'activation',
  'params': [],
  'summary': "s_i = e^{−z_i} / Σ_j e^{−z_j} = softmax(−z)_i (PyTorch's softmin); ∂s_i/∂z_k = −s_i(δ_ik − s_k)."},
 {'name': 'log_softmax',
  'kind': 'activation',
  'params': [],
  'summary': 'ℓ_i = z_i − log Σ_j e^{z_j}; ∂ℓ_i/∂z_k = δ_ik − s_k (s = softmax z), VJP v − s Σ_q v_q.'},
 {'name': 'sparsemax',
  'kind': 'activation',
  'params': [],
  'summary': "p_i = max(z_i − τ(z), 0) with Σ_j p_j = 1 (Keras' sparsemax); ∂p_i/∂z_k = s_i δ_ik − s_i s_k/|S|, s "
             '= [z > τ].'},
 {'name': 'maxout',
  'kind': 'activation',
  'params': [],
  'summary': 'h = max_j z_j over the n affine pieces z_j = w_j·x + b_j; ∂h/∂z_j = 1 for the arg-max piece, else '
             '0.'},
 {'name': 'rbf',
  'kind': 'activation',
  'params': [],
  'summary': 'h_i = exp(−‖W_{:,i} − x‖² / σ_i²); gradients by x, W and σ.'},
 {'name': 'identity', 'kind': 'activation', 'params': [], 'summary': "g(z) = z (linear); g'(z) = 1."},
 {'name': 'relu', 'kind': 'activation', 'params': [], 'summary': "g(z) = max(0, z); g'(z) = [z > 0], g'(0) = 0."},
 {'name': 'abs',
  'kind': 'activation',
  'params': [],
  'summary': "g(z) = |z| = max(0, z) − min(0, z) (leaky_relu with α = −1); g'(z) = sign z, g'(0) = 0."},
 {'name': 'leaky_relu',
  'kind': 'activation',
  'params': [{'name': 'alpha', 'default': 0.01, 'description': 'slope for z < 0', 'positive': False}],
  'summary': "g(z) = max(0, z) + α·min(0, z); g'(z) = α for z ≤ 0, 1 for z > 0."},
 {'name': 'prelu',
  'kind': 'activation',
  'params': [],
  'summary': 'g(z, α) = max(0, z) + α·min(0, z) with α learned; ∂g/∂α = min(0, z).'},
 {'name': 'sigmoid', 'kind': 'activation', 'params': [], 'summary': "g(z) = 1/(1 + e^{−z}); g' = g(1 − g)."},
 {'name': 'tanh', 'kind': 'activation', 'params': [], 'summary': "g(z) = tanh z; g' = 1 − g²."},
 {'name': 'softplus', 'kind': 'activation', 'params': [], 'summary': "g(z) = log(1 + e^{z}); g' = σ(z)."},
 {'name': 'hard_tanh',
  'kind': 'activation',
  'params': [],
  'summary': "g(z) = max(−1, min(1, z)); g'(z) = 1 for |z| < 1, else 0 (g'(±1) = 0)."},
 {'name': 'elu',
  'kind': 'activation',
  'params': [{'name': 'alpha', 'default': 1.0, 'description': 'scale of the negative part', 'positive': False}],
  'summary': "g(z) = z for z > 0, α(e^z − 1) for z ≤ 0; g' = 1 for z > 0, g + α for z ≤ 0."},
 {'name': 'selu',
  'kind': 'activation',
  'params': [],
  'summary': 'g(z) = λ·elu(z; α) with λ ≈ 1.0507, α ≈ 1.6733 (self-normalising constants).'},
 {'name': 'exponential', 'kind': 'activation', 'params': [], 'summary': "g(z) = e^z; g' = g."},
 {'name': 'squareplus',
  'kind': 'activation',
  'params': [{'name': 'b', 'default': 4.0, 'description': 'smoothness near 0 (b = 0 is ReLU)', 'positive': True}],
  'summary': "g(z; b) = (z + √(z² + b))/2; g' = (1 + z/√(z² + b))/2."},
 {'name': 'sparse_plus',
  'kind': 'activation',
  'params': [],
  'summary': "g(z) = 0 for z ≤ −1, (z + 1)²/4 for −1 < z < 1, z for z ≥ 1; g' = 0, (z + 1)/2, 1 (continuous)."},
 {'name': 'gelu',
  'kind': 'activation',
  'params': [],
  'summary': "g(z) = z·Φ(z), Φ the standard normal CDF; g' = Φ(z) + z·φ(z), φ(z) = e^{−z²/2}/√(2π)."},
 {'name': 'silu',
  'kind': 'activation',
  'params': [],
  'summary': "g(z) = z·σ(z) (swish with β = 1); g' = σ(z)(1 + z(1 − σ(z)))."},
 {'name': 'swish',
  'kind': 'activation',
  'params': [{'name': 'beta', 'default': 1.0, 'description': 'slope inside the sigmoid', 'positive': False}],
  'summary': "g(z; β) = z·σ(βz); g' = σ(βz)(1 + βz(1 − σ(βz)))."},
 {'name': 'softsign', 'kind': 'activation', 'params': [], 'summary': "g(z) = z/(1 + |z|); g' = 1/(1 + |z|)²."},
 {'name': 'log_sigmoid',
  'kind': 'activation',
  'params': [],
  'summary': "g(z) = log σ(z) = −softplus(−z); g' = σ(−z) = 1 − σ(z)."},
 {'name': 'relu6',
  'kind': 'activation',
  'params': [],
  'summary': "g(z) = min(max(0, z), 6); g'(z) = 1 for 0 < z < 6, else 0 (g'(0) = g'(6) = 0)."},
 {'name': 'mish',
  'kind': 'activation',
  'params': [],
  'summary': "g(z) = z·tanh(softplus(z)) (Misra 2019); g' = tanh(softplus z) + z·σ(z)·(1 − tanh²(softplus z))."},
 {'name': 'hard_sigmoid',
  'kind': 'activation',
  'params': [],
  'summary': "g(z) = relu6(z + 3)/6 (PyTorch's hardsigmoid); g' = 1/6 for −3 < z < 3, else 0 (g'(±3) = 0)."},
 {'name': 'hard_swish',
  'kind': 'activation',
  'params': [],
  'summary': "g(z) = z·relu6(z + 3)/6 (Howard et al. 2019, PyTorch's hardswish); g' = 0, (2z + 3)/6, 1 below −3, "
             'between, above 3.'},
 {'name': 'celu',
  'kind': 'activation',
  'params': [{'name': 'alpha', 'default': 1.0, 'description': 'scale of the negative part', 'positive': True}],
  'summary': "g(z; α) = max(0, z) + min(0, α(e^{z/α} − 1)) (Barron 2017); g' = 1 for z > 0, e^{z/α} for z ≤ 0."},
 {'name': 'gelu_tanh',
  'kind': 'activation',
  'params': [],
  'summary': "g(z) = z/2·(1 + tanh u), u = √(2/π)(z + 0.044715z³); g' = (1 + tanh u)/2 + z/2·(1 − tanh² u)·u'."},
 {'name': 'softshrink',
  'kind': 'activation',
  'params': [{'name': 'lambd', 'default': 0.5, 'description': 'half-width of the dead zone', 'positive': True}],
  'summary': "g(z) = z − λ for z > λ, z + λ for z < −λ, else 0; g' = 1 for |z| > λ, else 0 (g'(±λ) = 0)."},
 {'name': 'hardshrink',
  'kind': 'activation',
  'params': [{'name': 'lambd', 'default': 0.5, 'description': 'half-width of the dead zone', 'positive': True}],
  'summary': "g(z) = z for |z| > λ, else 0 (jumps by ±λ at ±λ); g' = 1 for |z| > λ, else 0 (g'(±λ) = 0)."},
 {'name': 'tanhshrink', 'kind': 'activation', 'params': [], 'summary': "g(z) = z − tanh z; g' = tanh² z."},
 {'name': 'threshold',
  'kind': 'activation',
  'params': [{'name': 'threshold', 'default': 0.0, 'description': 'inputs above it pass', 'positive': False},
             {'name': 'value',
              'default': 0.0,
              'description': 'returned at or below the threshold',
              'positive': False}],
  'summary': "g(z) = z for z > θ, else v (jumps by θ − v at θ unless v = θ); g' = 1 for z > θ, else 0 (g'(θ) = "
             '0).'},
 {'name': 'rrelu',
  'kind': 'activation',
  'params': [{'name': 'lower',
              'default': 0.125,
              'description': 'lower bound of the random slope',
              'positive': False},
             {'name': 'upper',
              'default': 0.3333333333333333,
              'description': 'upper bound of the random slope',
              'positive': False}],
  'summary': "g(z) = max(0, z) + (l + u)/2·min(0, z), RReLU at inference; g' = (l + u)/2 for z ≤ 0, 1 for z > 0."},
 {'name': 'softmax_cross_entropy',
  'kind': 'loss',
  'params': [],
  'summary': 'L = −Σ_j y_j log softmax_j(a) from logits a; ∂L/∂a_k = s_k Σ_j y_j − y_k.'},
 {'name': 'mse',
  'kind': 'loss',
  'params': [],
  'summary': "L(a, y) = ½(a − y)²; ∂L/∂a = a − y (the ½ cancels the 2; PyTorch's mse_loss, without the ½, has 2(a "
             '− y)).'},
 {'name': 'mae', 'kind': 'loss', 'params': [], 'summary': 'L(a, y) = |a − y|; ∂L/∂a = sign(a − y), 0 at a = y.'},
 {'name': 'huber',
  'kind': 'loss',
  'params': [{'name': 'delta',
              'default': 1.0,
              'description': 'threshold between the quadratic and linear parts',
              'positive': True}],
  'summary': 'L(a, y) = ½e² for |e| ≤ δ, δ(|e| − ½δ) otherwise (e = a − y); ∂L/∂a = clip(e, −δ, δ).'},
 {'name': 'log_cosh', 'kind': 'loss', 'params': [], 'summary': 'L(a, y) = log cosh(a − y); ∂L/∂a = tanh(a − y).'},
 {'name': 'binary_cross_entropy',
  'kind': 'loss',
  'params': [],
  'summary': 'L(a, y) = −y log σ(a) − (1 − y) log(1 − σ(a)) from the logit a; ∂L/∂a = σ(a) − y.'},
 {'name': 'l1',
  'kind': 'penalty',
  'params': [{'name': 'lam', 'default': 0.01, 'description': 'penalty strength λ', 'positive': False}],
  'summary': 'Ω(w) = λ·Σ|w|; ∂Ω/∂w = λ·sign(w), the subgradient 0 at w = 0.'},
 {'name': 'l2',
  'kind': 'penalty',
  'params': [{'name': 'lam', 'default': 0.01, 'description': 'penalty strength λ', 'positive': False}],
  'summary': "Ω(w) = λ·Σw² (no ½, as Keras' l2); ∂Ω/∂w = 2λw."}]
