"""billing-reports: where does our AI-coding money go?

A plugin author needs only this module::

    from billing_reports import hookimpl, Section, Table, Column, Figure, Chart, Series, TextView, Page

(``Person`` marks a setting that names people: see :mod:`billing_reports.pseudonymise`.)
"""

from .hookspecs import hookimpl
from .pages import Page
from .pseudonyms import GroupName, Person
from .sections import Chart, Column, Figure, Section, Series, Table, TextView

__version__ = "0.1.0"

__all__ = ["Chart", "Column", "Figure", "GroupName", "Page", "Person", "Section", "Series", "Table", "TextView", "hookimpl", "__version__"]
