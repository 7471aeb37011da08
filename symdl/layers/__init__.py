"""Layers of a network beyond the dense affine map: batch normalisation, dropout, weight initialisation."""
