"""Backpropagation as mathematics: BP1–BP4 as SymPy equations, their index form, and the proofs.

:mod:`.equations` states BP1–BP4 in matrix form for a network of library
rules; :mod:`.index_form` writes the same network in index notation with
symbolic widths; :mod:`.index_proofs` proves the equations are the
derivative of the cost. Code generation (:mod:`symdl.codegen.network`) and the
compiled network (:mod:`symdl.network`) read these equations.
"""
