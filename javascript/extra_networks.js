// Extra-networks pages: search, sort and refresh; a click on a card adds its text to the prompt, or removes it
// when it is already there (A1111's toggle); a checkpoint card selects that checkpoint.

function webuiTextareaOf(id) {
    const box = webuiElement(id);
    return box ? box.querySelector("textarea") : null;
}

function webuiSetTextarea(textarea, value) {
    textarea.value = value;
    textarea.dispatchEvent(new Event("input", {bubbles: true}));
}

// add `text` to the textarea (separated by the separator setting), or remove it when present
function webuiToggleText(textarea, text) {
    if (!textarea || !text) return;
    const current = textarea.value;
    const separator = webuiOpt("extra_networks_add_text_separator", " ");
    const at = current.indexOf(text);
    if (at >= 0) {
        let before = current.slice(0, at);
        let after = current.slice(at + text.length);
        if (before.endsWith(separator) && separator) before = before.slice(0, -separator.length);
        else if (after.startsWith(separator) && separator) after = after.slice(separator.length);
        webuiSetTextarea(textarea, (before + after).trim());
        return;
    }
    webuiSetTextarea(textarea, current.trim() ? current.replace(/\s+$/, "") + separator + text : text);
}

function webuiCardClicked(card, tabname) {
    if (card.dataset.checkpoint) {
        const box = webuiElement("change_checkpoint_name");
        const input = box && box.querySelector("textarea, input");
        if (input) {
            webuiSetTextarea(input, card.dataset.checkpoint);
            setTimeout(() => webuiElement("change_checkpoint").click(), 100);
        }
        return;
    }
    const prompt = JSON.parse(card.dataset.prompt || '""');
    const negative = JSON.parse(card.dataset.neg || '""');
    webuiToggleText(webuiTextareaOf(tabname + "_prompt"), prompt);
    if (negative && card.dataset.allowNeg === "true") webuiToggleText(webuiTextareaOf(tabname + "_neg_prompt"), negative);
}

function webuiFilterCards(pane) {
    const search = pane.querySelector(".extra-network-search");
    const query = search ? search.value.trim().toLowerCase() : "";
    for (const card of pane.querySelectorAll(".card")) {
        card.classList.toggle("hidden", query.length > 0 && !card.dataset.search.includes(query));
    }
}

function webuiSortCards(pane) {
    const select = pane.querySelector(".extra-network-sort");
    const order = pane.querySelector(".extra-network-order");
    const container = pane.querySelector(".extra-network-cards");
    if (!select || !container) return;
    const key = "sort" + select.value.split("_").map(p => p[0].toUpperCase() + p.slice(1)).join("");
    const descending = order && order.dataset.descending === "true";
    const cards = Array.from(container.querySelectorAll(".card"));
    cards.sort((a, b) => {
        const x = a.dataset[key] || "", y = b.dataset[key] || "";
        const numeric = !isNaN(x) && !isNaN(y) && x !== "" && y !== "";
        const cmp = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return descending ? -cmp : cmp;
    });
    for (const card of cards) container.appendChild(card);
}

function webuiSetupExtraNetworkPane(pane) {
    if (pane.dataset.webuiReady || !pane.dataset.page) return;
    pane.dataset.webuiReady = "1";
    const tabname = pane.dataset.tabname;
    pane.addEventListener("click", event => {
        const card = event.target.closest(".card");
        if (card) {
            webuiCardClicked(card, tabname);
            return;
        }
        if (event.target.closest(".extra-network-order")) {
            const order = pane.querySelector(".extra-network-order");
            order.dataset.descending = order.dataset.descending === "true" ? "false" : "true";
            order.innerHTML = order.dataset.descending === "true" ? "&#x2193;" : "&#x2191;";
            webuiSortCards(pane);
        } else if (event.target.closest(".extra-network-refresh")) {
            const button = webuiElement(tabname + "_" + pane.dataset.page + "_extra_refresh_internal");
            if (button) button.click();
        }
    });
    const search = pane.querySelector(".extra-network-search");
    if (search) search.addEventListener("input", () => webuiFilterCards(pane));
    const sort = pane.querySelector(".extra-network-sort");
    if (sort) sort.addEventListener("change", () => webuiSortCards(pane));
    webuiSortCards(pane);
}

function webuiSetupExtraNetworks() {
    for (const pane of gradioApp().querySelectorAll(".extra-network-pane")) webuiSetupExtraNetworkPane(pane);
}

webuiOnDomChange(webuiSetupExtraNetworks);
