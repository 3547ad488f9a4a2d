// The Extensions tab: the Installed table's checkboxes go to the server as JSON lists (A1111's extensions_apply /
// extensions_check), the Available table's Install buttons fill a hidden textbox and press a hidden button,
// restoring a config state asks first, and after Apply the page waits for the server to come back.
// The tables are HTML drawn by modules/ui/extensions_tab.py; their buttons carry no inline handlers.

function webuiExtensionCheckboxes() {
    return Array.from(gradioApp().querySelectorAll('#extensions input[type="checkbox"]'));
}

function webuiExtensionsDisabledList() {
    return webuiExtensionCheckboxes()
        .filter(x => x.name.startsWith("enable_") && !x.checked)
        .map(x => x.name.substring(7));
}

// "Apply and restart UI": (disabled list, update list, disable all) as the server wants them
function extensions_apply(_disabledList, _updateList, disableAll) {
    const update = webuiExtensionCheckboxes()
        .filter(x => x.name.startsWith("update_") && x.checked)
        .map(x => x.name.substring(7));
    return [JSON.stringify(webuiExtensionsDisabledList()), JSON.stringify(update), disableAll];
}

// "Check for updates": statuses show "Loading..." until the new table arrives
function extensions_check(_disabledList) {
    for (const cell of gradioApp().querySelectorAll("#extensions .extension_status")) {
        cell.innerHTML = "Loading...";
    }
    return [JSON.stringify(webuiExtensionsDisabledList())];
}

// A1111's name: an Available row's Install button
function install_extension_from_index(button, url) {
    button.disabled = "disabled";
    button.textContent = "Installing...";
    const box = webuiElement("extension_to_install");
    const input = box && box.querySelector("textarea, input");
    if (!input) return;
    input.value = url;
    input.dispatchEvent(new Event("input", {bubbles: true}));
    // give gradio the new value before the click sends it
    setTimeout(() => webuiElement("install_extension_button").click(), 100);
}

function config_state_confirm_restore(_, configStateName, configRestoreType) {
    if (configStateName === "Current") {
        return [false, configStateName, configRestoreType];
    }
    let restored = "the webui version and all saved extension versions";
    if (configRestoreType === "extensions") {
        restored = "all saved extension versions";
    } else if (configRestoreType === "webui") {
        restored = "the webui version";
    }
    const confirmed = confirm("Are you sure you want to restore from this state?\nThis will reset " + restored + ".");
    if (confirmed) {
        for (const cell of gradioApp().querySelectorAll("#extensions .extension_status")) {
            cell.innerHTML = "Loading...";
        }
    }
    return [confirmed, configStateName, configRestoreType];
}

// the header checkbox ticks or unticks every extension
function toggle_all_extensions(event) {
    for (const box of webuiExtensionCheckboxes()) {
        if (box.classList.contains("extension_toggle")) box.checked = event.target.checked;
    }
}

// one extension changed: the header checkbox shows whether all are ticked
function toggle_extension() {
    const boxes = webuiExtensionCheckboxes().filter(x => x.classList.contains("extension_toggle"));
    const all = gradioApp().querySelector("#extensions .all_extensions_toggle");
    if (all) all.checked = boxes.every(x => x.checked);
}

// Apply answered: the server restarts (or reloads the UI) now; show "Reloading..." and load the page again once
// it answers (script.js's webuiReloadUi).  When it quits, say so.
function webuiExtensionsAfterApply(info) {
    const text = String(info || "");
    if (!text.includes("extensions-restarting")) return;
    if (text.includes("data-how='quit'")) {
        const notice = document.createElement("h1");
        notice.id = "extensions_stopped";
        notice.style.cssText = "font-family:monospace;margin-top:20%;color:lightgray;text-align:center;";
        notice.textContent = "The web UI has stopped; start it again to load the extensions.";
        document.body.replaceChildren(notice);
        return;
    }
    webuiReloadUi();
}

function webuiExtensionsClick(event) {
    const target = event.target;
    if (!target || !target.closest) return;
    const button = target.closest("#available_extensions .extension-install-button");
    if (button && !button.disabled) {
        install_extension_from_index(button, button.dataset.url);
        return;
    }
    if (target.matches && target.matches("#extensions .all_extensions_toggle")) {
        toggle_all_extensions(event);
    } else if (target.matches && target.matches("#extensions .extension_toggle")) {
        toggle_extension();
    }
}

onUiLoaded(function() {
    gradioApp().addEventListener("click", webuiExtensionsClick);
});
