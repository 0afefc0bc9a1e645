"""What staff and flows both do; the caller owns the transaction (docs/architecture.md)."""
