"""Done activities on deals: the messages Odoo logs when a call, meeting or
e-mail activity is marked as done (``mail.message`` with an activity type)."""

from markupsafe import Markup

from odoo.tools import formataddr

from . import names
from .common import analyze, copy_rows, dropped_indexes, reserve_ids, weighted
from .partners import set_log_access

ACTIVITY_ICONS = {"call": "fa-phone", "meeting": "fa-users", "email": "fa-envelope"}
KINDS = (("call", 50), ("meeting", 15), ("email", 25))
KINDS_KEY = (("call", 50), ("meeting", 35), ("email", 25))
HOST = "nordlicht-systemhaus.de"
COLUMNS = (
    "model",
    "res_id",
    "record_company_id",
    "message_type",
    "subtype_id",
    "mail_activity_type_id",
    "author_id",
    "email_from",
    "reply_to",
    "body",
    "date",
    "message_id",
    "is_internal",
    "reply_to_force_new",
    "email_add_signature",
)


def plan_activities(ctx):
    rng = ctx.rng("activities")
    now = ctx.now
    activity_types = ctx.ref["activity_types"]
    users = {user.id: user for users in ctx.ref["members"].values() for user in users}
    admin = ctx.env.ref("base.user_admin", raise_if_not_found=False) or ctx.env.user
    # the message bodies, built once from the fixed texts
    bodies = {}
    for kind, summaries in names.ACTIVITY_SUMMARIES.items():
        for summary in summaries:
            for feedback in names.ACTIVITY_FEEDBACK:
                note = (
                    Markup('<div><div class="fw-bold">Feedback:</div>%s</div>')
                    % feedback
                    if feedback
                    else ""
                )
                bodies[kind, summary, feedback] = str(
                    Markup(
                        '<div><p><span class="fa %s fa-fw"></span><span>%s</span> '
                        "done<span>: </span><span>%s</span></p>%s</div>"
                    )
                    % (ACTIVITY_ICONS[kind], activity_types[kind].name, summary, note)
                )
    messages = []
    for lead in ctx.leads:
        closed = lead["date_closed"]
        segment = lead["customer"]["segment"] if lead["customer"] else "small"
        extra = {"small": 1, "mid": 2, "key": 4}[segment]
        if lead["type"] == "lead":
            count = weighted(rng, ((0, 55), (1, 30), (2, 15)))
        elif lead["probability"] == 100:
            count = 2 + rng.randint(0, 2 * extra)
        elif not lead["active"]:
            count = 1 + rng.randint(0, extra + 1)
        else:
            count = rng.randint(0, extra + 2)
        if not count:
            continue
        start = lead["create_date"]
        span = (closed or now) - start
        user_id = lead["user_id"] if lead["user_id"] in users else admin.id
        kinds = KINDS_KEY if segment == "key" else KINDS
        for _index in range(count):
            kind = weighted(rng, kinds)
            body = bodies[
                kind,
                rng.choice(names.ACTIVITY_SUMMARIES[kind]),
                rng.choice(names.ACTIVITY_FEEDBACK),
            ]
            moment = (start + span * rng.random()).replace(microsecond=0)
            messages.append((moment, lead, kind, body, user_id, rng.getrandbits(64)))
    messages.sort(key=lambda message: message[0])
    ctx.messages = messages
    return messages


def write_activities(ctx):
    messages = ctx.messages
    env = ctx.env
    subtype = env.ref("mail.mt_activities").id
    lead_ids = ctx.lead_ids

    activity_types = {key: t.id for key, t in ctx.ref["activity_types"].items()}
    authors = {}
    for user in ctx.env["res.users"].browse({m[4] for m in messages}):
        authors[user.id] = (
            user.partner_id.id,
            formataddr((user.name, user.email or "")),
        )

    def row(message):
        moment, lead, kind, body, user_id, token = message
        author_id, email_from = authors[user_id]
        return (
            "crm.lead",
            lead_ids[lead["seq"]],
            lead["company_id"],
            "notification",
            subtype,
            activity_types[kind],
            author_id,
            email_from,
            email_from,
            body,
            moment,
            f"<{token:016x}.{lead['seq']}-kpi-activity@{HOST}>",
            False,
            False,
            True,
        )

    if ctx.method == "orm":
        Message = env["mail.message"].with_context(tracking_disable=True)
        ids = []
        for start in range(0, len(messages), 1000):
            ids += Message.create(
                [
                    dict(zip(COLUMNS, row(message), strict=True))
                    for message in messages[start : start + 1000]
                ]
            ).ids
        env.flush_all()
        set_log_access(
            ctx,
            "mail_message",
            [
                (message_id, message[0], message[0], message[4])
                for message_id, message in zip(ids, messages, strict=True)
            ],
        )
    else:
        env.flush_all()
        ids = reserve_ids(ctx.cr, "mail_message", len(messages))
        columns = (
            "id",
            *COLUMNS,
            "create_date",
            "write_date",
            "create_uid",
            "write_uid",
        )
        rows = (
            (message_id, *row(message), message[0], message[0], message[4], message[4])
            for message_id, message in zip(ids, messages, strict=True)
        )
        with dropped_indexes(ctx.cr, "mail_message", enabled=len(messages) > 100_000):
            copy_rows(ctx.cr, "mail_message", columns, rows)
    env["mail.message"].invalidate_model()
    analyze(ctx.cr, "mail_message")
    ctx.message_ids = ids
    ctx.counts["mail.message (done activities)"] = len(ids)
    return ids
