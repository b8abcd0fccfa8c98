"""Realistic sample and scale data for the strategic CRM KPIs.

Entry point: :func:`populate` (used by the ``kpi_populate`` command and the
tests). One module per domain: ``setup`` (companies, users, teams,
catalogues), ``partners``, ``leads``, ``activities``, ``feedback``, ``costs``,
``logins``; a new domain (helpdesk tickets, ...) adds a plan and a write
function and a step in ``generator.STEPS``.
"""

from .common import DEFAULT_SEED, SIZES, PopulateContext
from .generator import STEPS, PopulateError, populate

__all__ = [
    "DEFAULT_SEED",
    "SIZES",
    "STEPS",
    "PopulateContext",
    "PopulateError",
    "populate",
]
