"""torch operations: forward in torch, every gradient by autograd (the oracle)."""

