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


@dataclass
class Catalogue:
    """The sources and KPIs the engine computes. Bridges add theirs through
    ``crm.kpi.run._get_catalogue``."""

    sources: dict = field(default_factory=dict)
    kpis: dict = field(default_factory=dict)

    def add_source(self, source):
        self.sources[source.name] = source
        return source

    def add_kpi(self, kpi):
        unknown = {m.source for m in kpi.measures} - set(self.sources)
        if unknown:
            raise ValueError(f"KPI {kpi.code} reads unknown sources {unknown}")
        self.kpis[kpi.code] = kpi
        return kpi
