"""Symbolic foundations: named functions, the safe formula parser, the proof engine and index-sum algebra.

Everything here works on SymPy objects only; nothing above it (rules, layers,
networks, code, reports) is imported.
"""
