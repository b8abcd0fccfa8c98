def post_init_hook(env):
    """Fill the resolution figures of the tickets that exist already."""
    env["helpdesk.ticket"].search([])._kpi_backfill_resolution()  # pylint: disable=no-search-all
