"""Steps: the parts of use cases that run inside a transaction someone else opened.

A step takes the caller's connection, never opens, commits or rolls back a
transaction, and does no authorisation: the use case that calls it has already
checked its principal. Use cases (the public functions of `services/*.py`) compose
steps; so do the demo loader and tests that build state in one transaction.

A step used by one use case only stays private (`_name`) in that use case's module.
"""
