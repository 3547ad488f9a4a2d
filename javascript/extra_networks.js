// Extra-networks pages: search, sort and refresh; a click on a card adds its text to the prompt, or removes it
// when it is already there (A1111's toggle); a checkpoint card selects that checkpoint; 🛠 opens the user
// metadata editor.  Events are caught once at the document (delegation), so a card works the moment a refresh
// puts it on the page, before the page-change callbacks have run.

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

// a card shows when it matches the search; cards of hidden folders ("search only") need a search of 4 characters
// or more; a dir button in exact mode (extra_networks_dir_button_function) shows only its folder's own cards
function webuiFilterCards(pane) {
    const search = pane.querySelector(".extra-network-search");
    const query = search ? search.value.trim().toLowerCase() : "";
    const exactDir = pane.dataset.selectedDir;
    for (const card of pane.querySelectorAll(".card")) {
        let visible = query.length === 0 || card.dataset.search.includes(query);
        if (card.dataset.searchOnly === "true" && query.length < 4) visible = false;
        if (exactDir !== undefined && card.dataset.dir !== exactDir) visible = false;
        card.classList.toggle("hidden", !visible);
    }
}

function webuiSetSearch(pane, text) {
    const search = pane.querySelector(".extra-network-search");
    if (search) search.value = text;
}

// "Dirs" view: a button searches for its text ("sub/", "/sub/"); in exact mode it shows the folder's own cards
// without touching the search; "all" or a second click on the chosen button shows everything again
function webuiDirButtonClicked(pane, button) {
    const view = button.closest(".extra-network-dirs");
    const wasSelected = button.classList.contains("selected");
    for (const other of view.querySelectorAll("button.selected")) other.classList.remove("selected");
    const choose = !wasSelected && button.dataset.dir !== "";
    if (choose) button.classList.add("selected");
    if (view.dataset.exact === "true") {
        if (choose) pane.dataset.selectedDir = button.dataset.dir;
        else delete pane.dataset.selectedDir;
    } else {
        webuiSetSearch(pane, choose ? button.textContent.trim() : "");
    }
    webuiFilterCards(pane);
}

// "Tree" view: a folder opens and shows the cards under it (search "/<folder>/"), a second click closes it and
// shows everything; a file does what a click on its card does
function webuiTreeClicked(pane, label) {
    const node = label.parentElement;
    if (node.classList.contains("tree-file")) {
        const card = Array.from(pane.querySelectorAll(".card")).find(c => c.dataset.name === node.dataset.name);
        if (card) webuiCardClicked(card, pane.dataset.tabname);
        return;
    }
    const wasSelected = node.classList.contains("selected");
    for (const other of pane.querySelectorAll(".tree-dir.selected")) other.classList.remove("selected");
    if (wasSelected) {
        node.classList.remove("expanded");
        webuiSetSearch(pane, "");
    } else {
        node.classList.add("selected", "expanded");
        webuiSetSearch(pane, "/" + node.dataset.dir.toLowerCase() + "/");
    }
    webuiFilterCards(pane);
}

// the directory view opened or closed by its button stays so after a refresh of the page's cards
const webuiDirViewShown = {};

function webuiDirView(pane) {
    return pane.querySelector(".extra-network-tree, .extra-network-dirs");
}

