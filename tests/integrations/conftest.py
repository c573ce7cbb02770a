"""Fixtures of the integration tests; the helpers they share live in shim_cases.py.

Tests import helpers from ``shim_cases``, never from ``conftest``: with several
conftest.py files in the tree, ``import conftest`` would pick whichever loaded first.
"""

from shim_cases import _restore_hosts, host_build, peers

__all__ = ["_restore_hosts", "host_build", "peers"]
