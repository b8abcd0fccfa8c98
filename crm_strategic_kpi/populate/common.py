"""Shared state and helpers of the sample-data generator.

Every domain module (companies and users, partners, leads, activities,
feedback, costs, logins) works in two phases: a *plan* drawn from its own
seeded random generator, then a *writer* that stores the plan either through
the ORM (``method="orm"``) or in bulk with ``COPY`` (``method="sql"``). A plan
never depends on the writer, so both methods store the same data.
"""

import functools
import io
import itertools
import json
import logging
import random
import re
import time
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta

from odoo import SUPERUSER_ID, api
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

DEFAULT_SEED = 20240601
XMLID_MODULE = "kpi_populate"
MONTHS = 36

SIZES = {
    # customers: company partners; leads: crm.lead rows (leads and
    # opportunities); teams: salespeople per team (Nord, Süd, Key Accounts,
    # Schweiz); refresh: run the customer refresh (segments, lifecycle, RFM)
    # at the end, else the nightly cron does it
    "small": {"customers": 500, "leads": 5_000, "teams": (3, 3, 2, 2), "refresh": True},
    "medium": {
        "customers": 20_000,
        "leads": 100_000,
        "teams": (8, 8, 4, 5),
        "refresh": True,
    },
    "large": {
        "customers": 200_000,
        "leads": 1_000_000,
        "teams": (20, 20, 8, 12),
        "refresh": False,
    },
}

# Seasonality of new business in German-speaking B2B: summer and Christmas
# holidays are quiet, spring and autumn busy.
SEASONALITY = {
    1: 0.95,
    2: 1.05,
    3: 1.15,
    4: 1.05,
    5: 1.0,
    6: 0.95,
    7: 0.8,
    8: 0.6,
    9: 1.1,
    10: 1.15,
    11: 1.1,
    12: 0.65,
}
YEARLY_GROWTH = 0.12
COPY_CHUNK = 20_000
# when people work (local time), for the instants of leads and activities
OFFICE_HOURS = range(7, 19)
OFFICE_HOUR_WEIGHTS = list(itertools.accumulate((2, 6, 9, 10, 9, 6, 8, 9, 9, 8, 5, 2)))


class PopulateContext:
    """What every domain function of one generation run shares."""

    def __init__(
        self, env, size="small", seed=DEFAULT_SEED, method=None, now=None, **overrides
    ):
        self.env = env
        self.cr = env.cr
        self.size = size
        self.spec = dict(SIZES[size], **overrides)
        self.seed = seed
        self.method = method or ("orm" if size == "small" else "sql")
        if self.method not in ("orm", "sql"):
            raise ValueError(f"Unknown method {self.method!r}: use 'orm' or 'sql'.")
        self.now = (now or env.cr.now()).replace(microsecond=0)
        self.end_month = self.now.date().replace(day=1)
        self.start_month = self.end_month - relativedelta(months=MONTHS - 1)
        self.start = datetime.combine(self.start_month, datetime.min.time())
        self.months = [
            self.start_month + relativedelta(months=i) for i in range(MONTHS)
        ]
        self.last_days = {
            month: min(month + relativedelta(months=1, days=-1), self.now.date())
            for month in self.months
        }
        # scale of money amounts and traffic relative to the small dataset
        self.scale = self.spec["leads"] / SIZES["small"]["leads"]
        # filled by the domain functions
        self.ref = {}
        self.partners = []
        self.partner_ids = []
        self.leads = []
        self.lead_ids = []
        self.message_ids = []
        self.feedback_ids = []
        self.counts = {}
        self.timings = {}
        self.emails = {}
        self._dst = {}

    def rng(self, domain):
        """An independent generator per domain: adding a domain later does not
        change the data of the others."""
        return random.Random(f"{self.seed}-{domain}")

    # ------------------------------------------------------------ time helpers
    def month_weights(self):
        """Relative volume of new business per month: seasonality and growth."""
        return [
            SEASONALITY[month.month] * (1 + YEARLY_GROWTH) ** (index / 12)
            for index, month in enumerate(self.months)
        ]

    def _dst_bounds(self, year):
        """Local (Europe/Berlin, Europe/Vienna, Europe/Zurich) summer time."""
        if year not in self._dst:

            def last_sunday(month):
                day = date(year, month + 1, 1) - timedelta(days=1)
                return day - timedelta(days=(day.weekday() + 1) % 7)

            self._dst[year] = (
                datetime.combine(last_sunday(3), datetime.min.time()).replace(hour=2),
                datetime.combine(last_sunday(10), datetime.min.time()).replace(hour=3),
            )
        return self._dst[year]

    def to_utc(self, local):
        start, end = self._dst_bounds(local.year)
        return local - timedelta(hours=2 if start <= local < end else 1)

    def work_datetime(self, rng, day):
        """A UTC instant during office hours of the local ``day``."""
        hour = rng.choices(OFFICE_HOURS, cum_weights=OFFICE_HOUR_WEIGHTS)[0]
        local = datetime(
            day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60)
        )
        return self.to_utc(local)

    def office_instant(self, rng, moment):
        """An office-hours instant on the working day of ``moment``."""
        day = moment.date()
        if day.weekday() >= 5:
            day += timedelta(days=7 - day.weekday())
        return self.work_datetime(rng, day)

    def work_day(self, rng, first, last):
        """A day in ``[first, last]``, mostly a weekday."""
        span = (last - first).days
        day = first
        for _attempt in range(4):
            day = first + timedelta(days=rng.randint(0, max(span, 0)))
            if day.weekday() < 5 or rng.random() < 0.1:
                break
        return day

    def day_in_month(self, rng, month):
        return self.work_day(rng, month, self.last_days[month])

    def after(self, rng, moment, days_low, days_high):
        """An office-hours instant ``days_low``..``days_high`` days after
        ``moment`` (never before it)."""
        day = (moment + timedelta(days=rng.uniform(days_low, days_high))).date()
        if day.weekday() >= 5 and rng.random() < 0.85:
            day += timedelta(days=7 - day.weekday())
        result = self.work_datetime(rng, day)
        if result <= moment:
            result = moment + timedelta(minutes=rng.randint(5, 240))
        return result

    # ------------------------------------------------------------ bookkeeping
    def step(self, name, function, *args):
        started = time.monotonic()
        result = function(self, *args)
        self.timings[name] = time.monotonic() - started
        _logger.info("kpi_populate: %s done in %.1f s", name, self.timings[name])
        return result


