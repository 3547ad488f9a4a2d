"""One module per Settings section, each with ``options()`` returning that section's settings in A1111's order.

:func:`modules.core.options.catalogue.build_catalogue` calls them in A1111's registration order. A section
module declares data only: the lists that depend on the running app are functions of
:mod:`modules.core.options.live_choices`, called when the Settings tab asks.
"""
