"""Leads and opportunities over 36 months: the sales funnel of the customers
(first deal, yearly renewals, upsells and cross-sells until they churn) and the
unqualified leads of prospects who never bought.

The plan holds what a user (or the ORM create) would give; the SQL writer
derives the computed columns of ``crm.lead`` exactly as its computes do.
"""

import bisect
import itertools
from datetime import timedelta

from . import names
from .common import slug, weighted
from .partners import phone_number
from .setup import CHANNELS

# (channel key, weight for new business, share arriving as a lead)
CHANNEL_MIX = (
    ("web", 30, 0.85),
    ("ads", 14, 0.9),
    ("newsletter", 8, 0.85),
    ("linkedin", 10, 0.8),
    ("fair", 8, 0.6),
    ("referral", 9, 0.3),
    ("phone", 11, 0.5),
    ("direct", 10, 0.2),
)
NEW_BUSINESS_CHANNELS = tuple((key, weight) for key, weight, _share in CHANNEL_MIX)
LEAD_SHARE = {key: share for key, _weight, share in CHANNEL_MIX}
REPEAT_CHANNELS = (("direct", 55), ("phone", 20), ("newsletter", 15), ("web", 10))
# per segment: (median first deal, sigma, sales cycle days (low, high),
#               upsell/cross-sell opportunities per year, mean lifetime months,
#               share with a yearly maintenance contract)
SEGMENT_PROFILE = {
    "small": (4800, 0.6, (7, 40), 0.45, 54, 0.8),
    "mid": (22000, 0.5, (20, 80), 1.0, 84, 0.85),
    "key": (85000, 0.5, (45, 160), 2.4, 140, 0.95),
}
STAGE_PROBABILITY = {"new": 10.0, "qualified": 30.0, "proposition": 60.0}
LOST_STAGES = (("new", 20), ("qualified", 45), ("proposition", 35))
DEAL_LOST_REASONS = (
    ("lost_price", 30),
    ("lost_competitor", 30),
    ("lost_budget", 15),
    ("lost_postponed", 15),
    ("lost_not_fit", 5),
    ("lost_no_response", 5),
)
LEAD_LOST_REASONS = (
    ("lost_no_response", 45),
    ("lost_not_fit", 20),
    ("lost_budget", 20),
    ("lost_competitor", 10),
    ("lost_price", 5),
)