# ---------------------------------------------------------------- SQL helpers
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_str(value):
    if "\\" in value or not value.isprintable():
        return value.translate(COPY_ESCAPES)
    return value


def _copy_datetime(value):
    return value.isoformat(sep=" ")


COPY_CONVERTERS = {
    str: _copy_str,
    int: str,
    float: repr,
    bool: lambda value: "t" if value else "f",
    type(None): lambda value: "\\N",
    datetime: _copy_datetime,
    date: date.isoformat,
    dict: lambda value: _copy_str(json.dumps(value)),
}


def _copy_text(value):
    """``value`` in PostgreSQL's COPY text format."""
    return COPY_CONVERTERS[type(value)](value)


def _required_defaults(cr, table, columns):
    """{column: value} for the columns of ``table`` that refuse NULL, have
    no default in the database and are not among ``columns``: other
    installed addons add such columns (Invoicing adds ``autopost_bills`` to
    contacts), which the ORM fills from the field's default."""
    cr.execute(
        """
        SELECT column_name FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = %s
           AND is_nullable = 'NO' AND column_default IS NULL
        """,
        (table,),
    )
    missing = [name for (name,) in cr.fetchall() if name not in columns]
    if not missing:
        return {}
    env = api.Environment(cr, SUPERUSER_ID, {})
    model = next(
        (
            name
            for name, cls in env.registry.items()
            if cls._table == table and not cls._abstract and cls._auto
        ),
        None,
    )
    if model is None:
        return {}
    fields_ = [name for name in missing if name in env[model]._fields]
    defaults = env[model].default_get(fields_)
    return {
        name: defaults[name]
        for name in fields_
        if type(defaults.get(name)) in COPY_CONVERTERS and defaults[name] is not None
    }


def copy_rows(cr, table, columns, rows):
    """Insert ``rows`` (an iterable of tuples in ``columns`` order) with COPY;
    the columns other addons require get their field's default."""
    extra = _required_defaults(cr, table, columns)
    if extra:
        columns = (*columns, *extra)
        constant = tuple(extra.values())
        rows = (tuple(row) + constant for row in rows)
    query = SQL(
        "COPY %s (%s) FROM STDIN",
        SQL.identifier(table),
        SQL(", ").join(SQL.identifier(column) for column in columns),
    )
    count = 0
    waiting = 0.0
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(map(_copy_text, row)))
        buffer.write("\n")
        count += 1
        if count % COPY_CHUNK == 0:
            buffer.seek(0)
            started = time.monotonic()
            cr.copy_expert(query.code, buffer)
            waiting += time.monotonic() - started
            buffer = io.StringIO()
    if buffer.tell():
        buffer.seek(0)
        started = time.monotonic()
        cr.copy_expert(query.code, buffer)
        waiting += time.monotonic() - started
    _logger.info(
        "kpi_populate: %s rows copied into %s (%.1f s in PostgreSQL)",
        count,
        table,
        waiting,
    )
    return count


