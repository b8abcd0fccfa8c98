import { Component, onWillStart, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { listView } from "@web/views/list/list_view";
import { ListController } from "@web/views/list/list_controller";

/** When the figures were computed and how often they are refreshed. */
export class KpiFreshness extends Component {
    static template = "crm_strategic_kpi.KpiFreshness";
    static props = {};

    setup() {
        this.orm = useService("orm");
        this.state = useState({ text: "" });
        onWillStart(async () => {
            const data = await this.orm.call("crm.kpi.changed.day", "get_freshness", []);
            if (!data.computed_at) {
                this.state.text = _t("The figures have not been computed yet.");
                return;
            }
            this.state.text = _t(
                "Figures computed %(when)s. Refresh: %(interval)s. The running month counts to today.",
                {
                    when: formatDateTime(deserializeDateTime(data.computed_at)),
                    interval: data.refresh_interval,
                }
            );
        });
    }
}

export class KpiListController extends ListController {
    static template = "crm_strategic_kpi.KpiListView";
    static components = { ...ListController.components, KpiFreshness };
}

registry.category("views").add("kpi_value_list", { ...listView, Controller: KpiListController });
