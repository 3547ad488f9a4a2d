"""The runtime layer, the composition root: it builds the app's services and runs its jobs.

- :mod:`~modules.runtime.bootstrap`: start-up, one step at a time, building one
  :class:`~modules.core.services.Services` and installing it (``modules.shared`` is its view);
- :mod:`~modules.runtime.ui_reload`: Reload UI, updating the installed services;
- :mod:`~modules.runtime.script_loading`: the "load scripts" step (the runners on the services);
- :mod:`~modules.runtime.sampling_wiring`: the sampler factory wired to the layers above sampling;
- :mod:`~modules.runtime.jobs`, :mod:`~modules.runtime.queue_lock`: the one job queue and its lock;
- :mod:`~modules.runtime.headless`: a runtime without UI or HTTP server;
- the Extensions tab's actions (:mod:`~modules.runtime.extensions_install`,
  :mod:`~modules.runtime.config_states`).

It sits above processing, scripting and the lower layers, and below the UI and the API.
"""
