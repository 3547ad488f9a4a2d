// The Settings tab: the page list on the left shows one page at a time; "Show all pages" and the search box
// show every page (the search keeps only the settings whose label or text matches).

function webuiSettingsShowPage(pageId) {
    const pages = webuiElement("settings_pages");
    if (!pages) return;
    webuiElement("settings").classList.remove("settings-show-all");
    for (const page of pages.querySelectorAll(".settings-page")) {
        page.classList.toggle("settings-page-active", page.id === pageId);
    }
    for (const item of gradioApp().querySelectorAll(".settings-nav-item")) {
        item.classList.toggle("selected", item.dataset.page === pageId);
    }
}

function webuiSettingsShowAll(show) {
    const settings = webuiElement("settings");
    if (settings) settings.classList.toggle("settings-show-all", show);
    for (const item of gradioApp().querySelectorAll(".settings-nav-item")) item.classList.remove("selected");
}

function webuiSettingsSearch(text) {
    const query = text.trim().toLowerCase();
    const pages = webuiElement("settings_pages");
    if (!pages) return;
    webuiSettingsShowAll(query.length > 0);
    if (!query) {
        const first = gradioApp().querySelector(".settings-nav-item");
        if (first) webuiSettingsShowPage(first.dataset.page);
    }
    for (const block of pages.querySelectorAll(".settings-page [id^='setting_']")) {
        const matches = !query || block.textContent.toLowerCase().includes(query) || block.id.toLowerCase().includes(query);
        const holder = block.closest(".form") && block.closest(".form").children.length === 1 ? block.closest(".form") : block;
        holder.classList.toggle("settings-hidden", !matches);
    }
}

function webuiSetupSettings() {
    const nav = webuiElement("settings_nav");
    if (!nav || nav.dataset.webuiReady) return;
    nav.dataset.webuiReady = "1";
    nav.addEventListener("click", event => {
        const item = event.target.closest(".settings-nav-item");
        if (!item) return;
        const search = webuiElement("settings_search");
        const input = search && search.querySelector("textarea, input");
        if (input && input.value) {
            input.value = "";
            webuiSettingsSearch("");
        }
        webuiSettingsShowPage(item.dataset.page);
    });
    const first = nav.querySelector(".settings-nav-item");
    if (first) webuiSettingsShowPage(first.dataset.page);
    const showAll = webuiElement("settings_show_all_pages");
    if (showAll) showAll.addEventListener("click", () => webuiSettingsShowAll(true));
    const search = webuiElement("settings_search");
    const input = search && search.querySelector("textarea, input");
    if (input) input.addEventListener("input", () => webuiSettingsSearch(input.value));
}

webuiOnDomChange(webuiSetupSettings);
