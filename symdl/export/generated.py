"""The namespace of the modules :func:`symdl.export.to_jax` and :func:`symdl.export.to_torch` generate at run time.

Each export is registered as ``symdl.export.generated.<backend>_<name>_<digest>`` (the digest is
the generated text's), in :data:`sys.modules` and as an attribute here, so pickle finds its
functions and classes by reference and ``torch.compile`` can import the module they live in.
"""

__all__: list[str] = []
