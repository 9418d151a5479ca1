"""Wire schemas shared by a server and the SDK that calls it, below both.

A schema the SDK parses must not drag the server that serves it into the client's imports (nor
make the tower, which uses the SDK, import itself back through it). One module per API:
``tower``, ``gateway`` and ``cloud``.
"""
