"""Daily login counts of the salespeople (``crm.kpi.user.login``)."""

from datetime import timedelta

from .common import copy_rows, reserve_ids


def plan_logins(ctx):
    rng = ctx.rng("logins")
    today = ctx.now.date()
    logins = []
    for users in ctx.ref["members"].values():
        for user in users:
            # a personal habit, and two to three weeks of holidays a year
            habit = rng.uniform(1.2, 3.5)
            holidays = set()
            for year in sorted({month.year for month in ctx.months}):
                start = ctx.start_month.replace(year=year, month=1, day=1) + timedelta(
                    days=rng.choice((180, 190, 200, 210))
                )
                holidays.update(start + timedelta(days=d) for d in range(14))
                winter = ctx.start_month.replace(year=year, month=12, day=23)
                holidays.update(winter + timedelta(days=d) for d in range(9))
            day = ctx.start_month
            while day <= today:
                working = day.weekday() < 5 and day not in holidays
                if (working and rng.random() < 0.95) or rng.random() < 0.03:
                    count = max(1, round(rng.gauss(habit, 1)))
                    logins.append((user.id, user.company_id.id, day, count))
                day += timedelta(days=1)
    ctx.logins = logins
    return logins


def write_logins(ctx):
    env = ctx.env
    logins = ctx.logins
    model = env["crm.kpi.user.login"]
    env.flush_all()
    if ctx.method == "orm":
        ids = model.create(
            [
                {"user_id": user, "company_id": company, "day": day, "count": count}
                for user, company, day, count in logins
            ]
        ).ids
        env.flush_all()
    else:
        ids = reserve_ids(ctx.cr, "crm_kpi_user_login", len(logins))
        copy_rows(
            ctx.cr,
            "crm_kpi_user_login",
            ("id", "user_id", "company_id", "day", "count"),
            ((login_id, *login) for login_id, login in zip(ids, logins, strict=True)),
        )
    model.invalidate_model()
    ctx.counts["crm.kpi.user.login"] = len(ids)
    return ids
