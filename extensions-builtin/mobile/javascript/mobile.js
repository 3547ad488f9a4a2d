// Narrow screens (built-in extension "mobile").
// When the window is too narrow for the settings and the results side by side, the results column wraps below the
// settings; the Generate / Interrupt / Skip box then moves to the top of the results column (class "mobile" on it),
// next to the pictures it makes, and moves back above the tab once the window is wide again.

const mobileTabs = ["txt2img", "img2img"];

// A1111's name: true when a generation tab's results column sits under its settings instead of beside them
function isMobile() {
    return mobileTabs.some(mobileTabIsStacked);
}

function mobileTabIsStacked(tab) {
    const results = gradioApp().querySelector("#" + tab + "_results");
    const settings = gradioApp().querySelector("#" + tab + "_settings");
    if (!results || !settings || !results.offsetParent || !settings.offsetParent) return false;
    const r = results.getBoundingClientRect();
    const s = settings.getBoundingClientRect();
    return r.top >= s.bottom - 1 && r.left <= s.left + 1;
}

function mobilePlaceGenerateBox(tab) {
    const results = gradioApp().querySelector("#" + tab + "_results");
    const actions = gradioApp().querySelector("#" + tab + "_actions_column");
    const button = gradioApp().querySelector("#" + tab + "_generate_box");
    // a tab not drawn yet (img2img before it is first shown), or hidden: leave it as it is
    if (!results || !actions || !button || !results.offsetParent) return;
    const mobile = mobileTabIsStacked(tab);
    const target = mobile ? results : actions;
    if (button.parentElement !== target) target.insertBefore(button, target.firstElementChild);
    results.classList.toggle("mobile", mobile);
}

// A1111's name: re-place the generate boxes for the window's current width
function reportWindowSize() {
    if (gradioApp().querySelector(".toprow-compact-tools")) return; // the compact prompt layout keeps its own place
    for (const tab of mobileTabs) mobilePlaceGenerateBox(tab);
}

window.addEventListener("resize", reportWindowSize);

onUiLoaded(function() {
    reportWindowSize();
    // img2img's columns are laid out only when its tab is first shown
    if (typeof webuiOnDomChange === "function") webuiOnDomChange(reportWindowSize);
});
