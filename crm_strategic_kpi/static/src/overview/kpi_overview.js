import { Component, onWillStart, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { formatFloat } from "@web/core/utils/numbers";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";


export class KpiOverview extends Component {
    static template = "crm_strategic_kpi.KpiOverview";
    static components = { Layout };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({
            period: "month",
            companyId: "",
            teamId: "",
            segmentId: "",
            data: null,
            refreshing: false,
            toDate: false,
        });
        onWillStart(() => this.load());
    }

    get unitSuffix() {
        return { percent: " %", days: _t(" days"), hours: _t(" h") };
    }

    get periods() {
        return [
            ["month", _t("Month")],
            ["quarter", _t("Quarter")],
            ["year", _t("Year")],
        ];
    }

    async load() {
        this.state.data = await this.orm.call("crm.kpi.value", "get_overview_data", [], {
            period: this.state.period,
            company_id: this.state.companyId || false,
            team_id: this.state.teamId || false,
            segment_id: this.state.segmentId || false,
            to_date: this.state.toDate,
        });
    }

    get freshness() {
        const data = this.state.data;
        if (!data || !data.computed_at) {
            return _t("The figures have not been computed yet.");
        }
        const when = formatDateTime(deserializeDateTime(data.computed_at));
        return _t("Figures computed %(when)s. Refresh: %(interval)s.", {
            when,
            interval: data.refresh_interval,
        });
    }

    async refresh() {
        this.state.refreshing = true;
        try {
            const result = await this.orm.call("crm.kpi.changed.day", "action_refresh_figures", []);
            await this.action.doAction({ ...result, params: { ...result.params, next: undefined } });
            await this.load();
        } finally {
            this.state.refreshing = false;
        }
    }

    async setFilter(name, value) {
        this.state[name] = value;
        await this.load();
    }

    format(card, value) {
        if (value === null || value === undefined) {
            return "–";
        }
        const digits = ["count", "currency"].includes(card.unit) ? 0 : 1;
        // the user's language decides separators (1.234,5 in German)
        const text = formatFloat(value, { digits: [false, digits] });
        if (card.unit === "currency") {
            return `${text} ${this.state.data.currency_symbol}`;
        }
        return text + (this.unitSuffix[card.unit] || "");
    }

    changeText(card) {
        if (card.change === null || card.change === undefined) {
            return "";
        }
        const sign = card.change > 0 ? "+" : "";
        const pct =
            card.change_pct === null
                ? ""
                : ` (${sign}${formatFloat(card.change_pct, { digits: [false, 1] })} %)`;
        return `${sign}${this.format(card, card.change)}${pct}`;
    }

    changeClass(card) {
        if (card.good === true) {
            return "text-success";
        }
        if (card.good === false) {
            return "text-danger";
        }
        return "text-muted";
    }

    sparkPoints(card) {
        const values = card.spark;
        const known = values.filter((v) => v !== null);
        if (known.length < 2) {
            return "";
        }
        const min = Math.min(...known);
        const max = Math.max(...known);
        const span = max - min || 1;
        const points = [];
        values.forEach((v, i) => {
            if (v !== null) {
                points.push(`${(i * 100) / 11},${28 - ((v - min) / span) * 26}`);
            }
        });
        return points.join(" ");
    }

    goalClass(goal) {
        return {
            on_track: "text-bg-success",
            at_risk: "text-bg-warning",
            off_track: "text-bg-danger",
        }[goal.status] || "text-bg-secondary";
    }

    openKpi(card) {
        const domain = [["kpi_id", "=", card.kpi_id]];
        if (this.state.companyId) {
            domain.push(["company_id", "=", parseInt(this.state.companyId)]);
        }
        if (this.state.teamId) {
            domain.push(["team_id", "=", parseInt(this.state.teamId)]);
        }
        if (this.state.segmentId) {
            domain.push(["segment_id", "=", parseInt(this.state.segmentId)]);
        }
        this.action.doAction({
            type: "ir.actions.act_window",
            name: card.name,
            res_model: "crm.kpi.value",
            views: [
                [false, "graph"],
                [false, "pivot"],
                [false, "list"],
            ],
            domain,
            context: { graph_groupbys: ["date:month"], pivot_column_groupby: ["date:month"] },
        });
    }

    async whyChanged(card) {
        const data = this.state.data;
        const action = await this.orm.call("crm.kpi.change.breakdown", "action_open", [
            {
                kpi_id: card.kpi_id,
                date_from: data.date_from,
                months: data.months,
                previous_from: data.previous_from,
                previous_months: data.previous_months,
                label: data.label,
                previous_label: data.previous_label,
                company_id: parseInt(this.state.companyId) || false,
                team_id: parseInt(this.state.teamId) || false,
                segment_id: parseInt(this.state.segmentId) || false,
            },
        ]);
        await this.action.doAction(action);
    }

    openGoal(goal) {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "crm.kpi.goal",
            res_id: goal.id,
            views: [[false, "form"]],
        });
    }
}

registry.category("actions").add("crm_strategic_kpi.overview", KpiOverview);
