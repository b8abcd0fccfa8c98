"""Customer feedback after won deals: NPS surveys (0-10) and CES (1-7)."""

from datetime import datetime, time, timedelta

from . import names
from .common import analyze, copy_rows, dropped_indexes, reserve_ids, weighted
from .partners import set_log_access

# share of promoters / passives / detractors per segment
NPS_MIX = {
    "small": (("promoter", 42), ("passive", 33), ("detractor", 25)),
    "mid": (("promoter", 46), ("passive", 32), ("detractor", 22)),
    "key": (("promoter", 55), ("passive", 30), ("detractor", 15)),
}
NPS_SCORES = {
    "promoter": ((9, 55), (10, 45)),
    "passive": ((7, 50), (8, 50)),
    "detractor": ((0, 3), (1, 2), (2, 4), (3, 7), (4, 12), (5, 30), (6, 42)),
}
CES_SCORES = ((1, 18), (2, 30), (3, 22), (4, 13), (5, 9), (6, 5), (7, 3))


def plan_feedback(ctx):
    rng = ctx.rng("feedback")
    today = ctx.now.date()
    feedback = []
    for lead in ctx.leads:
        if lead["probability"] != 100 or not lead["partner"]:
            continue
        segment = lead["customer"]["segment"]
        closed = lead["date_closed"]
        if rng.random() < 0.35:
            day = (closed + timedelta(days=rng.randint(7, 30))).date()
            if day <= today:
                # service quality improves slowly over the period
                progress = (closed - ctx.start).days / 1100
                mix = [
                    (
                        category,
                        weight * (1 + 0.25 * progress)
                        if category == "promoter"
                        else weight,
                    )
                    for category, weight in NPS_MIX[segment]
                ]
                category = weighted(rng, mix)
                feedback.append(
                    _values(
                        rng,
                        lead,
                        "nps",
                        weighted(rng, NPS_SCORES[category]),
                        day,
                        category,
                    )
                )
        if rng.random() < 0.25:
            day = (closed + timedelta(days=rng.randint(2, 10))).date()
            if day <= today:
                feedback.append(
                    _values(rng, lead, "ces", weighted(rng, CES_SCORES), day, None)
                )
    feedback.sort(key=lambda item: item["date"])
    ctx.feedback = feedback
    return feedback


def _values(rng, lead, kind, score, day, category):
    comment = None
    if category and rng.random() < 0.3:
        comment = rng.choice(names.FEEDBACK_COMMENTS[category])
    return {
        "lead": lead,
        "kind": kind,
        "score": score,
        "category": category,
        "date": day,
        "comment": comment,
    }


def write_feedback(ctx):
    env = ctx.env
    items = ctx.feedback
    partner_ids = ctx.partner_ids
    lead_ids = ctx.lead_ids
    commercial = {
        id(partner): partner_ids[(partner.get("parent") or partner)["seq"]]
        for partner in ctx.partners
    }

    def values(item):
        lead = item["lead"]
        return {
            "kind": item["kind"],
            "score": item["score"],
            "date": item["date"],
            "comment": item["comment"],
            "partner_id": partner_ids[lead["partner"]["seq"]],
            "origin": "lead",
            "res_model": "crm.lead",
            "res_id": lead_ids[lead["seq"]],
            "company_id": lead["company_id"],
            "user_id": lead["user_id"],
            "team_id": lead["team_id"],
        }

    if ctx.method == "orm":
        records = env["crm.kpi.feedback"].create([values(item) for item in items])
        env.flush_all()
        ids = records.ids
    else:
        env.flush_all()
        ids = reserve_ids(ctx.cr, "crm_kpi_feedback", len(items))
        columns = (
            "id",
            "kind",
            "score",
            "date",
            "comment",
            "partner_id",
            "origin",
            "res_model",
            "res_id",
            "company_id",
            "user_id",
            "team_id",
            "category",
            "commercial_partner_id",
            "create_date",
            "write_date",
            "create_uid",
            "write_uid",
        )

        def row(record_id, item):
            created = datetime.combine(item["date"], time(9))
            uid = item["lead"]["user_id"] or env.uid
            return (
                record_id,
                *values(item).values(),
                item["category"],
                commercial[id(item["lead"]["partner"])],
                created,
                created,
                uid,
                uid,
            )

        with dropped_indexes(ctx.cr, "crm_kpi_feedback", enabled=len(items) > 50_000):
            copy_rows(
                ctx.cr,
                "crm_kpi_feedback",
                columns,
                (row(i, item) for i, item in zip(ids, items, strict=True)),
            )
    if ctx.method == "orm":
        set_log_access(
            ctx,
            "crm_kpi_feedback",
            [
                (
                    record_id,
                    datetime.combine(item["date"], time(9)),
                    datetime.combine(item["date"], time(9)),
                    item["lead"]["user_id"] or env.uid,
                )
                for record_id, item in zip(ids, items, strict=True)
            ],
        )
    env["crm.kpi.feedback"].invalidate_model()
    analyze(ctx.cr, "crm_kpi_feedback")
    ctx.feedback_ids = ids
    ctx.counts["crm.kpi.feedback"] = len(ids)
    return ids
