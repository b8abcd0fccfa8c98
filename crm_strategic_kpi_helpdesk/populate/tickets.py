"""Helpdesk teams, agents and tickets of the sample data (``odoo kpi_populate``).

Customers who bought open tickets in the year after their deals: mostly in
office hours, some at weekends; resolution times depend on the priority
(log-normal, with a long tail), a ticket opened on Friday afternoon waits for
Monday, one in ten is reopened, phone calls are often solved while the
customer is on the line (created closed). The history of every ticket is
stored as stage tracking in its chatter, and the addon's own backfill derives
the resolution figures from it, as it does for existing tickets on install.
"""

import math
from datetime import time, timedelta

from odoo import Command
from odoo.tools import SQL

from odoo.addons.crm_strategic_kpi.populate.common import (
    analyze,
    copy_rows,
    ensure_record,
    reserve_ids,
    weighted,
)
from odoo.addons.crm_strategic_kpi.populate.setup import ensure_user

# (key, name, share of the tickets, working calendar)
TEAMS = (
    ("service", "Kundenservice", 0.7, None),
    ("tech", "Technischer Support", 0.3, "extended"),
)
AGENTS_PER_TEAM = {"small": 2, "medium": 4, "large": 8}
AGENT_NAMES = (
    ("Lea", "Brandt"),
    ("Jonas", "Keller"),
    ("Mia", "Seidel"),
    ("Felix", "Hartmann"),
    ("Emma", "Vogt"),
    ("Paul", "Ludwig"),
    ("Hannah", "Winkler"),
    ("Luca", "Sommer"),
    ("Sophie", "Graf"),
    ("Noah", "Pfeiffer"),
    ("Laura", "Kuhn"),
    ("Elias", "Frank"),
)
TICKETS_PER_DEAL = ((0, 30), (1, 25), (2, 20), (3, 15), (4, 10))
CHANNELS = (("email", 45), ("phone", 25), ("web", 25), ("other", 5))
PRIORITIES = (("0", 20), ("1", 55), ("2", 20), ("3", 5))
# median calendar hours to the first resolution per priority
MEDIAN_HOURS = {"0": 30.0, "1": 20.0, "2": 8.0, "3": 3.0}
CLOSED_STAGES = (("done", 92), ("cancelled", 5), ("rejected", 3))
SUBJECTS = {
    "service": (
        "Rechnung nicht erhalten",
        "Frage zur letzten Rechnung",
        "Lieferung verspätet",
        "Adresse ändern",
        "Vertragsverlängerung: Rückfrage",
        "Gutschrift fehlt",
        "Ansprechpartner geändert",
        "Angebot für Zusatzlizenzen",
    ),
    "tech": (
        "Login funktioniert nicht",
        "Fehlermeldung beim Export",
        "Schnittstelle liefert keine Daten",
        "Drucker wird nicht erkannt",
        "Update schlägt fehl",
        "System sehr langsam",
        "Passwort zurücksetzen",
        "Datenimport bricht ab",
    ),
}
STAGE_XMLIDS = {
    "new": "helpdesk_mgmt.helpdesk_ticket_stage_new",
    "progress": "helpdesk_mgmt.helpdesk_ticket_stage_in_progress",
    "awaiting": "helpdesk_mgmt.helpdesk_ticket_stage_awaiting",
    "done": "helpdesk_mgmt.helpdesk_ticket_stage_done",
    "cancelled": "helpdesk_mgmt.helpdesk_ticket_stage_cancelled",
    "rejected": "helpdesk_mgmt.helpdesk_ticket_stage_rejected",
}


def populate_tickets(ctx):
    _ensure_teams(ctx)
    _plan_tickets(ctx)
    return _write_tickets(ctx)


