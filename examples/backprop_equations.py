"""Derive BP1–BP4 for a network and print them as SymPy objects and LaTeX.

Run: python examples/backprop_equations.py
"""

import sympy as sp

import symdl

net = symdl.Network([784, 512, 512, 10], activation="relu", output_activation="identity", loss="softmax_cross_entropy")
equations = net.equations()

# The widths are symbols (n_0 … n_3): deriving costs the same for any width.
for label, eq in equations.backward:
    print(f"{label:16s} {sp.sstr(eq.lhs)} = {sp.sstr(eq.rhs)}")

print()
for label, latex in equations.latex():
    print(f"{label:22s} {latex}")

# The code is printed from the same equations (σ' written through the output where the rule proves it).
print()
print(net.compile().source().split("def loss_and_grad")[1].split("def train_step")[0])
