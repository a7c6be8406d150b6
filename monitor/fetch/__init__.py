"""Fetch: feed bytes over HTTP (or from a local file) within hard bounds, politely.

``client`` (:class:`~monitor.fetch.client.FeedClient`: timeouts, caps, redirects,
concurrency), ``state`` (what we remember between fetches and what one fetch returns),
``failures`` (the one classification of fetch errors), ``hints`` (Retry-After,
Cache-Control), ``body`` (decompression within the cap), ``local`` (file feeds) and
``article`` (article pages for ``full_text``). Knows no database and no parser.
"""
