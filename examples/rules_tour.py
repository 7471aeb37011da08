"""A tour of symdl's rule library: derive, prove, compile and check one rule, then catch a seed's mistake.

Run: python examples/rules_tour.py
"""

import numpy as np
import sympy as sp

import symdl
from symdl.testing import central_difference

# 1. A rule is one SymPy expression; SymPy derives it and symdl proves the textbook form.
huber = symdl.rule("huber", delta=1.5)
print("Huber loss:       ", huber.expr)
print("derivative:       ", huber.derivative())
print("textbook (clip):  ", huber.textbook())
print("proofs:           ", {label: bool(p) for label, p in huber.prove().items()})

# 2. Numeric kernels are printed from the same expressions; float32 stays float32.
a = np.linspace(-4, 4, 9, dtype=np.float32)
y = np.zeros_like(a)
print("loss   ", huber.numeric()(a, y))
print("dL/da  ", huber.numeric_derivative()(a, y))

# 3. Check the generated derivative against central differences (float64, away from the joins at ±δ).
a64 = np.array([-3.1, -0.4, 0.7, 2.9])
fd = central_difference(huber.numeric(), [a64, np.zeros_like(a64)])
print("max |fd - exact| =", float(np.max(np.abs(fd - huber.numeric_derivative()(a64, np.zeros_like(a64))))))

# 4. Kinks and their conventions: relu'(0) is 0 under PyTorch's convention, 1 with "right".
for convention in ("pytorch", "right", "average"):
    (kink,) = symdl.rule("relu", kink_convention=convention).kinks
    print(f"relu'(0) with {convention!r:10} = {kink.value}  (one-sided: {kink.left}, {kink.right})")

# 5. The seeds' softplus log(exp(z) + 1) overflows at z = 1000; symdl's prints logaddexp(0, z).
z = np.array([-1000.0, 0.0, 1000.0])
with np.errstate(over="ignore"):
    print("naive softplus:", np.log(np.exp(z) + 1))
print("symdl softplus:", symdl.rule("softplus").numeric()(z))

# 6. A user formula, parsed without eval: the Keras notebook's second Huber variant.
e, d = sp.symbols("e d", real=True)
threshold = sp.Symbol("d", positive=True)  # a threshold is positive
variant = symdl.formula_rule("where(abs(e) < d, e**2/2, d*abs(e) - d*2*0.5)", wrt="e", params={"d": None})
inside, outside = (piece.subs(e, d).subs(d, threshold) for piece, _ in variant.expr.args)
jump = sp.factor(inside - outside)
print("jump at |e| = d:", jump, "-> zero only for d =", sp.solve(jump, threshold))
