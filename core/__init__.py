"""The conversation machinery: no channel, no flow (docs/architecture.md)."""
