"""probe: measures whether data in transit is really encrypted."""

__version__ = "0.1.0"