function webuiToggleDirView(pane) {
    const view = webuiDirView(pane);
    if (!view) return;
    const shown = view.classList.toggle("hidden") === false;
    webuiDirViewShown[pane.id] = shown;
    pane.querySelector(".extra-network-tree-toggle").classList.toggle("selected", shown);
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

function webuiRefreshExtraNetworkPane(pane) {
    const button = webuiElement(pane.dataset.tabname + "_" + pane.dataset.page + "_extra_refresh_internal");
    if (button) button.click();
}

// --- the user metadata editor (🛠) ---

// a JSON answer, or a rejection carrying the server's reason
function webuiJsonOrError(r) {
    return r.ok ? r.json() : r.json().then(e => Promise.reject(new Error(e.detail || r.statusText)));
}

// POST `body` as JSON; on success close the editor and list the pane's cards again, else show the reason
function webuiPostAndRefresh(url, body, pane, message) {
    return fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
        .then(webuiJsonOrError)
        .then(() => {
            webuiCloseMetadataEditor();
            webuiRefreshExtraNetworkPane(pane);
        })
        .catch(e => {
            message.textContent = String(e.message || e);
        });
}

function webuiMetadataUrl(pane, card) {
    return "./sd_extra_networks/user-metadata?page=" + encodeURIComponent(pane.dataset.page) +
        "&item=" + encodeURIComponent(card.dataset.name);
}

function webuiCloseMetadataEditor() {
    for (const popup of document.querySelectorAll(".extra-network-user-metadata")) popup.remove();
}

// A1111's labels for the keys of <stem>.json
const webuiMetadataLabels = {
    "description": "Description", "notes": "Notes", "sd version": "Stable Diffusion version",
    "activation text": "Activation text", "preferred weight": "Preferred weight", "negative text": "Negative prompt",
    "vae": "Preferred VAE",
};

function webuiMetadataField(key, value, sdVersions, vaeChoices) {
    const label = document.createElement("label");
    const title = document.createElement("span");
    title.textContent = webuiMetadataLabels[key] || key;
    label.appendChild(title);
    let input;
    if (key === "description" || key === "notes") {
        input = document.createElement("textarea");
        input.rows = key === "description" ? 3 : 4;
    } else if (key === "sd version") {
        input = document.createElement("select");
        for (const version of sdVersions) input.appendChild(new Option(version, version));
        value = value || "Unknown";
    } else if (key === "vae") {
        input = document.createElement("select");
        for (const choice of vaeChoices || []) input.appendChild(new Option(choice, choice));
        value = value || "Automatic";
    } else {
        input = document.createElement("input");
        if (key === "preferred weight") {
            input.type = "number";
            input.min = "0";
            input.max = "2";
            input.step = "0.01";
        }
    }
    input.name = key;
    input.value = value === undefined || value === null ? "" : String(value);
    label.appendChild(input);
    return label;
}

function webuiOpenMetadataEditor(pane, card) {
    webuiCloseMetadataEditor();
    const url = webuiMetadataUrl(pane, card);
    fetch(url).then(webuiJsonOrError)
        .then(data => {
            const popup = document.createElement("div");
            popup.id = pane.dataset.tabname + "_" + pane.dataset.page + "_edit_user_metadata";
            popup.className = "extra-network-user-metadata";
            const box = document.createElement("div");
            box.className = "edit-user-metadata";
            const heading = document.createElement("h1");
            heading.textContent = data.name;
            box.appendChild(heading);
            const info = document.createElement("table");
            info.className = "file-info";
            for (const [label, value] of [["Filename", data.filename], ["File size", data.size + " bytes"],
                ["Modified", data.modified]]) {
                const row = info.insertRow();
                row.insertCell().textContent = label;
                row.insertCell().textContent = value;
            }
            box.appendChild(info);
            for (const key of data.fields) box.appendChild(webuiMetadataField(key, data.values[key], data.sd_versions, data.vae_choices));
            if (data.tags && data.tags.length) box.appendChild(webuiTrainingTags(box, data.tags));
            const message = document.createElement("div");
            message.className = "metadata-message";
            box.appendChild(message);
            const buttons = document.createElement("div");
            buttons.className = "edit-user-metadata-buttons";
            const save = document.createElement("button");
            save.className = "save lg primary";
            save.textContent = "Save";
            const cancel = document.createElement("button");
            cancel.className = "cancel lg secondary";
            cancel.textContent = "Cancel";
            const replace = document.createElement("button");
            replace.className = "replace-preview lg primary";
            replace.textContent = "Replace preview";
            replace.title = "Use the picture selected in this tab's gallery as the card's preview";
            replace.addEventListener("click", () => webuiReplacePreview(pane, card, message));
            buttons.append(cancel, replace, save);
            box.appendChild(buttons);
            popup.appendChild(box);
            cancel.addEventListener("click", webuiCloseMetadataEditor);
            popup.addEventListener("click", event => {
                if (event.target === popup) webuiCloseMetadataEditor();
            });
            save.addEventListener("click", () => {
                const values = {};
                for (const input of box.querySelectorAll("[name]")) values[input.name] = input.value;
                webuiPostAndRefresh(url, values, pane, message);
            });
            document.body.appendChild(popup);
        })
        .catch(e => console.warn("extra networks: no metadata for " + card.dataset.name + ": " + e));
}

// the LoRA editor's "Training dataset tags": a click adds the tag to the activation text; "Random prompt" picks
// tags with a chance proportional to their count (A1111's rule)
function webuiTrainingTags(box, tags) {
    const section = document.createElement("div");
    section.className = "training-tags";
    const title = document.createElement("span");
    title.textContent = "Training dataset tags";
    section.appendChild(title);
    const list = document.createElement("div");
    list.className = "training-tags-list";
    const activation = () => box.querySelector("[name='activation text']");
    for (const [tag, count] of tags.slice(0, 200)) {
        const button = document.createElement("button");
        button.className = "training-tag";
        button.dataset.tag = tag;
        button.textContent = tag + " (" + count + ")";
        button.addEventListener("click", () => {
            const input = activation();
            if (input) input.value = input.value.trim() ? input.value.trim().replace(/,$/, "") + ", " + tag : tag;
        });
        list.appendChild(button);
    }
    const random = document.createElement("button");
    random.className = "random-prompt lg secondary";
    random.textContent = "Random prompt";
    random.addEventListener("click", () => {
        const input = activation();
        const most = tags[0][1];
        const picked = tags.filter(([, count]) => count > Math.random() * most)
            .map(([tag]) => tag.replace(/[(){}[\]]/g, c => "\\" + c)).sort();
        if (input) input.value = picked.join(", ");
    });
    section.append(list, random);
    return section;
}

// "Replace preview": the picture selected in the tab's gallery (else its first) becomes the card's preview
function webuiReplacePreview(pane, card, message) {
    const gallery = document.getElementById(pane.dataset.tabname + "_gallery");
    const thumbnails = typeof webuiGalleryButtons === "function" ? webuiGalleryButtons(gallery) : [];
    const selected = typeof webuiGallerySelectedIndex === "function" ? webuiGallerySelectedIndex(gallery) : -1;
    const img = (thumbnails[selected] || thumbnails[0] || gallery || document).querySelector("img");
    if (!img || !img.src) {
        message.textContent = "Generate or select a picture in the gallery first.";
        return;
    }
    const url = "./sd_extra_networks/replace-preview?page=" + encodeURIComponent(pane.dataset.page) +
        "&item=" + encodeURIComponent(card.dataset.name);
    fetch(img.src).then(r => r.blob()).then(blob => new Promise((resolve, reject) => {
        const reader = new FileReader();
        reader.onload = () => resolve(reader.result);
        reader.onerror = reject;
        reader.readAsDataURL(blob);
    })).then(dataUrl => webuiPostAndRefresh(url, {image: dataUrl}, pane, message),
        e => { message.textContent = String(e.message || e); });
}

// --- the file's own metadata (ⓘ): a table of the safetensors metadata, nested values as JSON ---

function webuiShowFileMetadata(pane, card) {
    const url = "./sd_extra_networks/metadata?page=" + encodeURIComponent(pane.dataset.page) +
        "&item=" + encodeURIComponent(card.dataset.name);
    fetch(url).then(r => r.ok ? r.json() : Promise.reject(r.status)).then(data => {
        webuiCloseMetadataEditor();
        const metadata = JSON.parse(data.metadata || "{}");
        const popup = document.createElement("div");
        popup.className = "extra-network-user-metadata extra-network-file-metadata";
        popup.id = pane.dataset.tabname + "_" + pane.dataset.page + "_metadata_popup";
        const box = document.createElement("div");
        box.className = "edit-user-metadata";
        const table = document.createElement("table");
        table.className = "file-metadata";
        for (const [key, value] of Object.entries(metadata)) {
            const row = table.insertRow();
            row.insertCell().textContent = key;
            const cell = row.insertCell();
            if (typeof value === "object" && value !== null) {
                const pre = document.createElement("pre");
                pre.textContent = JSON.stringify(value, null, 2);
                cell.appendChild(pre);
            } else {
                cell.textContent = String(value);
            }
        }
        const close = document.createElement("button");
        close.textContent = "Close";
        close.className = "lg secondary";
        close.onclick = webuiCloseMetadataEditor;
        box.append(table, close);
        popup.appendChild(box);
        popup.addEventListener("click", e => { if (e.target === popup) webuiCloseMetadataEditor(); });
        document.body.appendChild(popup);
    }).catch(e => console.warn("extra networks: no metadata for " + card.dataset.name + ": " + e));
}

// --- events, caught once for every pane ---

function webuiExtraNetworkClick(event) {
    const pane = event.target.closest && event.target.closest(".extra-network-pane");
    if (!pane || !pane.dataset.page) return;
    const card = event.target.closest(".card");
    if (card) {
        event.stopPropagation();
        if (event.target.closest(".edit-button")) webuiOpenMetadataEditor(pane, card);
        else if (event.target.closest(".metadata-button")) webuiShowFileMetadata(pane, card);
        else if (!event.target.closest(".card-button")) webuiCardClicked(card, pane.dataset.tabname);
        return;
    }
    if (event.target.closest(".extra-network-order")) {
        const order = pane.querySelector(".extra-network-order");
        order.dataset.descending = order.dataset.descending === "true" ? "false" : "true";
        order.innerHTML = order.dataset.descending === "true" ? "&#x2193;" : "&#x2191;";
        webuiSortCards(pane);
    } else if (event.target.closest(".extra-network-refresh")) {
        webuiRefreshExtraNetworkPane(pane);
    } else if (event.target.closest(".extra-network-tree-toggle")) {
        webuiToggleDirView(pane);
    } else if (event.target.closest(".extra-network-dir-button")) {
        webuiDirButtonClicked(pane, event.target.closest(".extra-network-dir-button"));
    } else if (event.target.closest(".extra-network-tree .tree-label")) {
        webuiTreeClicked(pane, event.target.closest(".tree-label"));
    }
}

function webuiExtraNetworkInput(event) {
    const pane = event.target.closest && event.target.closest(".extra-network-pane");
    if (!pane) return;
    if (event.target.classList.contains("extra-network-search")) webuiFilterCards(pane);
    else if (event.target.classList.contains("extra-network-sort")) webuiSortCards(pane);
}

function webuiSetupExtraNetworks() {
    if (!window.webuiExtraNetworkEvents) {
        window.webuiExtraNetworkEvents = true;
        document.addEventListener("click", webuiExtraNetworkClick, true);
        document.addEventListener("input", webuiExtraNetworkInput, true);
        document.addEventListener("change", webuiExtraNetworkInput, true);
    }
    for (const pane of gradioApp().querySelectorAll(".extra-network-pane")) {
        if (pane.dataset.webuiReady || !pane.dataset.page) continue;
        pane.dataset.webuiReady = "1";
        const view = webuiDirView(pane);
        if (view && pane.id in webuiDirViewShown) view.classList.toggle("hidden", !webuiDirViewShown[pane.id]);
        const toggle = pane.querySelector(".extra-network-tree-toggle");
        if (toggle) toggle.classList.toggle("selected", !!view && !view.classList.contains("hidden"));
        webuiSortCards(pane);
        webuiFilterCards(pane);
    }
}

webuiOnDomChange(webuiSetupExtraNetworks);
