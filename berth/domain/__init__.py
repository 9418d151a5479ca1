"""Pure domain core: rules without I/O, so they can be tested exhaustively and reused anywhere."""
