"""The Extensions tab's handlers, called as gradio calls them, on real git repositories in a temporary folder:
install, check for updates, update on Apply, the disabled list, the Available index, config-state backup/restore,
and the refusals when extension access is off."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "PATH": "/usr/bin:/bin"}


def git(*args, cwd) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                            env={**GIT_ENV, "HOME": str(cwd)})
    return result.stdout.strip()


def commit_file(repo, name: str, text: str, message: str) -> str:
    (repo / name).write_text(text)
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo)


@pytest.fixture
def source_repo(tmp_path):
    """A git repository to install from: an A1111-style extension with one commit on ``main``."""
    repo = tmp_path / "src" / "sd-tab-ext"
    (repo / "scripts").mkdir(parents=True)
    (repo / "scripts" / "tab_ext.py").write_text("from modules import scripts\n")
    git("init", "-q", "-b", "main", cwd=repo)
    commit_file(repo, "README.md", "one\n", "first")
    return repo


@pytest.fixture
def tab(started):
    """The bootstrap (no model) with extension access on; returns (the tab module, shared)."""
    started("--skip-load-model-at-start")
    from modules import shared
    from modules.ui import extensions_tab

    return extensions_tab, shared


@pytest.fixture
def exits(monkeypatch):
    """Exit codes the handlers asked for (the test process does not really exit)."""
    from modules import extensions_install

    codes: list[int] = []
    monkeypatch.setattr(extensions_install, "exit_process", codes.append)
    monkeypatch.setattr(extensions_install, "EXIT_DELAY", 0)
    monkeypatch.delenv("SD_WEBUI_RESTART", raising=False)
    return codes


def wait_for(codes: list, count: int = 1) -> list:
    deadline = time.time() + 10
    while len(codes) < count and time.time() < deadline:
        time.sleep(0.02)
    return codes


def saved_config(shared) -> dict:
    with open(shared.opts.config_filename, encoding="utf8") as f:
        return json.load(f)


def test_install_from_url_lists_the_extension_and_refuses_twice(tab, source_repo):
    extensions_tab, shared = tab
    head = git("rev-parse", "HEAD", cwd=source_repo)
    url_box, table, message = extensions_tab.install_extension_from_url("", str(source_repo), "")
    target = os.path.join(shared.paths.extensions_dir, "sd-tab-ext")
    assert message == f"Installed into {target}. Use Installed tab to restart."
    assert url_box == {"__type__": "update"}
    assert git("rev-parse", "HEAD", cwd=target) == head
    assert 'name="enable_sd-tab-ext"' in table and f"<td>{head[:8]}</td>" in table and "<td>main</td>" in table
    assert os.listdir(os.path.join(shared.paths.data_dir, "tmp")) == []

    _, _, again = extensions_tab.install_extension_from_url("", str(source_repo), "")
    assert "class='error'" in again and "Extension directory already exists" in again
    _, _, same_url = extensions_tab.install_extension_from_url("other-name", str(source_repo) + ".git", "")
    assert "already installed" in same_url and "sd-tab-ext" in same_url
    assert not os.path.exists(os.path.join(shared.paths.extensions_dir, "other-name"))


def test_bad_install_input_is_a_message_and_leaves_nothing(tab, tmp_path):
    extensions_tab, shared = tab
    _, _, message = extensions_tab.install_extension_from_url("", str(tmp_path / "no-such-repo"), "")
    assert "class='error'" in message and "git clone failed" in message
    assert not os.path.exists(os.path.join(shared.paths.extensions_dir, "no-such-repo"))
    assert os.listdir(os.path.join(shared.paths.data_dir, "tmp")) == []
    assert "No URL specified" in extensions_tab.install_extension_from_url("", "  ", "")[-1]
    assert "bad folder name" in extensions_tab.install_extension_from_url("..", str(tmp_path), "")[-1]
    assert "bad URL" in extensions_tab.install_extension_from_url("x", "--upload-pack=touch /tmp/x", "")[-1]


def test_check_for_updates_then_apply_updates_to_the_new_commit(tab, source_repo, exits, monkeypatch):
    extensions_tab, shared = tab
    extensions_tab.install_extension_from_url("", str(source_repo), "")
    target = os.path.join(shared.paths.extensions_dir, "sd-tab-ext")
    old = git("rev-parse", "HEAD", cwd=target)

    table, info = extensions_tab.check_updates("[]")
    assert info == "" and re.search(r'<td class="extension_status">latest</td>', table)
    new = commit_file(source_repo, "README.md", "two\n", "second")
    table, _ = extensions_tab.check_updates("[]")
    assert 'name="update_sd-tab-ext" checked="checked" type="checkbox">new commits</label>' in table
    # an unticked (to be disabled) extension is not checked: its old status stays
    git("fetch", "-q", cwd=target)
    assert ">new commits</label>" in extensions_tab.check_updates(json.dumps(["sd-tab-ext"]))[0]
    assert extensions_tab.check_updates("[]")[0].count(">behind HEAD</label>") == 1

    reloads = []
    monkeypatch.setattr(shared.state, "request_restart", lambda: reloads.append(True))
    info = extensions_tab.apply_and_restart("[]", json.dumps(["sd-tab-ext"]), "none")
    assert "extensions-restarting" in info and "data-how='reload'" in info and reloads == [True] and exits == []
    assert git("rev-parse", "HEAD", cwd=target) == new != old
    backups = [f for f in os.listdir(os.path.join(shared.paths.data_dir, "config_states")) if "Backup (pre-update)" in f]
    assert len(backups) == 1
    with open(os.path.join(shared.paths.data_dir, "config_states", backups[0]), encoding="utf8") as f:
        assert json.load(f)["extensions"]["sd-tab-ext"]["commit_hash"] == old
    assert saved_config(shared)["disabled_extensions"] == []
    assert ">latest<" in extensions_tab.check_updates("[]")[0]


def test_apply_saves_the_disabled_list_then_reloads_restarts_or_quits(tab, exits, monkeypatch, tmp_path):
    extensions_tab, shared = tab
    reloads = []
    monkeypatch.setattr(shared.state, "request_restart", lambda: reloads.append(True))
    assert extensions_tab.apply_label() == "Apply and restart UI"
    info = extensions_tab.apply_and_restart(json.dumps(["Lora", "LDSR"]), "[]", "extra")
    assert "data-how='reload'" in info and reloads == [True] and exits == []
    saved = saved_config(shared)
    assert saved["disabled_extensions"] == ["Lora", "LDSR"] and saved["disable_all_extensions"] == "extra"
    assert not os.path.isdir(os.path.join(shared.paths.data_dir, "config_states"))  # nothing updated: no backup

    # no Reload UI in this process: A1111's "Apply and quit"
    monkeypatch.setattr(shared.state, "request_restart", None)
    assert extensions_tab.apply_label() == "Apply and quit"
    assert "data-how='quit'" in extensions_tab.apply_and_restart('["Lora"]', "[]", "none")
    assert wait_for(exits) == [0] and saved_config(shared)["disabled_extensions"] == ["Lora"]

    # started by webui.sh: its marker file, then the process exits and webui.sh starts it again
    marker = tmp_path / "restart-marker" / "restart"
    monkeypatch.setenv("SD_WEBUI_RESTART", str(marker))
    assert extensions_tab.apply_label() == "Apply and restart UI"
    assert "data-how='restart'" in extensions_tab.apply_and_restart("[]", "[]", "none")
    assert marker.exists() and wait_for(exits, 2) == [0, 0] and reloads == [True]

    bad = extensions_tab.apply_and_restart("{not json", "[]", "all")
    assert "class='error'" in bad and "wrong disable_list data" in bad
    assert "bad value for Disable all extensions" in extensions_tab.apply_and_restart("[]", "[]", "some")
    assert saved_config(shared)["disable_all_extensions"] == "none" and len(exits) == 2


def test_every_changing_handler_refuses_when_listening_publicly(started, source_repo, tmp_path, exits):
    started("--skip-load-model-at-start", "--listen")
    from modules import shared
    from modules.ui import extensions_tab as t

    index = tmp_path / "index.json"
    index.write_text(json.dumps({"extensions": [{"name": "x", "url": str(source_repo)}]}))
    before = open(shared.opts.config_filename).read() if os.path.exists(shared.opts.config_filename or "") else None
    answers = [
        t.apply_and_restart('["Lora"]', "[]", "all"),
        t.check_updates("[]")[-1],
        t.install_extension_from_url("", str(source_repo), "")[-1],
        t.refresh_available_extensions(index.as_uri(), [], 0)[-1],
        t.install_extension_from_index(str(source_repo), [], 0, "")[-1],
        t.save_config_state("x")[-1],
        t.restore_config_state(True, "Backup: Thu Jan  1 00:00:00 1970", "extensions"),
    ]
    for answer in answers:
        assert "class='error'" in answer and "extension access disabled" in answer, answer
    assert exits == [] and not os.listdir(shared.paths.extensions_dir)
    assert not os.path.exists(os.path.join(shared.paths.data_dir, "config_states")) or not os.listdir(
        os.path.join(shared.paths.data_dir, "config_states"))
    after = open(shared.opts.config_filename).read() if os.path.exists(shared.opts.config_filename or "") else None
    assert after == before
    # the table is drawn read-only and says why
    table = t.extension_table()
    assert table.count(" disabled>") == table.count('type="checkbox"') > 3
    assert "read-only" in t.installed_info()


def test_the_built_tab_disables_its_buttons_without_access(tmp_path):
    from tests.api.conftest import preserved_shared
    from tests.ui.conftest import Page, build_ui

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with preserved_shared():
        page = Page(*build_ui(data_dir, "--listen"))
    for elem_id in ("extensions_apply_button", "extensions_check_button", "extensions_install_button",
                    "extensions_load_available", "extension_backup_restore", "extension_backup_save"):
        assert page.elem(elem_id)["props"]["interactive"] is False, elem_id
    assert page.elem("extensions_apply_button")["props"]["value"] == "Apply and restart UI"  # Reload UI in-process


def test_config_state_save_list_restore_round_trip(tab, source_repo, tmp_path, monkeypatch):
    extensions_tab, shared = tab
    from modules import config_states, extensions_install

    # the web UI root of these states is a throwaway checkout, never the real one
    root = tmp_path / "webui-root"
    root.mkdir()
    git("init", "-q", "-b", "master", cwd=root)
    root_first = commit_file(root, "webui.txt", "1", "webui 1")
    monkeypatch.setattr(config_states, "webui_root", lambda: str(root))
    monkeypatch.setattr(shared.state, "request_restart", lambda: None, raising=False)

    extensions_tab.install_extension_from_url("", str(source_repo), "")
    target = os.path.join(shared.paths.extensions_dir, "sd-tab-ext")
    first = git("rev-parse", "HEAD", cwd=target)
    states, info = extensions_tab.save_config_state("before update")
    path = re.search(r'to "(.+)"', info).group(1).replace("&quot;", '"')
    assert re.fullmatch(r"\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d_before update\.json", os.path.basename(path))
    with open(path, encoding="utf8") as f:
        state = json.load(f)
    assert state["name"] == "before update" and isinstance(state["created_at"], float)
    assert state["webui"] == {"remote": None, "commit_hash": root_first, "commit_date": state["webui"]["commit_date"],
                              "branch": "master"}
    ext = state["extensions"]["sd-tab-ext"]
    assert (ext["commit_hash"], ext["enabled"], ext["is_builtin"], ext["branch"], ext["remote"]) == (
        first, True, False, "main", str(source_repo))
    assert state["extensions"]["Lora"]["is_builtin"] is True and state["extensions"]["Lora"]["commit_hash"] is None
    title = states["value"]
    assert title.startswith("before update: ") and states["choices"] == ["Current", title]

    second = commit_file(source_repo, "README.md", "two\n", "second")
    assert extensions_install.fetch_and_reset_hard(target) == second
    root_second = commit_file(root, "webui.txt", "2", "webui 2")
    shared.opts.set("disabled_extensions", ["sd-tab-ext"])
    view = extensions_tab.update_config_states_table(title)
    assert f">{first[:8]}<" in view and f">{root_first[:8]}<" in view and "var(--primary-400)" in view

    assert extensions_tab.restore_config_state(False, title, "extensions") == "<span>Cancelled.</span>"
    assert "Select a config" in extensions_tab.restore_config_state(True, "Current", "extensions")
    message = extensions_tab.restore_config_state(True, title, "extensions")
    assert f"sd-tab-ext: {second[:8]} -&gt; {first[:8]}" in message
    assert git("rev-parse", "HEAD", cwd=target) == first
    assert saved_config(shared)["disabled_extensions"] == []
    assert git("rev-parse", "HEAD", cwd=root) == root_second  # "extensions" leaves the web UI alone

    message = extensions_tab.restore_config_state(True, title, "webui")
    assert f"Restored webui to commit {root_first}" in message and git("rev-parse", "HEAD", cwd=root) == root_first
    (root / "webui.txt").write_text("local change")
    assert "has local changes" in extensions_tab.restore_config_state(True, title, "both")
    assert (root / "webui.txt").read_text() == "local change"
    monkeypatch.setattr(config_states, "webui_root", lambda: str(tmp_path / "src"))
    assert "is not a git checkout" in extensions_tab.restore_config_state(True, title, "webui")


def test_restore_disables_extensions_the_state_does_not_know(tab, source_repo, monkeypatch, tmp_path):
    extensions_tab, shared = tab
    from modules import config_states

    monkeypatch.setattr(config_states, "webui_root", lambda: str(tmp_path))
    monkeypatch.setattr(shared.state, "request_restart", lambda: None, raising=False)
    states, _ = extensions_tab.save_config_state("")
    assert states["value"].startswith("Config: ")
    extensions_tab.install_extension_from_url("", str(source_repo), "")
    message = extensions_tab.restore_config_state(True, states["value"], "extensions")
    assert "Saved extension state not found in config, marking as disabled" in message
    assert saved_config(shared)["disabled_extensions"] == ["sd-tab-ext"]
    # a damaged file is skipped, not fatal
    with open(os.path.join(shared.paths.data_dir, "config_states", "broken.json"), "w") as f:
        f.write("{")
    assert extensions_tab.config_state_choices() == ["Current", states["value"]]


INDEX = {
    "tags": {"script": "a script", "ads": "has ads", "tool": "a tool"},
    "extensions": [
        {"name": "Alpha", "url": "https://example.invalid/a/alpha.git", "description": "first one", "tags": ["script"],
         "added": "2023-01-01", "created_at": "2022-12-01T00:00:00Z", "commit_time": "2024-03-01T00:00:00Z",
         "stars": 5},
        {"name": "Beta", "url": "https://example.invalid/b/beta", "description": "with ads", "tags": ["ads"],
         "added": "2023-06-01", "stars": 50},
        {"name": "Gamma", "url": "https://example.invalid/c/gamma", "description": "a gamma tool", "tags": ["tool"],
         "added": "2022-01-01", "stars": 7},
        {"name": "no url"},
    ],
}


def names_in(code: str) -> list[str]:
    return re.findall(r'target="_blank">([^<]+)</a><br />', code)


def test_available_index_tags_orders_search_and_install(tab, tmp_path, source_repo):
    extensions_tab, shared = tab
    index = dict(INDEX)
    index["extensions"] = INDEX["extensions"] + [{"name": "Local", "url": str(source_repo), "description": "local",
                                                  "added": "2024-01-01"}]
    path = tmp_path / "index.json"
    path.write_text(json.dumps(index))
    url, code, tags, search, result = extensions_tab.refresh_available_extensions(path.as_uri(), ["ads"], 0)
    assert url == path.as_uri() and search == "" and result == ""
    assert names_in(code) == ["Local", "Alpha", "Gamma"] and "Extension hidden: 1" in code
    assert tags["choices"] == ["script", "ads", "localization", "installed", "tool"]
    assert "<span class='extension-tag' title='a script'>script</span>" in code and "stars: <b>5</b>" in code

    def order(i: int) -> list[str]:
        return names_in(extensions_tab.refresh_available_extensions_for_tags([], i, "")[0])

    assert order(1) == ["Gamma", "Alpha", "Beta", "Local"]
    assert order(2) == ["Alpha", "Beta", "Gamma", "Local"] and order(3) == ["Local", "Gamma", "Beta", "Alpha"]
    assert order(4) == ["Alpha", "Beta", "Gamma", "Local"] and order(7)[:2] == ["Beta", "Gamma"]
    assert order(5)[0] == "Alpha"
    assert names_in(extensions_tab.search_extensions("GAMMA", [], 0)[0]) == ["Gamma"]
    assert names_in(extensions_tab.search_extensions("first", [], 0)[0]) == ["Alpha"]

    available, installed, message = extensions_tab.install_extension_from_index(str(source_repo), [], 0, "")
    assert "Use Installed tab to restart" in message and 'name="enable_sd-tab-ext"' in installed
    assert "Local" not in names_in(extensions_tab.refresh_available_extensions_for_tags(["installed"], 0, "")[0])
    row = re.search(r"Local</a><br />.*?</tr>", available, re.S).group(0)
    assert "installed</span>" in row and "disabled=disabled" in row and ">Installed</button>" in row


def test_available_load_failures_are_messages(tab, tmp_path):
    extensions_tab, _ = tab
    answer = extensions_tab.refresh_available_extensions("http://127.0.0.1:9/index.json", [], 0)
    assert answer[:4] == ({"__type__": "update"},) * 4
    assert "class='error'" in answer[-1] and "Could not load the extension index" in answer[-1]
    assert "must be http(s):// or file://" in extensions_tab.refresh_available_extensions("ftp://x/i.json", [], 0)[-1]
    broken = tmp_path / "broken.json"
    broken.write_text("<html>")
    assert "is not JSON" in extensions_tab.refresh_available_extensions(broken.as_uri(), [], 0)[-1]
    broken.write_text("[]")
    assert 'no &quot;extensions&quot; list' in extensions_tab.refresh_available_extensions(broken.as_uri(), [], 0)[-1]


def test_index_url_comes_from_the_environment(monkeypatch):
    from modules.ui import extensions_tab

    monkeypatch.delenv("WEBUI_EXTENSIONS_INDEX", raising=False)
    assert extensions_tab.index_url() == ("https://raw.githubusercontent.com/AUTOMATIC1111/"
                                          "stable-diffusion-webui-extensions/master/index.json")
    monkeypatch.setenv("WEBUI_EXTENSIONS_INDEX", "file:///tmp/index.json")
    assert extensions_tab.index_url() == "file:///tmp/index.json"
