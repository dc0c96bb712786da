"""Use cases between the API (or CLI) and the store and engine.

Every write: validate (domain model) → store in one transaction (the store
appends the event) → update the engine → answer. See :mod:`.core`.
"""
