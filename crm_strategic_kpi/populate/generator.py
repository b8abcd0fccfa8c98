"""Run the domain functions in order and report what was generated."""

import json
import logging
import time

from odoo.tools import SQL

from .activities import plan_activities, write_activities
from .common import DEFAULT_SEED, PopulateContext
from .costs import plan_costs, write_costs
from .feedback import plan_feedback, write_feedback
from .lead_writer import write_leads
from .leads import plan_leads
from .logins import plan_logins, write_logins
from .partners import order_partners, plan_customers, write_partners
from .setup import populate_catalogues, populate_companies, populate_users

_logger = logging.getLogger(__name__)

MARKER = "crm_strategic_kpi.populate"


class PopulateError(Exception):
    """The database cannot receive a generated dataset."""


def populate_plan(ctx):
    """Draw customers and deals; the deals date the customers."""
    plan_customers(ctx)
    plan_leads(ctx)
    order_partners(ctx)


def populate_partners(ctx):
    return write_partners(ctx)


def populate_leads(ctx):
    # predictive lead scoring learns from the whole history once, at the end
    # (finalize), instead of lead by lead while they are created: until then
    # it starts after any lead
    ctx.env["ir.config_parameter"].sudo().set_param("crm.pls_start_date", "9999-12-31")
    return write_leads(ctx)


def _plan_and_write(plan, write):
    """A step that draws its plan, then stores it."""

    def step(ctx):
        plan(ctx)
        return write(ctx)

    return step


def populate_finalize(ctx):
    """Let predictive lead scoring learn from the generated history and queue
    every generated day for the next KPI recompute."""
    env = ctx.env
    params = env["ir.config_parameter"].sudo()
    params.set_param("crm.pls_start_date", str(ctx.start_month))
    env.flush_all()
    if ctx.spec.get("pls", True):
        env["crm.lead"]._rebuild_pls_frequency_table()
    # what the nightly customer refresh does: segments by rule, then
    # lifecycle, RFM and latest NPS
    if hasattr(env["crm.kpi.segment"], "_assign_segments"):
        env["crm.kpi.segment"]._assign_segments()
    if ctx.spec["refresh"] and hasattr(env["res.partner"], "_kpi_refresh_customers"):
        env["res.partner"].browse()._kpi_refresh_customers(today=ctx.now.date())
    first_lead = min(ctx.lead_ids, default=0)
    first_partner = min(ctx.partner_ids, default=0)
    env["crm.kpi.changed.day"]._mark_query(
        SQL(
            """
            SELECT l.company_id, d.day
              FROM crm_lead l
             CROSS JOIN LATERAL (VALUES (l.create_date), (l.date_closed)) d(day)
             WHERE l.id >= %(lead)s
             UNION
            SELECT p.company_id, p.create_date FROM res_partner p
             WHERE p.id >= %(partner)s
             UNION
            SELECT company_id, date FROM crm_kpi_feedback
             UNION
            SELECT company_id, date FROM crm_kpi_cost
            """,
            lead=first_lead or 0,
            partner=first_partner or 0,
        )
    )
    params.set_param(
        MARKER,
        json.dumps(
            {
                "size": ctx.size,
                "seed": ctx.seed,
                "method": ctx.method,
                "date": str(ctx.now),
                "counts": ctx.counts,
            }
        ),
    )
    env.flush_all()


STEPS = (
    ("companies", populate_companies),
    ("users", populate_users),
    ("catalogues", populate_catalogues),
    ("plan", populate_plan),
    ("partners", populate_partners),
    ("leads", populate_leads),
    ("activities", _plan_and_write(plan_activities, write_activities)),
    ("feedback", _plan_and_write(plan_feedback, write_feedback)),
    ("costs", _plan_and_write(plan_costs, write_costs)),
    ("logins", _plan_and_write(plan_logins, write_logins)),
    ("finalize", populate_finalize),
)


def generation_steps(env):
    """The base steps, then those of the installed bridge addons (see
    ``crm.kpi._kpi_populate_steps``), then ``finalize``."""
    extra = tuple(env["crm.kpi"]._kpi_populate_steps())
    return STEPS[:-1] + extra + STEPS[-1:]


def populate(
    env,
    size="small",
    seed=DEFAULT_SEED,
    method=None,
    now=None,
    steps=None,
    force=False,
    **overrides,
):
    """Generate the sample dataset into ``env``'s database (as superuser) and
    return the run's :class:`PopulateContext` (``counts``, ``timings``).

    :param size: ``small``, ``medium`` or ``large`` (see ``SIZES``)
    :param method: ``orm`` or ``sql`` (bulk COPY); by default ``orm`` for the
        small size and ``sql`` for the others
    :param now: the end of the generated history (default: now)
    :param steps: names of the steps to run (default: all, see ``STEPS``)
    :param overrides: replace entries of the size (``customers``, ``leads``,
        ``teams``, ``refresh``; ``pls=False`` skips the lead scoring rebuild)
    """
    env = env(
        su=True, context=dict(env.context, active_test=False, tracking_disable=True)
    )
    params = env["ir.config_parameter"].sudo()
    if not force and params.get_param(MARKER):
        raise PopulateError(
            f"This database already holds a generated dataset "
            f"({params.get_param(MARKER)}). Use a new database, or add a second "
            f"dataset on top of it with --force."
        )
    ctx = PopulateContext(
        env, size=size, seed=seed, method=method, now=now, **overrides
    )
    started = time.monotonic()
    all_steps = generation_steps(env)
    wanted = set(steps or (name for name, _function in all_steps))
    for name, function in all_steps:
        if name in wanted:
            ctx.step(name, function)
    ctx.timings["total"] = time.monotonic() - started
    return ctx
