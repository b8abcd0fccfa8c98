"""Monthly cost and traffic entries (``crm.kpi.cost``): marketing per campaign
and general, sales per team, retention (customer success) and website
visitors."""

from collections import Counter

from .common import copy_rows, reserve_ids

# monthly marketing spend per campaign channel (small dataset, EUR)
CAMPAIGN_SPEND = {
    "ads": (1500, 4000),
    "linkedin": (800, 2500),
    "newsletter": (250, 600),
    "web": (600, 1500),
    "fair": (9000, 20000),
}
SALARY_PER_SALESPERSON = 6500
COMPANY_SHARE = {"main": 0.85, "ch": 0.15}


def plan_costs(ctx):
    rng = ctx.rng("costs")
    scale = ctx.scale
    companies = ctx.ref["company"]
    leads_per_month = Counter(
        (lead["company_id"], lead["create_date"].date().replace(day=1))
        for lead in ctx.leads
    )
    costs = []
    for month in ctx.months:
        for key, company in companies.items():
            share = COMPANY_SHARE[key]
            currency = 1.1 if key == "ch" else 1.0

            def amount(low, high, factor=1.0, _share=share, _currency=currency):
                return round(
                    rng.uniform(low, high) * factor * scale * _share * _currency, 2
                )

            for campaign, channel, first, last in ctx.ref["campaigns"]:
                if first <= month <= last:
                    spend = CAMPAIGN_SPEND[channel]
                    if channel == "fair":
                        # a trade fair is paid once, in its first month
                        if month != first:
                            continue
                    costs.append(
                        _cost(
                            month,
                            "marketing",
                            amount(*spend),
                            company,
                            campaign=campaign,
                            note=f"{campaign.name} {month:%m/%Y}",
                        )
                    )
            costs.append(
                _cost(
                    month,
                    "marketing",
                    amount(1200, 2200),
                    company,
                    note="Website, SEO, Agentur",
                )
            )
            for team in ctx.ref["teams"].values():
                if team.company_id != company:
                    continue
                members = len(team.member_ids)
                costs.append(
                    _cost(
                        month,
                        "sales",
                        round(
                            members
                            * SALARY_PER_SALESPERSON
                            * currency
                            * rng.uniform(0.97, 1.08),
                            2,
                        )
                        + amount(300, 1200),
                        company,
                        team=team,
                        note="Vertrieb: Personal und Reisen",
                    )
                )
            costs.append(
                _cost(
                    month,
                    "retention",
                    amount(1500, 3000),
                    company,
                    note="Customer Success, Kundenevents",
                )
            )
            leads = leads_per_month.get((company.id, month), 0)
            costs.append(
                _cost(
                    month,
                    "visitors",
                    float(round(leads * rng.uniform(35, 55))),
                    company,
                    note="Website-Besuche (Analytics)",
                )
            )
    ctx.costs = costs
    return costs


def _cost(month, category, amount, company, campaign=None, team=None, note=None):
    return {
        "date": month,
        "category": category,
        "amount": amount,
        "company_id": company.id,
        "campaign_id": campaign and campaign.id,
        "team_id": team and team.id,
        "note": note,
        "currency_id": company.currency_id.id,
    }


def write_costs(ctx):
    env = ctx.env
    costs = ctx.costs
    if ctx.method == "orm":
        ids = (
            env["crm.kpi.cost"]
            .create(
                [{k: v for k, v in cost.items() if v is not None} for cost in costs]
            )
            .ids
        )
        env.flush_all()
    else:
        env.flush_all()
        ids = reserve_ids(ctx.cr, "crm_kpi_cost", len(costs))
        columns = (
            "id",
            "date",
            "category",
            "amount",
            "company_id",
            "campaign_id",
            "team_id",
            "note",
            "currency_id",
            "create_date",
            "write_date",
            "create_uid",
            "write_uid",
        )
        uid = env.uid
        copy_rows(
            ctx.cr,
            "crm_kpi_cost",
            columns,
            (
                (cost_id, *cost.values(), ctx.now, ctx.now, uid, uid)
                for cost_id, cost in zip(ids, costs, strict=True)
            ),
        )
    env["crm.kpi.cost"].invalidate_model()
    ctx.counts["crm.kpi.cost"] = len(ids)
    return ids
