// The page's core helpers: element lookup, task ids, Generate / Interrupt / Skip, keyboard shortcuts, tooltips.
// Loaded first, before javascript/*.js, when the page starts; see modules/ui/assets.py.

function gradioApp() {
    const app = document.getElementsByTagName("gradio-app");
    const root = app.length === 0 ? document : (app[0].shadowRoot || app[0]);
    // A1111's extensions call gradioApp().getElementById, which an element lacks
    if (root !== document && !root.getElementById) root.getElementById = id => document.getElementById(id);
    return root.querySelector ? root : document;
}

function webuiElement(id) {
    return gradioApp().querySelector("#" + id);
}

function webuiOpt(key, fallback) {
    const settings = window.webuiPageSettings || {};
    const value = (settings.opts || {})[key];
    return value === undefined || value === null ? fallback : value;
}

// tab name -> id of the task that tab is running (or last ran)
const webuiTasks = {};
// tab name -> function removing that tab's progress bar
const webuiProgressFinishers = {};

function webuiNewTaskId() {
    const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    let suffix = "";
    for (let i = 0; i < 15; i++) {
        suffix += alphabet[Math.floor(Math.random() * alphabet.length)];
    }
    return "task(" + suffix + ")";
}

function webuiCurrentTask(tab) {
    return webuiTasks[tab] || "";
}

function webuiShowSubmitButtons(tab, idle) {
    const box = webuiElement(tab + "_generate_box");
    if (box) {
        box.classList.toggle("generating", !idle);
    }
}

// Generate was pressed: make a task id, follow its progress, and hand the id to the server as the first value.
function webuiSubmit(tab, args, idIndex = 0) {
    const id = webuiNewTaskId();
    webuiTasks[tab] = id;
    webuiRememberTask(tab, id);
    webuiShowSubmitButtons(tab, false);
    webuiProgressFinishers[tab] = webuiRequestProgress(id, tab, function() {
        webuiShowSubmitButtons(tab, true);
    });
    const res = Array.from(args);
    res[idIndex] = id;
    return res;
}

// the server answered (pictures or a message): the job is over whatever the progress requests last saw
function webuiSubmitDone(tab) {
    const finish = webuiProgressFinishers[tab];
    delete webuiProgressFinishers[tab];
    if (finish) finish();
    webuiShowSubmitButtons(tab, true);
    webuiRememberTask(tab, null);
}

// the running task of a tab survives a page reload (🌀 reattaches to it)
function webuiRememberTask(tab, id) {
    try {
        if (id) localStorage.setItem(tab + "_task_id", id); else localStorage.removeItem(tab + "_task_id");
    } catch (e) {
        // storage may be disabled: restoring progress is then not offered
    }
    const tools = webuiElement(tab + "_tools");
    if (tools && !id) tools.classList.remove("can-restore");
}

function webuiStoredTask(tab) {
    try {
        return localStorage.getItem(tab + "_task_id");
    } catch (e) {
        return null;
    }
}

// 🌀 pressed: follow the stored task and hand its id to the server, which waits for the recorded result
function webuiRestoreProgress(tab) {
    const id = webuiStoredTask(tab) || "";
    if (id) {
        webuiTasks[tab] = id;
        webuiShowSubmitButtons(tab, false);
        webuiProgressFinishers[tab] = webuiRequestProgress(id, tab, () => webuiShowSubmitButtons(tab, true));
    }
    return id;
}

function webuiOfferRestore() {
    for (const tab of ["txt2img", "img2img"]) {
        const tools = webuiElement(tab + "_tools");
        if (tools && webuiStoredTask(tab) && !webuiTasks[tab]) tools.classList.add("can-restore");
    }
}

// ✨ upscale: the task id comes after (gallery, selected index, generation info)
function webuiSubmitUpscale(tab, args) {
    return webuiSubmit(tab, args, 3);
}

function confirmClearPrompt(prompt, negativePrompt) {
    if (!window.confirm("Delete prompt?")) {
        return [prompt, negativePrompt];
    }
    return ["", ""];
}

function webuiReloadUi() {
    // The server rebuilds the page in-process (Settings > Reload UI, Extensions > Apply and restart UI):
    // wait until it has gone down and answers again, then load the page anew (A1111's restart_reload).
    const note = document.createElement("div");
    note.id = "webui_reloading";
    note.textContent = "Reloading...";
    note.style.cssText = "position:fixed;inset:0;z-index:10000;display:flex;align-items:center;justify-content:center;" +
        "font:2em monospace;color:lightgray;background:var(--background-fill-primary, #fff);";
    document.body.appendChild(note);
    const started = Date.now();
    let wentDown = false;
    const ping = () => {
        fetch("./internal/ping", {cache: "no-store"}).then(r => {
            // a server that never went down within 20 s: reload anyway
            if (r.ok && (wentDown || Date.now() - started > 20000)) { window.location.reload(); return; }
            setTimeout(ping, 250);
        }).catch(() => { wentDown = true; setTimeout(ping, 250); });
    };
    setTimeout(ping, 250);
}

