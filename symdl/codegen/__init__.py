"""Code generation: SymPy expressions printed as numpy source and compiled into kernels and network functions."""
