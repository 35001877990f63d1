"""The compiler's version: part of every disk-cache key (with a hash of the compiler's sources)."""

COMPILER_VERSION = "0.1.0"
