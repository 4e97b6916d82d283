"""diversify: least-cost resilient sourcing of rare earths."""

__version__ = "0.1.0"
