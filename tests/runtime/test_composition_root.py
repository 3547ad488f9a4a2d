"""The bootstrap builds one Services, installs it, and A1111's flat modules are views of it; Reload UI updates it."""
from __future__ import annotations


def test_initialize_builds_and_installs_one_services(started, restore_shared):
    from modules import scripts, shared
    from modules.core.options import choice_providers
    from modules.core.services import current_services
    from modules.sampling.factory import SamplerFactory, sampler_factory

    before = current_services()
    result = started()
    services = result.services
    assert services is current_services() and services is not before
    assert shared.opts is services.opts and shared.cmd_opts is services.cmd_opts and shared.state is services.state
    assert scripts.scripts_txt2img is services.scripts_txt2img is not None
    assert scripts.scripts_data is services.scripts_data
    assert shared.scripts is services.scripts and shared.startup_timer is result.timer
    # the composition root wires the sampler factory to its services, and the settings' lists to their providers
    assert isinstance(services.sampler_factory, SamplerFactory) and services.sampler_factory.services is services
    assert sampler_factory() is services.sampler_factory
    assert choice_providers.is_registered(choice_providers.SAMPLERS)


def test_a_second_start_gets_services_of_its_own(started, restore_shared):
    first = started().services
    second = started().services
    assert first is not second
    assert first.opts is not second.opts and first.state is not second.state


def test_reload_ui_updates_the_installed_services(started, data_dir, restore_shared):
    from modules import shared
    from modules.runtime.ui_reload import reload_ui

    services = started().services
    runner = services.scripts_txt2img
    ext = data_dir / "extensions" / "late-ext"
    (ext / "scripts").mkdir(parents=True)
    (ext / "scripts" / "s.py").write_text(
        "from modules import scripts\n"
        "class Late(scripts.Script):\n    def title(self):\n        return 'Late'\n")
    timer = reload_ui()
    assert shared.opts is services.opts  # the same services object, updated
    assert "late-ext" in [e.name for e in services.extensions]
    assert services.scripts_txt2img is not runner
    assert any(d.path.startswith(str(ext)) for d in services.scripts_data)
    assert services.startup_timer is timer and "reload scripts" in timer.records
