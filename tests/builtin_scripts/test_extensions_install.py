"""Installing an extension from a local git repository with real git; refused when listening publicly."""
from __future__ import annotations

import json
import subprocess

import pytest


def _git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin", "HOME": str(cwd)})


@pytest.fixture
def ext_repo(tmp_path):
    repo = tmp_path / "src" / "sd-hello-ext"
    (repo / "scripts").mkdir(parents=True)
    (repo / "install.py").write_text("import pathlib, os\n"
                                     "pathlib.Path(os.path.dirname(os.path.abspath(__file__)), 'installed.flag')"
                                     ".write_text('yes')\n")
    (repo / "scripts" / "hello.py").write_text(
        "from modules import scripts\n\n\nclass Hello(scripts.Script):\n"
        "    def title(self):\n        return 'Hello ext'\n\n    def show(self, is_img2img):\n        return True\n")
    _git("init", "-q", "-b", "main", cwd=repo)
    _git("add", ".", cwd=repo)
    _git("commit", "-q", "-m", "first", cwd=repo)
    return repo


def test_install_runs_install_py_and_lists_the_script(webui, ext_repo):
    from modules import extensions_install, scripts, shared

    webui.load()
    target = extensions_install.install_extension_from_url(str(ext_repo))
    assert target.endswith("sd-hello-ext")
    assert (webui.data / "extensions" / "sd-hello-ext" / "installed.flag").read_text() == "yes"
    assert not list((webui.data / "tmp").iterdir())
    assert "sd-hello-ext" in [e.name for e in shared.extensions]
    scripts.load_scripts()
    assert "Hello ext" in scripts.scripts_txt2img.titles
    with pytest.raises(extensions_install.ExtensionInstallError, match="already exists"):
        extensions_install.install_extension_from_url(str(ext_repo))
    with pytest.raises(extensions_install.ExtensionInstallError, match="already installed"):
        extensions_install.install_extension_from_url(str(ext_repo) + ".git", dirname="other")
    assert [s.status for s in extensions_install.check_updates() if s.name == "sd-hello-ext"] == ["latest"]


def test_refused_when_listening_unless_insecure_flag(webui, ext_repo):
    from modules import extensions_install

    webui.load(argv=("--listen",))
    with pytest.raises(extensions_install.ExtensionAccessError):
        extensions_install.install_extension_from_url(str(ext_repo))
    with pytest.raises(extensions_install.ExtensionAccessError):
        extensions_install.apply_changes(["x"])
    assert not (webui.data / "extensions" / "sd-hello-ext").exists()
    webui.load(argv=("--listen", "--enable-insecure-extension-access"))
    extensions_install.install_extension_from_url(str(ext_repo), branch="main")
    assert (webui.data / "extensions" / "sd-hello-ext" / "installed.flag").exists()


def test_apply_writes_disabled_list(webui, tmp_path):
    from modules import extensions_install, shared

    webui.load()
    result = extensions_install.apply_changes(["a", "b"], disable_all="extra")
    assert result.updated == {} and result.backup is None
    saved = json.loads(open(shared.opts.config_filename or shared.paths.config_file).read())
    assert saved["disabled_extensions"] == ["a", "b"] and saved["disable_all_extensions"] == "extra"
