"""Hand-written numpy operations: forward and backward by hand."""