class LeadPlanner:
    """Draws the lead plan; one instance per generation run."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.rng = ctx.rng("leads")
        self.now = ctx.now
        ref = ctx.ref
        self.stages = {key: stage.id for key, stage in ref["stages"].items()}
        self.lost_reasons = {key: r.id for key, r in ref["lost_reasons"].items()}
        self.sources = {name: s.id for name, s in ref["sources"].items()}
        self.mediums = {name: m.id for name, m in ref["mediums"].items()}
        self.channels = {key: (source, medium) for key, source, medium in CHANNELS}
        self.campaigns = {}
        for campaign, channel, first, last in ref["campaigns"]:
            for month in ctx.months:
                if first <= month <= last:
                    key = (channel, month.year, month.month)
                    self.campaigns.setdefault(key, []).append(campaign.id)
        self.companies = {key: c.id for key, c in ref["company"].items()}
        self.teams = ref["teams"]
        self.members = {region: users.ids for region, users in ref["members"].items()}
        self.month_weights = list(itertools.accumulate(ctx.month_weights()))
        self.leads = []

    # ------------------------------------------------------------ helpers
    def instant_in_month(self, month):
        moment = self.ctx.work_datetime(
            self.rng, self.ctx.day_in_month(self.rng, month)
        )
        if moment >= self.now:
            moment = self.now - timedelta(minutes=self.rng.randint(1, 600))
        return moment

    def acquisition_month(self):
        if self.rng.random() < 0.15:
            return self.ctx.months[self.rng.randrange(3)]
        return self.rng.choices(self.ctx.months, cum_weights=self.month_weights)[0]

    def utm(self, channel, moment):
        source, medium = self.channels[channel]
        campaign = None
        candidates = self.campaigns.get((channel, moment.year, moment.month))
        if candidates and self.rng.random() < 0.85:
            campaign = self.rng.choice(candidates)
        return {
            "campaign_id": campaign,
            "source_id": source and self.sources[source],
            "medium_id": medium and self.mediums[medium],
        }

    def revenue(self, value, company_key):
        if not value:
            return 0.0
        if company_key == "ch":
            value *= 1.1
        step = 10 if value < 10_000 else 100
        return float(max(step, round(value / step) * step))

    def base_lead(self, moment, user_id, team, company_key):
        return {
            "create_date": moment,
            "type": "opportunity",
            "priority": "0",
            "user_id": user_id,
            "team_id": team.id,
            "company_id": self.companies[company_key],
            "partner": None,
            "referrer": None,
            "customer": None,
            "contact_name": None,
            "partner_name": None,
            "email_from": None,
            "phone": None,
            "function": None,
            "street": None,
            "zip": None,
            "city": None,
            "state_id": None,
            "country_id": None,
            "expected_revenue": 0.0,
            "probability": None,
            "automated_probability": None,
            "active": True,
            "lost_reason_id": None,
            "date_open": moment if user_id else None,
            "date_conversion": None,
            "date_closed": None,
            "date_last_stage_update": moment,
            "date_deadline": None,
            "campaign_id": None,
            "source_id": None,
            "medium_id": None,
            "kpi_deal_type": None,
            "stage": "new",
        }

    def settle(self, lead, start, cycle_days, wins, lost_reasons=DEAL_LOST_REASONS):
        """Move the lead through the pipeline from ``start`` (its creation or
        conversion) to its outcome; return its close instant or None."""
        rng = self.rng
        ctx = self.ctx
        close = ctx.after(rng, start, *cycle_days)
        if not wins:
            close = ctx.after(rng, start, cycle_days[0] * 0.5, cycle_days[1] * 1.2)
        if lead["date_open"] and close <= lead["date_open"]:
            # nobody closes a lead before it is assigned
            close = ctx.after(rng, lead["date_open"], 0.1, 3)
        if close >= self.now:
            # still open: its stage follows how far the deal has come
            progress = (self.now - start) / max(close - start, timedelta(hours=1))
            if lead["type"] == "lead" or progress < 0.3:
                stage = "new"
            elif progress < 0.65:
                stage = "qualified"
            else:
                stage = "proposition"
            lead["stage"] = stage
            lead["probability"] = lead["automated_probability"] = STAGE_PROBABILITY[
                stage
            ]
            if stage != "new":
                lead["date_last_stage_update"] = (
                    start + (self.now - start) * rng.uniform(0.2, 0.9)
                ).replace(microsecond=0)
            if lead["type"] == "opportunity" and rng.random() < 0.7:
                lead["date_deadline"] = close.date()
            return None
        lead["date_closed"] = close
        if lead["type"] == "opportunity" and rng.random() < 0.7:
            lead["date_deadline"] = (
                close + timedelta(days=rng.randint(-10, 20))
            ).date()
        if wins:
            lead["stage"] = "won"
            lead["probability"] = lead["automated_probability"] = 100.0
            lead["date_last_stage_update"] = close
        else:
            lead["stage"] = (
                "new" if lead["type"] == "lead" else weighted(rng, LOST_STAGES)
            )
            if lead["stage"] != "new":
                lead["date_last_stage_update"] = (
                    start + (close - start) * rng.uniform(0.1, 0.9)
                ).replace(microsecond=0)
            lead["active"] = False
            lead["probability"] = lead["automated_probability"] = 0.0
            lead["lost_reason_id"] = self.lost_reasons[weighted(rng, lost_reasons)]
        return close

    # ------------------------------------------------------------ customers
    def deal(
        self, customer, moment, deal_type, channel, revenue, wins, cycle, as_lead=False
    ):
        rng = self.rng
        ctx = self.ctx
        lead = self.base_lead(
            moment,
            customer["user_id"],
            self.teams[customer["region"]],
            customer["company_key"],
        )
        contacts = customer["contacts"]
        partner = (
            customer if not contacts or rng.random() < 0.2 else rng.choice(contacts)
        )
        lead.update(self.utm(channel, moment))
        lead["customer"] = customer
        lead["partner"] = partner
        lead["priority"] = weighted(
            rng,
            (("0", 55), ("1", 25), ("2", 15), ("3", 5))
            if customer["segment"] == "key"
            else (("0", 70), ("1", 22), ("2", 8)),
        )
        topic = {
            "new": names.NEW_DEALS,
            "renewal": names.RENEWAL_DEALS,
            "upsell": names.UPSELL_DEALS,
            "cross_sell": names.CROSS_SELL_DEALS,
        }[deal_type]
        suffix = f" {moment.year}" if deal_type == "renewal" else ""
        lead["name"] = f"{customer['name']}: {rng.choice(topic)}{suffix}"
        lead["expected_revenue"] = self.revenue(revenue, customer["company_key"])
        share_typed = 0.75 if deal_type == "renewal" else 0.65
        if rng.random() < share_typed:
            lead["kpi_deal_type"] = deal_type
        start = moment
        if as_lead:
            lead["type"] = "lead"
            if rng.random() < 0.4:
                lead["date_open"] = ctx.after(rng, moment, 0.02, 1.5)
            conversion = ctx.after(rng, lead["date_open"], 0.2, 12)
            if conversion >= self.now:
                # not qualified yet: still a lead, without its customer
                lead["date_open"] = min(lead["date_open"], self.now)
                self._prospect_contact(lead, customer, partner)
                self.settle(lead, moment, (30, 60), False)
                self._date_partner(customer, partner, None)
                return lead, None
            lead["type"] = "opportunity"
            lead["date_conversion"] = conversion
            start = conversion
        self._date_partner(customer, partner, start)
        close = self.settle(lead, start, cycle, wins)
        return lead, (close if wins else None)

    def _prospect_contact(self, lead, customer, partner):
        lead["partner"] = None
        lead["customer"] = None
        lead["partner_name"] = customer["name"]
        lead["contact_name"] = None if partner is customer else partner["name"]
        lead["email_from"] = partner["email"]
        lead["phone"] = partner["phone"]
        lead["country_id"] = customer["country_id"]
        lead["city"] = customer["city"]

    def _date_partner(self, customer, partner, moment):
        """A customer is created in the CRM when its first deal is qualified;
        a contact when first needed."""
        if moment is None:
            return
        if not customer.get("create_date") or moment < customer["create_date"]:
            customer["create_date"] = moment - timedelta(
                minutes=self.rng.randint(2, 30)
            )
            for contact in customer["contacts"][:1]:
                contact["create_date"] = customer["create_date"] + timedelta(minutes=1)
        if partner is not customer:
            first = customer["create_date"] + timedelta(minutes=1)
            if not partner.get("create_date") or partner["create_date"] > moment:
                partner["create_date"] = max(first, moment - timedelta(minutes=1))

    def journey(self, customer):
        """All deals of one customer company, in time order."""
        rng = self.rng
        ctx = self.ctx
        segment = customer["segment"]
        median, sigma, cycle, upsell_rate, lifetime, contract = SEGMENT_PROFILE[segment]
        base = median * rng.lognormvariate(0, sigma)
        buyer = rng.random() < 0.78
        channel = weighted(rng, NEW_BUSINESS_CHANNELS)
        lead_share = LEAD_SHARE[channel]
        moment = self.instant_in_month(self.acquisition_month())
        customer["channel"] = channel
        won_at = None
        for attempt in range(3):
            wins = buyer and (attempt > 0 or rng.random() < 0.72)
            lead, won_at = self.deal(
                customer,
                moment,
                "new",
                channel,
                base * rng.uniform(0.8, 1.2),
                wins,
                cycle,
                as_lead=rng.random() < lead_share,
            )
            self.leads.append(lead)
            if won_at or lead["date_closed"] is None:
                break
            if not buyer and rng.random() < 0.6:
                break
            moment = ctx.after(rng, lead["date_closed"], 60, 300)
            if moment >= self.now:
                break
            channel = weighted(rng, REPEAT_CHANNELS)
        if not won_at:
            return
        customer["first_win"] = won_at
        churn_at = won_at + timedelta(days=rng.expovariate(1 / (lifetime * 30.4)))
        events = []
        if rng.random() < contract:
            events.append(("renewal", ctx.after(rng, won_at, 320, 345)))
        moment = won_at
        while True:
            moment += timedelta(days=rng.expovariate(upsell_rate / 365))
            if moment >= min(churn_at, self.now):
                break
            events.append(
                (
                    rng.choice(("upsell", "upsell", "cross_sell")),
                    ctx.office_instant(rng, moment),
                )
            )
        events.sort(key=lambda event: event[1])
        while events:
            deal_type, moment = events.pop(0)
            if moment >= self.now:
                continue
            if deal_type == "renewal":
                if moment > churn_at:
                    if rng.random() < 0.5:
                        lead, _won = self.deal(
                            customer,
                            moment,
                            "renewal",
                            weighted(rng, REPEAT_CHANNELS),
                            base * 0.18,
                            False,
                            (5, 30),
                        )
                        self.leads.append(lead)
                    continue
                years = (moment - won_at).days / 365
                wins = rng.random() < 0.95
                lead, won = self.deal(
                    customer,
                    moment,
                    "renewal",
                    weighted(rng, REPEAT_CHANNELS),
                    base * rng.uniform(0.15, 0.22) * 1.03**years,
                    wins,
                    (5, 30),
                )
                self.leads.append(lead)
                if won:
                    events.append(("renewal", ctx.after(rng, won, 320, 345)))
                    events.sort(key=lambda event: event[1])
                elif lead["date_closed"]:
                    churn_at = min(churn_at, lead["date_closed"])
                continue
            factor = (
                rng.uniform(0.15, 0.5)
                if deal_type == "upsell"
                else rng.uniform(0.1, 0.4)
            )
            lead, _won = self.deal(
                customer,
                moment,
                deal_type,
                weighted(rng, REPEAT_CHANNELS),
                base * factor,
                rng.random() < 0.6,
                (cycle[0] * 0.6, cycle[1] * 0.6),
                as_lead=rng.random() < 0.15,
            )
            self.leads.append(lead)

    # ------------------------------------------------------------ prospects
    def prospect(self):
        """An unqualified lead of somebody who never became a customer."""
        rng = self.rng
        ctx = self.ctx
        moment = self.instant_in_month(
            rng.choices(ctx.months, cum_weights=self.month_weights)[0]
        )
        company_key = "ch" if rng.random() < 0.15 else "main"
        country = weighted(
            rng,
            (("CH", 85), ("DE", 10), ("AT", 5))
            if company_key == "ch"
            else (("DE", 75), ("AT", 17), ("CH", 5), ("NL", 3)),
        )
        city, zip_code, _area, _state = rng.choice(names.CITIES[country])
        if company_key == "ch":
            region = "ch"
        elif (country == "DE" and zip_code[0] in "01234") or country == "NL":
            region = "north"
        else:
            region = "south"
        channel = weighted(rng, NEW_BUSINESS_CHANNELS)
        age_days = (self.now - moment).days
        assigned = age_days > 3 or rng.random() < 0.7
        user_id = rng.choice(self.members[region]) if assigned else None
        lead = self.base_lead(moment, user_id, self.teams[region], company_key)
        lead["type"] = "lead"
        lead.update(self.utm(channel, moment))
        first = rng.choice(names.FIRST_NAMES)
        last = rng.choice(names.LAST_NAMES)
        lead["contact_name"] = f"{first} {last}"
        company_name = None
        if rng.random() < 0.88:
            forms = names.LEGAL_FORMS.get(country, names.LEGAL_FORMS["other"])
            company_name = (
                f"{rng.choice(names.LAST_NAMES)} {rng.choice(names.TRADES)} "
                f"{weighted(rng, forms)}"
            )
            lead["partner_name"] = company_name
        if rng.random() < 0.9:
            domain = (
                f"{slug(company_name.rsplit(' ', 1)[0])}.{names.COUNTRY_TLD[country]}"
                if company_name
                else rng.choice(names.FREE_MAIL)
            )
            lead["email_from"] = f"{slug(first)}.{slug(last)}@{domain}"
        if rng.random() < 0.6:
            lead["phone"] = phone_number(rng, country, _area, mobile=rng.random() < 0.4)
        if rng.random() < 0.3:
            lead["function"] = rng.choice(names.FUNCTIONS)
        if rng.random() < 0.85:
            lead["country_id"] = self.ctx.ref["countries"][country].id
            if rng.random() < 0.6:
                lead["city"] = city
                lead["zip"] = zip_code
        lead["name"] = f"{company_name or lead['contact_name']}: " + rng.choice(
            names.LEAD_TOPICS
        )
        lead["expected_revenue"] = self.revenue(
            rng.choice((0, 0, 2000, 5000, 10000, 25000)), company_key
        )
        if user_id and rng.random() < 0.3:
            lead["date_open"] = ctx.after(rng, moment, 0.02, 2)
            if lead["date_open"] >= self.now:
                lead["date_open"] = moment
        stale = rng.random() < (0.7 if age_days < 45 else 0.12)
        if stale:
            lead["probability"] = lead["automated_probability"] = 10.0
        else:
            self.settle(lead, moment, (2, 40), False, LEAD_LOST_REASONS)
            if lead["date_closed"] is None:
                lead["probability"] = lead["automated_probability"] = 10.0
        return lead

    # ------------------------------------------------------------ referrals
    def referrals(self, customers):
        """Referred leads name the existing customer who recommended them."""
        rng = self.rng
        won = sorted(
            (customer["first_win"], index)
            for index, customer in enumerate(customers)
            if customer.get("first_win")
        )
        won_at = [moment for moment, _index in won]
        referral_source = self.sources.get("Referral")
        for lead in self.leads:
            is_referral = lead["source_id"] == referral_source
            if not (is_referral and rng.random() < 0.7) and rng.random() > 0.005:
                continue
            known = bisect.bisect_left(won_at, lead["create_date"])
            if not known:
                continue
            referrer = customers[won[rng.randrange(known)][1]]
            if referrer is not lead["customer"]:
                lead["referrer"] = referrer


def plan_leads(ctx):
    planner = LeadPlanner(ctx)
    for customer in ctx.customers:
        planner.journey(customer)
    missing = max(ctx.spec["leads"] - len(planner.leads), 0)
    planner.leads.extend(planner.prospect() for _index in range(missing))
    planner.referrals(ctx.customers)
    planner.leads.sort(key=lambda lead: lead["create_date"])
    stages = planner.stages
    for position, lead in enumerate(planner.leads):
        lead["seq"] = position
        lead["stage_id"] = stages[lead.pop("stage")]
        lead["write_date"] = max(
            filter(
                None,
                (
                    lead["create_date"],
                    lead["date_open"],
                    lead["date_conversion"],
                    lead["date_closed"],
                    lead["date_last_stage_update"],
                ),
            )
        )
    ctx.leads = planner.leads
    return planner.leads
