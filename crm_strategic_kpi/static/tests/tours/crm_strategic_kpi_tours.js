import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("crm_strategic_kpi_overview_tour", {
    steps: () => [
        {
            content: "The overview shows the favourite KPIs as cards",
            trigger: ".o_kpi_overview .o_kpi_card[data-kpi='won_revenue']",
        },
        {
            content: "The compared periods are named",
            trigger: ".o_kpi_periods:contains(compared with)",
        },
        {
            content: "The overview says when the figures were computed",
            trigger: ".o_kpi_freshness:contains(Figures computed)",
        },
        {
            content: "Refresh the figures now",
            trigger: ".o_kpi_refresh",
            run: "click",
        },
        {
            content: "The refresh says what it did",
            trigger: ".o_notification:contains(Figures refreshed)",
        },
        {
            content: "Look at the running period to date",
            trigger: ".o_kpi_to_date input",
            run: "click",
        },
        {
            content: "An incomplete period is said to be one",
            trigger: ".o_kpi_incomplete",
        },
        {
            content: "Look at the whole year",
            trigger: ".o_kpi_period_year",
            run: "click",
        },
        {
            content: "This year's won revenue: 3000 + 500 + 3000",
            trigger: ".o_kpi_card[data-kpi='won_revenue'] .o_kpi_value:contains(6,500)",
        },
        {
            content: "Ask why the won revenue changed",
            trigger: ".o_kpi_card[data-kpi='won_revenue'] .o_kpi_why",
            run: "click",
        },
        {
            content: "The change is broken down by sales team: T1 won 4,500 more (1000 + 500 + 3000)",
            trigger: ".modal .o_data_row:contains(T1):contains(4,500.00)",
        },
        {
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "The win rate card has a value too",
            trigger: ".o_kpi_card[data-kpi='close_rate'] .o_kpi_value:contains(%)",
        },
        {
            content: "A card opens its KPI analysis",
            trigger: ".o_kpi_card[data-kpi='close_rate']",
            run: "click",
        },
        {
            content: "The KPI over the months, as a graph",
            trigger: ".o_graph_renderer canvas",
        },
        {
            content: "The graph says when its figures were computed",
            trigger: ".o_kpi_freshness:contains(running month counts to today)",
        },
        {
            content: "Switch to the pivot",
            trigger: ".o_switch_view.o_pivot",
            run: "click",
        },
        {
            content: "The pivot shows the win rate",
            trigger: ".o_pivot table:contains(Win rate)",
        },
        {
            content: "The pivot shows the win rate in percent",
            trigger: ".o_pivot td:contains(50.0 %)",
        },
        {
            content: "So does the pivot",
            trigger: ".o_kpi_freshness:contains(running month counts to today)",
        },
        {
            content: "Back to the graph",
            trigger: ".o_switch_view.o_graph",
            run: "click",
        },
        {
            trigger: ".o_graph_renderer canvas",
        },
    ],
});

registry.category("web_tour.tours").add("crm_strategic_kpi_goal_tour", {
    steps: () => [
        {
            content: "Create a goal",
            trigger: ".o-kanban-button-new",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=name] input",
            run: "edit Win more deals",
        },
        {
            content: "Not SMART yet: the checklist is grey",
            trigger: "span.badge:not(.text-bg-success):contains(Achievable)",
        },
        {
            trigger: ".o_field_widget[name=kpi_id] input",
            run: "edit Win rate",
        },
        {
            trigger: ".o-autocomplete--dropdown-item a:contains(Win rate)",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=baseline_value] input",
            run: "edit 50",
        },
        {
            content: "A target below the baseline of a KPI better when higher",
            trigger: ".o_field_widget[name=target_value] input",
            run: "edit 40",
        },
        {
            trigger: ".o_field_widget[name=objective_id] input",
            run: "edit Sell more",
        },
        {
            trigger: ".o-autocomplete--dropdown-item a:contains(Sell more)",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=achievable_note] textarea",
            run: "edit Two more offers a week per salesperson.",
        },
        {
            trigger: ".o_field_widget[name=description] .odoo-editor-editable",
            run: "editor Call every open opportunity within a week.",
        },
        {
            trigger: "button[name=action_start]",
            run: "click",
        },
        {
            content: "Start refuses it and names the baseline",
            trigger: ".modal:contains(must lie above the baseline)",
        },
        {
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "A target above the baseline",
            trigger: ".o_field_widget[name=target_value] input",
            run: "edit 60",
        },
        {
            content: "Every criterion is met",
            trigger: "span.badge.text-bg-success:contains(Achievable)",
        },
        {
            trigger: "button[name=action_start]",
            run: "click",
        },
        {
            content: "The goal runs",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains(Running)",
        },
        {
            content: "Ask why its figure changed",
            trigger: "button[name=action_open_change_breakdown]",
            run: "click",
        },
        {
            content: "The breakdown opens",
            trigger: ".modal:contains(Broken Down By)",
        },
    ],
});

registry.category("web_tour.tours").add("crm_strategic_kpi_feedback_tour", {
    steps: () => [
        {
            content: "Following the link shows the question, the score chosen",
            trigger: "input[name=score][value='9']:checked + label",
        },
        {
            content: "Nothing is recorded yet",
            trigger: "p.lead:contains(Please confirm your answer)",
        },
        {
            trigger: "textarea[name=comment]",
            run: "edit Schnell und freundlich",
        },
        {
            trigger: "button[type=submit]",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The answer and the comment are recorded",
            trigger: "p.lead:contains(Thank you)",
        },
    ],
});
