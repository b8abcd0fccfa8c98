"""The KPI engine: set-based computation of the strategic KPIs.

Public surface (what models and bridges use; see docs/architecture.md):

- ``Source``, ``Measure``, ``Kpi``, ``Catalogue``, ``SCOPE_MONTH``,
  ``SCOPE_FORWARD``: declaring sources and KPIs; ``RevenueSource`` and
  ``PURCHASE_COLUMNS``: where the purchases of a company come from;
- ``core_catalogue()``: the addon's own declarations, which bridges extend
  through ``crm.kpi.run._get_catalogue``;
- ``Run``: one computation over a set of companies (a context manager), with
  ``local_time``, ``local_now``, ``in_companies``, ``since`` and
  ``segment_of`` for the relations of sources;
- ``DIMS``, ``PARTNER_DIMS`` and ``dims``: the dimensions of a fact;
- ``rules``: months, the value of a KPI from its sums, revenue.
"""

from .catalogue import core_catalogue
from .declarations import (
    PURCHASE_COLUMNS,
    SCOPE_FORWARD,
    SCOPE_MONTH,
    Catalogue,
    Kpi,
    Measure,
    RevenueSource,
    Source,
)
from .history import RUN_STATE_PARAM, create_history_tables, drop_history_tables
from .run import LAST_RUN_PARAM, Run
from .sql import DIMS, ENGINE_SETTINGS, PARTNER_DIMS, dims, planner

__all__ = [
    "DIMS",
    "ENGINE_SETTINGS",
    "LAST_RUN_PARAM",
    "PARTNER_DIMS",
    "PURCHASE_COLUMNS",
    "RUN_STATE_PARAM",
    "SCOPE_FORWARD",
    "SCOPE_MONTH",
    "Catalogue",
    "Kpi",
    "Measure",
    "RevenueSource",
    "Run",
    "Source",
    "core_catalogue",
    "create_history_tables",
    "dims",
    "drop_history_tables",
    "planner",
]