function webuiShowProfile(path) {
    fetch(path).then(r => r.json()).then(data => {
        const lines = Object.entries(data.records || {}).map(([k, v]) => k + ": " + v.toFixed(2) + "s");
        window.alert("Startup profile (total " + (data.total || 0).toFixed(1) + "s)\n\n" + lines.join("\n"));
    });
}

function webuiActiveTab() {
    const tabs = webuiElement("tabs");
    if (!tabs) return null;
    const selected = tabs.querySelector(":scope > .tab-wrapper button[role='tab'][aria-selected='true']");
    if (!selected) return null;
    const label = selected.textContent.trim();
    return label === "txt2img" ? "txt2img" : label === "img2img" ? "img2img" : null;
}

function webuiClick(id) {
    const el = webuiElement(id);
    if (el && el.offsetParent !== null) el.click();
}

// Ctrl/Cmd+Enter: Generate; Alt+Enter: Skip; Esc: Interrupt (not while a dialog or a full-screen view is open)
function webuiKeyboard(event) {
    const tab = webuiActiveTab();
    if (!tab) return;
    const inPrompt = event.target && event.target.tagName === "TEXTAREA" && event.target.closest(".prompt");
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && inPrompt) {
        event.preventDefault();
        const box = webuiElement(tab + "_generate_box");
        if (box && box.classList.contains("generating")) {
            webuiElement(tab + "_interrupt").click();
        } else {
            webuiElement(tab + "_generate").click();
        }
    } else if (event.key === "Enter" && event.altKey && inPrompt) {
        event.preventDefault();
        webuiClick(tab + "_skip");
    } else if (event.key === "Escape" && !document.fullscreenElement) {
        const box = webuiElement(tab + "_generate_box");
        if (box && box.classList.contains("generating")) {
            webuiElement(tab + "_interrupt").click();
        }
    }
}

function webuiApplyTooltips() {
    const tooltips = (window.webuiPageSettings || {}).tooltips || {};
    for (const [id, text] of Object.entries(tooltips)) {
        const el = webuiElement(id);
        if (el && !el.title) el.title = text;
    }
}

const webuiLoadedCallbacks = [];
const webuiDomCallbacks = [];

// run `callback` now and whenever the page's elements change (tabs render their contents when first shown)
function webuiOnDomChange(callback) {
    webuiDomCallbacks.push(callback);
}

let webuiDomTimer = null;

function webuiRunDomCallbacks() {
    webuiDomTimer = null;
    for (const callback of webuiDomCallbacks) {
        try {
            callback();
        } catch (e) {
            console.error("error running a page-change callback", e);
        }
    }
}

// extensions' scripts: run a function once the page's scripts are in (A1111's onUiLoaded)
function onUiLoaded(callback) {
    webuiLoadedCallbacks.push(callback);
}

webuiOnDomChange(webuiApplyTooltips);
webuiOnDomChange(webuiOfferRestore);

function webuiPageLoaded() {
    document.addEventListener("keydown", webuiKeyboard);
    webuiRunDomCallbacks();
    new MutationObserver(() => {
        if (webuiDomTimer === null) webuiDomTimer = setTimeout(webuiRunDomCallbacks, 50);
    }).observe(gradioApp(), {childList: true, subtree: true});
    for (const callback of webuiLoadedCallbacks) {
        try {
            callback();
        } catch (e) {
            console.error("error running a page-loaded callback", e);
        }
    }
}

function webuiClickTab(container, tabId) {
    const button = container && container.querySelector(":scope > .tab-wrapper [role='tab'][data-tab-id='" + tabId + "']");
    if (button) button.click();
    return !!button;
}

// show img2img's mode tab `tabId` (img2img, img2img_sketch, inpaint...), once the img2img tab has drawn it
function webuiSwitchImg2imgMode(tabId, triesLeft = 40) {
    if (webuiClickTab(webuiElement("mode_img2img"), tabId)) return;
    if (triesLeft > 0) setTimeout(() => webuiSwitchImg2imgMode(tabId, triesLeft - 1), 50);
}

// "Send to ..." buttons: show the destination tab (A1111's switch_to_txt2img / switch_to_inpaint...)
function webuiSwitchTo(destination) {
    const tabs = webuiElement("tabs");
    const main = {txt2img: "txt2img", img2img: "img2img", inpaint: "img2img", extras: "extras"}[destination] || destination;
    webuiClickTab(tabs, main);
    if (destination === "img2img") webuiSwitchImg2imgMode("img2img");
    if (destination === "inpaint") webuiSwitchImg2imgMode("inpaint");
    window.scrollTo(0, 0);
}
