import { registry } from "@web/core/registry";
import { graphView } from "@web/views/graph/graph_view";
import { GraphController } from "@web/views/graph/graph_controller";
import { pivotView } from "@web/views/pivot/pivot_view";
import { PivotController } from "@web/views/pivot/pivot_controller";
import { KpiFreshness } from "@crm_strategic_kpi/freshness/kpi_freshness";

export class KpiPivotController extends PivotController {
    static template = "crm_strategic_kpi.KpiPivotView";
    static components = { ...PivotController.components, KpiFreshness };
}

export class KpiGraphController extends GraphController {
    static template = "crm_strategic_kpi.KpiGraphView";
    static components = { ...GraphController.components, KpiFreshness };
}

const views = registry.category("views");
views.add("kpi_value_pivot", { ...pivotView, Controller: KpiPivotController });
views.add("kpi_value_graph", { ...graphView, Controller: KpiGraphController });
