"""Notify: render alerts and send them; no database I/O.

``format`` (one template per channel kind, ``templates/``), ``send`` (apprise, and
``telegram`` for the Bot API), ``console`` (the ``console://`` notification), ``snippet``
(the matched passage), ``plan`` (what to send this cycle: held, single, summary, digest),
``timing`` (backoff, quiet hours, digest slots), ``ratelimit`` and ``limiter`` (token
buckets), ``notices`` (the wording of operator notices). The outbox rows are
:mod:`monitor.store.outbox`; the cycle that ties them together is :mod:`monitor.delivery`.
"""
