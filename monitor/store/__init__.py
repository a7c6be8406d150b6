"""Store: the database, the source of truth. The only package that knows SQLAlchemy's ORM.

``db`` (engines, sessions, migrations), ``schema`` (the ORM models), ``feeds`` (feeds and
their scheduling state), ``articles`` (articles stored once, matches and the outbox rows
written with them), ``outbox`` (the delivery lifecycle of alerts and operator notices),
``state`` (the key/value table and the heartbeat), ``views`` (read-only views for the
CLI, metrics and status), ``housekeeping`` (retention, optimisation, backup) and
``vocab`` (stored strings read back as their ``Literal`` types, checked). Every
function takes values and returns records: ORM rows never leave this package, and it
knows neither the config nor the channels.
"""
