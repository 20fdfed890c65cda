"""billing-reports: where does our AI-coding money go?

A plugin author needs only this module::

    from billing_reports import hookimpl, Section, Table, Column, Figure, Chart, Series
"""

from .hookspecs import hookimpl
from .sections import Chart, Column, Figure, Section, Series, Table

__version__ = "0.1.0"

__all__ = ["Chart", "Column", "Figure", "Section", "Series", "Table", "hookimpl", "__version__"]