# ---------------------------------------------------------------- setup
def _ensure_teams(ctx):
    """Two helpdesk teams per company with their agents; the technical
    support works 07:00-19:00 on weekdays (its own calendar), customer
    service on the company's working hours."""
    env = ctx.env
    group = env.ref("helpdesk_mgmt.group_helpdesk_user")
    size = AGENTS_PER_TEAM.get(ctx.size, 2)
    names = iter(AGENT_NAMES * (1 + 2 * len(TEAMS) * size // len(AGENT_NAMES)))
    teams, agents = {}, {}
    for company_key, company in ctx.ref["company"].items():
        for team_key, team_name, _share, calendar_key in TEAMS:
            users = env["res.users"]
            for index in range(size):
                first, last = next(names)
                users |= ensure_user(
                    ctx,
                    f"helpdesk_agent_{company_key}_{team_key}_{index}",
                    first,
                    last,
                    f"{team_key}.{first.lower()}.{last.lower()}",
                    company_key,
                    group,
                )
            calendar = (
                _extended_calendar(ctx, company, company_key)
                if calendar_key
                else env["resource.calendar"]
            )
            team = ensure_record(
                env,
                f"helpdesk_team_{company_key}_{team_key}",
                "helpdesk.ticket.team",
                {
                    "name": team_name,
                    "company_id": company.id,
                    "user_ids": [Command.set(users.ids)],
                    "user_id": users[:1].id,
                    "resource_calendar_id": calendar.id,
                },
            )
            teams[company.id, team_key] = team
            agents[company.id, team_key] = users.ids
    ctx.ref.update(helpdesk_teams=teams, helpdesk_agents=agents)
    ctx.ref["helpdesk_stages"] = {
        key: env.ref(xmlid).id for key, xmlid in STAGE_XMLIDS.items()
    }
    ctx.ref["helpdesk_channels"] = {
        key: env.ref(f"helpdesk_mgmt.helpdesk_ticket_channel_{key}").id
        for key, _weight in CHANNELS
    }


def _extended_calendar(ctx, company, company_key):
    return ensure_record(
        ctx.env,
        f"helpdesk_calendar_{company_key}",
        "resource.calendar",
        {
            "name": "Support Mo-Fr 07:00-19:00",
            "company_id": company.id,
            "tz": "Europe/Zurich" if company_key == "ch" else "Europe/Berlin",
            "attendance_ids": [
                Command.clear(),
                *(
                    Command.create(
                        {
                            "name": f"Support {day}",
                            "dayofweek": str(day),
                            "hour_from": 7.0,
                            "hour_to": 19.0,
                            "day_period": "full_day",
                        }
                    )
                    for day in range(5)
                ),
            ],
        },
    )


# ---------------------------------------------------------------- plan
def _plan_tickets(ctx):
    rng = ctx.rng("tickets")
    now = ctx.now
    today = now.date()
    tickets = []
    for lead in ctx.leads:
        if lead["probability"] != 100 or not lead["partner"]:
            continue
        for _ticket in range(weighted(rng, TICKETS_PER_DEAL)):
            day = lead["date_closed"].date() + timedelta(days=rng.randint(1, 365))
            if day > today:
                continue
            if day.weekday() >= 5 and rng.random() < 0.8:
                day += timedelta(days=7 - day.weekday())
            created = ctx.work_datetime(rng, day)
            if created >= now:
                continue
            tickets.append(_plan_ticket(ctx, rng, lead, created))
    tickets.sort(key=lambda ticket: ticket["created"])
    ctx.tickets = tickets
    return tickets


def _plan_ticket(ctx, rng, lead, created):
    now = ctx.now
    team_key = "service" if rng.random() < TEAMS[0][2] else "tech"
    company_id = lead["company_id"]
    agent = rng.choice(ctx.ref["helpdesk_agents"][company_id, team_key])
    priority = weighted(rng, PRIORITIES)
    channel = weighted(rng, CHANNELS)
    ticket = {
        "lead": lead,
        "company_id": company_id,
        "team_key": team_key,
        "user_id": agent,
        "priority": priority,
        "channel": channel,
        "name": rng.choice(SUBJECTS[team_key]),
        "created": created,
        "moves": [],
        "stage": "new",
    }
    if channel == "phone" and rng.random() < 0.3:
        # solved on the phone: created in a closed stage
        ticket["stage"] = "done"
        ticket["closed"] = created
        return ticket
    hours = MEDIAN_HOURS[priority] * math.exp(rng.gauss(0, 1.0))
    resolved = created + timedelta(hours=hours)
    if resolved.weekday() >= 5 and rng.random() < 0.85:
        resolved = ctx.office_instant(rng, resolved)
    picked = created + timedelta(minutes=rng.randint(5, 90))
    if picked >= now:
        return ticket
    # solved after somebody picked it up
    resolved = max(resolved, picked + timedelta(minutes=rng.randint(5, 60)))
    _move(ticket, picked, "progress")
    if rng.random() < 0.08:
        # waiting for the customer's answer for days
        waiting = picked + timedelta(hours=rng.uniform(0.5, 4))
        resolved = max(resolved, waiting) + timedelta(days=rng.uniform(1, 10))
        if waiting >= now:
            return ticket
        _move(ticket, waiting, "awaiting")
    if resolved >= now:
        return ticket
    final = weighted(rng, CLOSED_STAGES)
    _move(ticket, resolved, final)
    if final == "done" and rng.random() < 0.1:
        reopened = ctx.after(rng, resolved, 0.5, 7)
        if reopened < now:
            _move(ticket, reopened, "progress")
            again = reopened + timedelta(hours=6 * math.exp(rng.gauss(0, 0.8)))
            if again < now:
                _move(ticket, again, "done")
    return ticket


def _move(ticket, moment, stage):
    ticket["moves"].append((moment, ticket["stage"], stage))
    ticket["stage"] = stage
    if stage in ("done", "cancelled", "rejected"):
        ticket["closed"] = moment
    else:
        ticket.pop("closed", None)


# ---------------------------------------------------------------- write
def _write_tickets(ctx):
    env = ctx.env
    items = ctx.tickets
    stages = ctx.ref["helpdesk_stages"]
    channels = ctx.ref["helpdesk_channels"]
    teams = ctx.ref["helpdesk_teams"]
    partner_ids = ctx.partner_ids

    def values(item):
        partner = item["lead"]["partner"]
        return {
            "name": item["name"],
            "description": f"<p>{item['name']}</p>",
            "partner_id": partner_ids[partner["seq"]],
            "partner_name": partner["name"],
            "partner_email": partner.get("email"),
            "company_id": item["company_id"],
            "team_id": teams[item["company_id"], item["team_key"]].id,
            "user_id": item["user_id"],
            "stage_id": stages[item["stage"]],
            "channel_id": channels[item["channel"]],
            "priority": item["priority"],
        }

    def last_change(item):
        return item["moves"][-1][0] if item["moves"] else item["created"]

    Ticket = env["helpdesk.ticket"].with_context(
        tracking_disable=True, mail_create_nolog=True, mail_create_nosubscribe=True
    )
    if ctx.method == "orm":
        ids = Ticket.create([values(item) for item in items]).ids
        env.flush_all()
    else:
        env.flush_all()
        ids = reserve_ids(ctx.cr, "helpdesk_ticket", len(items))
        numbers = _ticket_numbers(env, len(items))
        unattended = {
            key: env["helpdesk.ticket.stage"].browse(stage_id).unattended
            for key, stage_id in stages.items()
        }
        commercial = {
            id(partner): partner_ids[(partner.get("parent") or partner)["seq"]]
            for partner in ctx.partners
        }
        columns = (
            "id",
            *values(items[0]).keys(),
            "number",
            "commercial_partner_id",
            "unattended",
            "active",
            "kanban_state",
            "sequence",
            "color",
        )
        copy_rows(
            ctx.cr,
            "helpdesk_ticket",
            columns,
            (
                (
                    ticket_id,
                    *values(item).values(),
                    number,
                    commercial[id(item["lead"]["partner"])],
                    unattended[item["stage"]],
                    True,
                    None,
                    10,
                    None,
                )
                for ticket_id, item, number in zip(ids, items, numbers, strict=True)
            ),
        )
    # the history: dates, then the stage moves as chatter tracking
    for start in range(0, len(ids), 5000):
        ctx.cr.execute(
            SQL(
                """
                UPDATE helpdesk_ticket t
                   SET create_date = v.created, write_date = v.changed,
                       last_stage_update = v.changed, assigned_date = v.created,
                       closed_date = v.closed, create_uid = v.uid, write_uid = v.uid
                  FROM (VALUES %s) v(id, created, changed, closed, uid)
                 WHERE t.id = v.id
                """,
                SQL(", ").join(
                    SQL(
                        "(%s, %s::timestamp, %s::timestamp, %s::timestamp, %s::int)",
                        ticket_id,
                        item["created"],
                        last_change(item),
                        item.get("closed"),
                        item["user_id"],
                    )
                    for ticket_id, item in zip(
                        ids[start : start + 5000],
                        items[start : start + 5000],
                        strict=True,
                    )
                ),
            )
        )
    _write_tracking(ctx, ids, items)
    env["helpdesk.ticket"].invalidate_model()
    analyze(ctx.cr, "helpdesk_ticket")
    tickets = env["helpdesk.ticket"].browse(ids)
    tickets._kpi_backfill_resolution()
    _write_ticket_feedback(ctx, ids, items)
    ctx.ticket_ids = ids
    ctx.counts["helpdesk.ticket"] = len(ids)
    return ids


def _ticket_numbers(env, count):
    """The next ``count`` numbers of the ticket sequence (which moves on)."""
    sequence = env["ir.sequence"].search(
        [("code", "=", "helpdesk.ticket.sequence")], limit=1
    )
    if not sequence:
        return ["/"] * count
    prefix, suffix = sequence._get_prefix_suffix()
    first = sequence.number_next_actual
    sequence.write({"number_next": first + count})
    return [
        f"{prefix}{first + index:0{sequence.padding}d}{suffix}"
        for index in range(count)
    ]


def _write_tracking(ctx, ids, items):
    env = ctx.env
    field = env["ir.model.fields"]._get("helpdesk.ticket", "stage_id")
    subtype = env.ref("mail.mt_note").id
    stages = ctx.ref["helpdesk_stages"]
    names = {
        stage_id: env["helpdesk.ticket.stage"].browse(stage_id).name
        for stage_id in stages.values()
    }
    user_partner = {
        user.id: user.partner_id.id
        for user in env["res.users"].browse(
            {uid for uids in ctx.ref["helpdesk_agents"].values() for uid in uids}
        )
    }
    moves = [
        (ticket_id, item["user_id"], moment, stages[old], stages[new])
        for ticket_id, item in zip(ids, items, strict=True)
        for moment, old, new in item["moves"]
    ]
    message_ids = reserve_ids(ctx.cr, "mail_message", len(moves))
    copy_rows(
        ctx.cr,
        "mail_message",
        (
            "id",
            "model",
            "res_id",
            "message_type",
            "subtype_id",
            "date",
            "author_id",
            "body",
            "create_date",
            "write_date",
            "create_uid",
            "write_uid",
        ),
        (
            (
                message_id,
                "helpdesk.ticket",
                ticket_id,
                "notification",
                subtype,
                moment,
                user_partner[uid],
                "",
                moment,
                moment,
                uid,
                uid,
            )
            for message_id, (ticket_id, uid, moment, _old, _new) in zip(
                message_ids, moves, strict=True
            )
        ),
    )
    copy_rows(
        ctx.cr,
        "mail_tracking_value",
        (
            "mail_message_id",
            "field_id",
            "old_value_integer",
            "new_value_integer",
            "old_value_char",
            "new_value_char",
            "create_date",
            "write_date",
            "create_uid",
            "write_uid",
        ),
        (
            (
                message_id,
                field.id,
                old,
                new,
                names[old],
                names[new],
                moment,
                moment,
                uid,
                uid,
            )
            for message_id, (_ticket, uid, moment, old, new) in zip(
                message_ids, moves, strict=True
            )
        ),
    )
    env["mail.message"].invalidate_model()
    ctx.counts["mail.tracking.value"] = len(moves)


def _write_ticket_feedback(ctx, ids, items):
    """A quarter of the customers answer the effort question (CES, 1 = very
    easy) after their ticket is solved; slow tickets feel harder."""
    rng = ctx.rng("ticket-feedback")
    today = ctx.now.date()
    rows = []
    for ticket_id, item in zip(ids, items, strict=True):
        closed = item.get("closed")
        if item["stage"] != "done" or not closed or rng.random() >= 0.25:
            continue
        day = (closed + timedelta(days=rng.randint(0, 3))).date()
        if day > today:
            continue
        hours = (closed - item["created"]).total_seconds() / 3600
        base = 1 + min(hours / 24.0, 4.0)
        score = max(1, min(7, round(base + rng.gauss(0, 1.0))))
        lead = item["lead"]
        rows.append(
            {
                "kind": "ces",
                "score": score,
                "date": day,
                "partner_id": ctx.partner_ids[lead["partner"]["seq"]],
                "origin": "ticket",
                "res_model": "helpdesk.ticket",
                "res_id": ticket_id,
                "company_id": item["company_id"],
                "user_id": item["user_id"],
                "team_id": lead["team_id"],
            }
        )
    Feedback = ctx.env["crm.kpi.feedback"]
    for start in range(0, len(rows), 5000):
        records = Feedback.create(rows[start : start + 5000])
        ctx.env.flush_all()
        ctx.cr.execute(
            SQL(
                "UPDATE crm_kpi_feedback SET create_date = date + %s, "
                "write_date = date + %s WHERE id IN %s",
                time(10),
                time(10),
                tuple(records.ids),
            )
        )
        Feedback.invalidate_model()
    ctx.counts["crm.kpi.feedback (tickets)"] = len(rows)
    return len(rows)