def reserve_ids(cr, table, count):
    """Take ``count`` ids from the table's sequence, in increasing order."""
    if not count:
        return []
    cr.execute(
        SQL(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
            "FROM generate_series(1, %s)",
            table,
            count,
        )
    )
    return sorted(row[0] for row in cr.fetchall())


class dropped_indexes:
    """Load many rows into ``table`` without its plain indexes and foreign
    keys, then restore them with their original definitions: building an
    index or validating a key once is much faster than maintaining it row
    by row. A rollback restores them too (PostgreSQL DDL is transactional)."""

    def __init__(self, cr, table, enabled=True):
        self.cr = cr
        self.table = table
        self.enabled = enabled
        self.indexes = []
        self.foreign_keys = []

    def __enter__(self):
        if not self.enabled:
            return self
        self.cr.execute(
            SQL(
                """
                SELECT i.indexname, i.indexdef
                  FROM pg_indexes i
                  JOIN pg_class c ON c.relname = i.indexname
                 WHERE i.tablename = %s AND i.schemaname = current_schema()
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                                    WHERE k.conindid = c.oid)
                """,
                self.table,
            )
        )
        self.indexes = self.cr.fetchall()
        self.cr.execute(
            SQL(
                """
                SELECT conname, pg_get_constraintdef(oid)
                  FROM pg_constraint
                 WHERE conrelid = %s::regclass AND contype = 'f'
                """,
                self.table,
            )
        )
        self.foreign_keys = self.cr.fetchall()
        # memory for the index builds, for this transaction only
        self.cr.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for name, _definition in self.indexes:
            self.cr.execute(SQL("DROP INDEX %s", SQL.identifier(name)))
        for name, _definition in self.foreign_keys:
            self.cr.execute(
                SQL(
                    "ALTER TABLE %s DROP CONSTRAINT %s",
                    SQL.identifier(self.table),
                    SQL.identifier(name),
                )
            )
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None or not self.enabled:
            return False
        started = time.monotonic()
        # the definitions come from the catalog, not from user input
        for _name, definition in self.indexes:
            self.cr.execute(SQL(definition))
        for name, definition in self.foreign_keys:
            self.cr.execute(
                SQL(
                    "ALTER TABLE %s ADD CONSTRAINT %s %s",
                    SQL.identifier(self.table),
                    SQL.identifier(name),
                    SQL(definition),
                )
            )
        _logger.info(
            "kpi_populate: %s indexes and %s foreign keys of %s restored in %.1f s",
            len(self.indexes),
            len(self.foreign_keys),
            self.table,
            time.monotonic() - started,
        )
        return False


def analyze(cr, table):
    """Refresh the planner statistics after a bulk load: the queries that
    follow in the same transaction (scoring, refreshes, KPIs) rely on them."""
    cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))


def ensure_record(env, name, model, values, domain=None):
    """Return the record known by the xmlid ``kpi_populate.<name>``; find it
    with ``domain`` or create it from ``values`` the first time."""
    record = env.ref(f"{XMLID_MODULE}.{name}", raise_if_not_found=False)
    if record:
        return record
    record = (
        env[model].with_context(active_test=False).search(domain, limit=1)
        if domain
        else env[model]
    )
    if not record:
        record = env[model].create(values)
    env["ir.model.data"].create(
        {
            "module": XMLID_MODULE,
            "name": name,
            "model": model,
            "res_id": record.id,
            "noupdate": True,
        }
    )
    return record


TRANSLITERATION = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "à": "a", "è": "e"}
)


def slug(name):
    """``name`` as a lowercase ASCII word for e-mail addresses and domains."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower().translate(TRANSLITERATION)).strip(
        "-"
    )


@functools.lru_cache(maxsize=256)
def _cumulated(table):
    values, weights = zip(*table, strict=True)
    return values, list(itertools.accumulate(weights))


def weighted(rng, table):
    """Pick from ``((value, weight), ...)`` (a tuple, or a list)."""
    values, cumulated = _cumulated(tuple(table))
    return rng.choices(values, cum_weights=cumulated)[0]
