"""Pure wire-protocol codecs for lock-control boards: bytes in, frames out, no I/O."""
