"""Helpers for testing code that uses secretsafe: real servers on 127.0.0.1, started and
stopped by pid. Not imported by the library itself.

- :mod:`secretsafe.testing.raft` -- a local OpenBao raft cluster (start, kill, restart nodes)
"""
