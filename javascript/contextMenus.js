// Right-click menus (A1111's contextMenus.js): extensions add entries with
// appendContextMenuOption(selector, name, func), which returns an id for removeContextMenuOption(id).
// The built-in entries are "Generate forever" / "Cancel generate forever" on txt2img's and img2img's Generate
// (and "Cancel generate forever" on Interrupt).

// selector -> [{id, name, func}], in the order they were added
const webuiContextMenuSpecs = new Map();
let webuiContextMenuListening = false;

function webuiContextMenuUid() {
    return Date.now().toString(36) + Math.random().toString(36).substring(2);
}

function webuiRemoveContextMenu() {
    const old = document.getElementById("context-menu");
    if (old) old.remove();
}

function webuiShowContextMenu(event, entries) {
    webuiRemoveContextMenu();
    const x = event.clientX + document.documentElement.scrollLeft;
    const y = event.clientY + document.documentElement.scrollTop;
    const base = window.getComputedStyle(document.querySelector("gradio-app") || document.body);

    const menu = document.createElement("nav");
    menu.id = "context-menu";
    menu.style.background = base.backgroundColor;
    menu.style.color = base.color;
    menu.style.fontFamily = base.fontFamily;
    menu.style.top = y + "px";
    menu.style.left = x + "px";
    const list = document.createElement("ul");
    list.className = "context-menu-items";
    menu.append(list);
    for (const entry of entries) {
        const item = document.createElement("a");
        item.textContent = entry.name;
        item.addEventListener("click", () => {
            webuiRemoveContextMenu();
            entry.func();
        });
        list.append(item);
    }
    document.body.appendChild(menu);

    // keep the whole menu on screen
    const width = menu.offsetWidth + 4;
    const height = menu.offsetHeight + 4;
    if (window.innerWidth - event.clientX < width) menu.style.left = (window.innerWidth - width) + "px";
    if (window.innerHeight - event.clientY < height) menu.style.top = (window.innerHeight - height) + "px";
}

function appendContextMenuOption(targetElementSelector, entryName, entryFunction) {
    if (!webuiContextMenuSpecs.has(targetElementSelector)) webuiContextMenuSpecs.set(targetElementSelector, []);
    const id = targetElementSelector + "_" + webuiContextMenuUid();
    webuiContextMenuSpecs.get(targetElementSelector).push({id: id, name: entryName, func: entryFunction});
    return id;
}

function removeContextMenuOption(uid) {
    for (const entries of webuiContextMenuSpecs.values()) {
        const index = entries.findIndex(entry => entry.id === uid);
        if (index >= 0) entries.splice(index, 1);
    }
}

function addContextMenuEventListener() {
    if (webuiContextMenuListening) return;
    webuiContextMenuListening = true;
    // a person's click anywhere closes the menu (a script's synthetic clicks do not)
    document.addEventListener("click", event => {
        if (event.isTrusted && !(event.target.closest && event.target.closest("#context-menu"))) {
            webuiRemoveContextMenu();
        }
    });
    document.addEventListener("contextmenu", event => {
        webuiRemoveContextMenu();
        const target = event.composedPath()[0];
        if (!target || !target.closest) return;
        // every selector matching the clicked element (or the element holding it: a button's label) contributes
        const entries = [];
        for (const [selector, items] of webuiContextMenuSpecs) {
            if (target.closest(selector)) entries.push(...items);
        }
        if (entries.length) {
            event.preventDefault();
            webuiShowContextMenu(event, entries);
        }
    });
}

// --- Generate forever -------------------------------------------------------------------------------------------

// one repetition at a time for the whole page, as in A1111 (a new "Generate forever" replaces the previous one)
window.generateOnRepeatInterval = null;

// A tab is busy from Generate until its job's result arrived: script.js marks `<tab>_generate_box` "generating"
// (webuiSubmit / webuiSubmitDone).  Reading that, rather than whether Interrupt is visible, keeps repeating while
// another tab is shown.
function webuiTabIsGenerating(tab) {
    const box = webuiElement(tab + "_generate_box");
    return !!box && box.classList.contains("generating");
}

function webuiGenerateOnRepeat(tab) {
    const generate = () => {
        if (!webuiTabIsGenerating(tab)) webuiElement(tab + "_generate").click();
    };
    generate();
    clearInterval(window.generateOnRepeatInterval);
    window.generateOnRepeatInterval = setInterval(generate, 500);
}

function webuiCancelGenerateForever() {
    clearInterval(window.generateOnRepeatInterval);
    window.generateOnRepeatInterval = null;
}

for (const tab of ["txt2img", "img2img"]) {
    appendContextMenuOption("#" + tab + "_generate", "Generate forever", () => webuiGenerateOnRepeat(tab));
}
for (const tab of ["txt2img", "img2img"]) {
    appendContextMenuOption("#" + tab + "_interrupt", "Cancel generate forever", webuiCancelGenerateForever);
    appendContextMenuOption("#" + tab + "_generate", "Cancel generate forever", webuiCancelGenerateForever);
}

onUiLoaded(addContextMenuEventListener);
