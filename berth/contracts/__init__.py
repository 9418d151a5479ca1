"""Wire schemas shared by a server and the SDK that calls it, below both.

A schema the SDK parses must not drag the server that serves it into the client's imports (nor
make the tower, which uses the SDK, import itself back through it). The tower's schemas live here;
the gateway's and the cloud's still live in ``berth.gateway.schemas`` and ``berth.cloud.schemas``
(docs/architecture.md, known debt).
"""
