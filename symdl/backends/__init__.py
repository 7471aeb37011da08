"""Array backends (numpy, JAX, PyTorch): their printers and the network modules printed for each."""
