"""The service: the scheduler loop, signals and reload (``service``), ``/healthz`` and
``/metrics`` (``health``) and the systemd notification protocol (``sdnotify``)."""
