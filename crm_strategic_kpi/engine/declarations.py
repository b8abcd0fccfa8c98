"""How a KPI is declared: the sources it sums and, per source, what counts.

A *source* is a set of rows, one per record (and month, for states), each
carrying a company and the dimensions. A *measure* sums ``num`` and ``den``
over the rows of one source satisfying ``where``, per month, company and
dimensions. A *KPI* is one measure or several (their rows are added up: the
acquisition cost sums costs over one source and new customers over
another). Its value is ``factor x Σnum / Σden`` (ratios) or
``factor x Σnum``, see ``rules.value_from_sums``.

The same declaration gives both queries of the engine: the facts of a run,
read from cubes that sum every measure of a source and month in one pass,
and the records behind a fact (the drill-down), read row by row from the
source. Expressions are SQL over the source's alias; a source that sums
itself (``cube``) gives its cube the same alias and the same columns as its
rows, so that one expression is valid on both.
"""

from dataclasses import dataclass, field

from odoo.tools import SQL

from .sql import DIMS

# How a KPI's months depend on the data: "month" KPIs read only the records
# of their own month; "forward" KPIs read customer state, which any change
# carries into every later month.
SCOPE_MONTH = "month"
SCOPE_FORWARD = "forward"


def _sql(value):
    return value if isinstance(value, SQL) else SQL(value)


@dataclass(frozen=True)
class Source:
    """Rows the measures of KPIs sum.

    :param name: how measures refer to it
    :param alias: the alias of its rows in expressions
    :param relation: ``relation(run)`` -> the FROM clause of its rows (a
        table or a sub-query with ``alias``, joins allowed); it has the
        columns ``company_id`` and those of ``dims``
    :param model: the model of the records behind its rows (drill-down)
    :param res_id: the expression of the record's id
    :param res_model: the column of its rows that names the model of each
        record, for a source of records of several models (overrides
        ``model``)
    :param dims: the dimensions its rows carry (the others are empty)
    :param needs: the engine's tables the relation reads (see
        ``Run.need``); a bridge's relation reads its own tables
    :param cube: for a source that sums itself, ``cube(run)`` builds its
        cube and returns its FROM clause (same alias and measure columns as
        the rows, already one row per month, company and dimensions, plus
        the key columns its measures filter on); its rows then carry the
        column ``month`` that every measure of it uses
    :param cube_needs: the engine's tables ``cube`` reads
    """

    name: str
    alias: str
    relation: object
    model: str
    res_id: str = "id"
    res_model: str = None
    dims: tuple = DIMS
    needs: tuple = ()
    cube: object = None
    cube_needs: tuple = ()


@dataclass(frozen=True)
class Measure:
    """``num`` over ``den`` summed over the rows of ``source`` that satisfy
    ``where``, in the month ``month`` (expressions over the source's
    alias)."""

    source: str
    num: object
    den: object = "0"
    where: object = "TRUE"
    month: object = None

    def sql(self):
        """(month, num, den, where) as SQL; ``month`` None: the source's
        ``month`` column."""
        return (
            None if self.month is None else _sql(self.month),
            _sql(self.num),
            _sql(self.den),
            _sql(self.where),
        )


@dataclass(frozen=True)
class Kpi:
    """A computable KPI: ``code`` (that of its ``crm.kpi`` record), its
    ``scope`` and the ``measures`` whose rows it adds up. ``adjust``:
    ``adjust(run, rows)`` -> rows, a last step over the facts' rows that
    keeps them one per month, company and dimensions and multiplies ``num``
    by a positive factor (the customer lifetime value multiplies revenue by
    the lifespan and margin of its company and month); the drill-down
    leaves it out."""

    code: str
    scope: str
    measures: tuple
    adjust: object = None


# The columns of a revenue source's purchases (see ``RevenueSource``), in
# this order.
PURCHASE_COLUMNS = (
    "id",
    "res_model",
    "company_id",
    "customer_id",
    "team_id",
    "user_id",
    "campaign_id",
    "source_id",
    "medium_id",
    "closed_at",
    "revenue",
    "profit",
    "deal_type",
    "purchase",
)


@dataclass(frozen=True)
class RevenueSource:
    """Where the purchases of a company come from: the value ``code`` of its
    setting "revenue source" (``res.company.kpi_revenue_source``).

    :param code: the setting's value
    :param purchases: ``purchases(run, company_ids, since)`` -> the rows of
        its purchases in the companies ``company_ids``, with the columns of
        ``PURCHASE_COLUMNS`` in that order: the record (``id``,
        ``res_model``), its company, customer (a commercial partner), sales
        team, salesperson and channel, its local time ``closed_at``
        (``Run.local_time``), the untaxed ``revenue`` and the ``profit``
        (revenue minus cost) in the company's currency, its ``deal_type``
        (None: new business for the customer's first purchase, else an
        upsell; a purchase that never counts as an upsell says
        ``'repeat'``) and whether it is a ``purchase`` (a credit note is
        not: it only reduces revenue and profit). ``since``: a month; only
        the rows from it on are needed (None: all). Rows dated after the
        run's ``now`` are left out.
    :param deal_revenue: ``deal_revenue(run, company_ids)`` -> (join,
        expression): the revenue of a won deal ``l`` (a ``crm_lead`` row) of
        those companies; None: its expected revenue
    :param products: ``products(run, company_ids, since)`` -> rows
        (company_id, customer_id, month, product_id) of the distinct
        products each customer bought per month from ``since`` on; None: the
        source knows no products
    :param needs: the engine's tables ``purchases`` reads
    :param customer_days: ``customer_days(env, company_ids, scope)`` ->
        rows (cp, company_id, day, revenue, id, campaign_id, source_id,
        medium_id) of the purchases in the companies ``company_ids`` of the
        commercial partners ``cp`` for which ``scope(column)`` (an SQL
        condition) holds, dated by UTC day, with their channel: what the
        lifecycle, RFM, next purchase date and churn analysis of customers
        read
    """

    code: str
    purchases: object
    customer_days: object
    deal_revenue: object = None
    products: object = None
    needs: tuple = ()


@dataclass
class Catalogue:
    """The sources and KPIs the engine computes and where the purchases of
    companies come from. Bridges add theirs through
    ``crm.kpi.run._get_catalogue``."""

    sources: dict = field(default_factory=dict)
    kpis: dict = field(default_factory=dict)
    revenue_sources: dict = field(default_factory=dict)

    def add_revenue_source(self, revenue_source):
        self.revenue_sources[revenue_source.code] = revenue_source
        return revenue_source

    def add_source(self, source):
        self.sources[source.name] = source
        return source

    def add_kpi(self, kpi):
        unknown = {m.source for m in kpi.measures} - set(self.sources)
        if unknown:
            raise ValueError(f"KPI {kpi.code} reads unknown sources {unknown}")
        self.kpis[kpi.code] = kpi
        return kpi
