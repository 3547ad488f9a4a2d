// The global functions A1111's page scripts offer and extensions' scripts call (script.js and ui.js of A1111):
// callbacks on page changes, tab changes and option changes, the current tab, the `opts` object, small request
// helpers and the "switch to tab" functions.  Built on this page's own helpers (script.js).

/* global webuiOnDomChange, webuiSwitchTo, webuiNewTaskId, webuiReloadUi, webuiElement */

var uiUpdateCallbacks = [];
var uiAfterUpdateCallbacks = [];
var uiTabChangeCallbacks = [];
var optionsChangedCallbacks = [];
var optionsAvailableCallbacks = [];
var uiCurrentTab = null;
var opts = {};

function executeCallbacks(queue, arg) {
    for (const callback of queue) {
        try {
            callback(arg);
        } catch (e) {
            console.error("error running callback", callback, ":", e);
        }
    }
}

// `callback(mutationRecords)` on every change of the page's elements
function onUiUpdate(callback) {
    uiUpdateCallbacks.push(callback);
}

// `callback()` once a burst of changes has settled
function onAfterUiUpdate(callback) {
    uiAfterUpdateCallbacks.push(callback);
}

// `callback()` when another top-level tab is shown (uiCurrentTab is the tab's button)
function onUiTabChange(callback) {
    uiTabChangeCallbacks.push(callback);
}

// `callback()` when `opts` has been (re)loaded
function onOptionsChanged(callback) {
    optionsChangedCallbacks.push(callback);
}

function onOptionsAvailable(callback) {
    if (Object.keys(opts).length !== 0) {
        callback();
        return;
    }
    optionsAvailableCallbacks.push(callback);
}

// the server's current options as JSON (sent on page load and after Apply settings)
function webuiSetOptions(json) {
    try {
        opts = JSON.parse(json || "{}");
    } catch (e) {
        console.error("bad options JSON", e);
        return;
    }
    executeCallbacks(optionsAvailableCallbacks);
    optionsAvailableCallbacks = [];
    executeCallbacks(optionsChangedCallbacks);
}

function get_uiCurrentTab() {
    return gradioApp().querySelector("#tabs > .tab-wrapper button[role='tab'][aria-selected='true']") ||
        gradioApp().querySelector("#tabs button[role='tab'][aria-selected='true']");
}

function get_uiCurrentTabContent() {
    const items = gradioApp().querySelectorAll("#tabs > .tabitem[id^='tab_'], #tabs > div > .tabitem[id^='tab_']");
    for (const item of items) {
        if (uiElementIsVisible(item)) return item;
    }
    return null;
}

// index of the selected tab button of the tabs container `tabId`
function get_tab_index(tabId) {
    const buttons = gradioApp().querySelectorAll("#" + tabId + " > .tab-wrapper button[role='tab'], #" + tabId + " > div > button");
    let index = 0;
    buttons.forEach((button, i) => {
        if (button.classList.contains("selected") || button.getAttribute("aria-selected") === "true") index = i;
    });
    return index;
}

function uiElementIsVisible(el) {
    if (el === document) return true;
    const style = window.getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") return false;
    return el.parentNode ? uiElementIsVisible(el.parentNode) : true;
}

function uiElementInSight(el) {
    const rect = el.getBoundingClientRect();
    return rect.bottom > 0 && rect.top < (window.innerHeight || document.documentElement.clientHeight);
}

function switch_to_txt2img() {
    webuiSwitchTo("txt2img");
    return Array.from(arguments);
}

function switch_to_img2img() {
    webuiSwitchTo("img2img");
    return Array.from(arguments);
}

function switch_to_inpaint() {
    webuiSwitchTo("inpaint");
    return Array.from(arguments);
}

function switch_to_extras() {
    webuiSwitchTo("extras");
    return Array.from(arguments);
}

function randomId() {
    return webuiNewTaskId();
}

function restart_reload() {
    webuiReloadUi();
    return [];
}

// POST `data` as JSON; `handler(json)` or `errorHandler()`
function request(url, data, handler, errorHandler) {
    fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(data)})
        .then(r => r.ok ? r.json() : Promise.reject(r.status))
        .then(handler, () => errorHandler && errorHandler());
}

function requestGet(url, data, handler, errorHandler) {
    const query = new URLSearchParams(data || {}).toString();
    fetch(query ? url + "?" + query : url)
        .then(r => r.ok ? r.json() : Promise.reject(r.status))
        .then(handler, () => errorHandler && errorHandler());
}

(function() {
    let afterTimer = null;
    let lastTab = null;

    function afterUpdate() {
        afterTimer = null;
        executeCallbacks(uiAfterUpdateCallbacks);
        const tab = get_uiCurrentTab();
        if (tab && tab !== lastTab) {
            lastTab = tab;
            uiCurrentTab = tab;
            executeCallbacks(uiTabChangeCallbacks);
        }
    }

    function start() {
        new MutationObserver(mutations => {
            executeCallbacks(uiUpdateCallbacks, mutations);
            if (afterTimer !== null) clearTimeout(afterTimer);
            afterTimer = setTimeout(afterUpdate, 200);
        }).observe(gradioApp(), {childList: true, subtree: true});
        afterUpdate();
        // the options may have arrived before the page's scripts
        if (window.webuiPendingOptions !== undefined) webuiSetOptions(window.webuiPendingOptions);
    }

    // A1111's scripts register their callbacks while loading; run the first round once all are in
    onUiLoaded(start);
})();
