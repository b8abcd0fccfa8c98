import { registry } from "@web/core/registry";
import { graphView } from "@web/views/graph/graph_view";
import { GraphController } from "@web/views/graph/graph_controller";
import { onWillStart } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";
import { formatFloat } from "@web/core/utils/numbers";
import { getCurrency } from "@web/core/currency";
import { user } from "@web/core/user";
import { pivotView } from "@web/views/pivot/pivot_view";
import { PivotController } from "@web/views/pivot/pivot_controller";
import { PivotRenderer } from "@web/views/pivot/pivot_renderer";
import { KpiFreshness } from "@crm_strategic_kpi/freshness/kpi_freshness";

/** Each value of the pivot in its KPI's unit, when a row or column is one KPI. */
export class KpiPivotRenderer extends PivotRenderer {
    setup() {
        super.setup();
        this.orm = useService("orm");
        this.kpiUnits = {};
        onWillStart(async () => {
            const kpis = await this.orm.searchRead("crm.kpi", [], ["unit"], {
                context: { active_test: false },
            });
            for (const kpi of kpis) {
                this.kpiUnits[kpi.id] = kpi.unit;
            }
        });
    }

    kpiOf(cell) {
        const metaData = this.model.metaData;
        for (const [groupBys, values] of [
            [metaData.fullRowGroupBys || metaData.rowGroupBys, cell.groupId[0]],
            [metaData.fullColGroupBys || metaData.colGroupBys, cell.groupId[1]],
        ]) {
            const index = groupBys.findIndex((g) => g.split(":")[0] === "kpi_id");
            if (index >= 0 && index < values.length) {
                const value = values[index];
                return Array.isArray(value) ? value[0] : value;
            }
        }
        return null;
    }

    getFormattedValue(cell) {
        const unit = cell.measure === "value" ? this.kpiUnits[this.kpiOf(cell)] : null;
        if (!unit || cell.value === undefined || cell.value === false || cell.value === null) {
            return super.getFormattedValue(cell);
        }
        const digits = { count: 0, currency: 0, percent: 1, days: 1, hours: 1 }[unit] ?? 2;
        const number = formatFloat(cell.value, { digits: [false, digits] });
        const suffix = {
            percent: " %",
            days: _t(" days"),
            hours: _t(" h"),
            currency: " " + (getCurrency(user.activeCompany.currency_id)?.symbol || ""),
        }[unit];
        return { value: number + (suffix || "") };
    }
}

export class KpiPivotController extends PivotController {
    static template = "crm_strategic_kpi.KpiPivotView";
    static components = { ...PivotController.components, KpiFreshness };
}

export class KpiGraphController extends GraphController {
    static template = "crm_strategic_kpi.KpiGraphView";
    static components = { ...GraphController.components, KpiFreshness };
}

const views = registry.category("views");
views.add("kpi_value_pivot", {
    ...pivotView,
    Controller: KpiPivotController,
    Renderer: KpiPivotRenderer,
});
views.add("kpi_value_graph", { ...graphView, Controller: KpiGraphController });
