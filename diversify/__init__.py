"""diversify: least-cost resilient sourcing of rare earths."""

__version__ = "0.1.0"


def _pyomo_without_scipy_stats() -> None:
    """Pyomo imports scipy.stats (1.1 s, more than Pyomo itself) the moment anything
    imports scipy, to have it at hand; diversify uses scipy.sparse only. Its deferred
    import of scipy is told to skip that (Pyomo's `deferred_submodules` still import
    scipy.stats on first use). This must run before the first `import scipy`, hence
    here; a Pyomo without this private hook just imports it as before."""
    try:
        from pyomo.common import dependencies
    except ImportError:  # pragma: no cover - Pyomo is a dependency
        return
    indicator = getattr(dependencies, "scipy_available", None)
    if hasattr(indicator, "_callback"):
        indicator._callback = None


_pyomo_without_scipy_stats()
