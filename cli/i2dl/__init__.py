"""i2dl: generate, key, grade and explain hand-computable deep learning exam problems."""

__version__ = "0.1.0"
