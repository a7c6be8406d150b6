"""press-monitor: a press-monitoring alert daemon."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/press-monitor/press-monitor"
