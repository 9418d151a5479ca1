"""Simulated boards without I/O: the board model and one pure responder per protocol.

A responder takes the boards on a line and one request frame and returns the replies, as wire
bytes, with the board that sends each; it changes the model (a lock fires, a fault is spent) and
nothing else. The simulator (``berth.hardware.simulator``) runs them behind a pty or a TCP port.
"""
