// Translate the page from window.localization (setting "localization"; A1111's localization.js): text nodes,
// titles and placeholders, now and whenever gradio draws more of the page.  Names of models, styles and
// upscalers in dropdowns are left alone, as are numbers, emoji and what users type.

/* global onUiUpdate, onUiLoaded */

var localization = window.localization || {};

// elements whose options are names (checkpoints, styles...), never translated
const webuiUntranslatedOptions = new Set([
    "setting_sd_hypernetwork", "setting_sd_model_checkpoint", "modelmerger_primary_model_name",
    "modelmerger_secondary_model_name", "modelmerger_tertiary_model_name", "train_embedding", "train_hypernetwork",
    "txt2img_styles", "img2img_styles", "setting_random_artist_categories", "setting_face_restoration_model",
    "setting_realesrgan_enabled_models", "extras_upscaler_1", "extras_upscaler_2",
]);
const webuiNumberText = /^[.\d]+$/;
const webuiEmojiText = /[\p{Extended_Pictographic}\u{1F3FB}-\u{1F3FF}\u{1F9B0}-\u{1F9B3}]/u;
const webuiOriginalTexts = {};
const webuiTranslatedTexts = {};

function hasLocalization() {
    return !!window.localization && Object.keys(window.localization).length > 0;
}

function webuiInsideUntranslated(element) {
    for (let el = element; el; el = el.parentElement) {
        if (el.id && webuiUntranslatedOptions.has(el.id)) return true;
    }
    return false;
}

function webuiCanTranslate(node, text) {
    if (!text || !node.parentElement) return false;
    const parent = node.parentElement.nodeName;
    if (parent === "SCRIPT" || parent === "STYLE" || parent === "TEXTAREA") return false;
    if ((parent === "OPTION" || parent === "SPAN" || parent === "LI") && webuiInsideUntranslated(node.parentElement)) {
        return false;
    }
    return !webuiNumberText.test(text) && !webuiEmojiText.test(text);
}

function getTranslation(text) {
    if (!text) return undefined;
    if (webuiTranslatedTexts[text] === undefined) webuiOriginalTexts[text] = 1;
    const translated = window.localization[text];
    if (translated !== undefined) webuiTranslatedTexts[translated] = 1;
    return translated;
}

function webuiTranslateTextNode(node) {
    const text = node.textContent.trim();
    if (!webuiCanTranslate(node, text)) return;
    const translated = getTranslation(text);
    if (translated !== undefined) node.textContent = translated;
}

function processNode(node) {
    if (node.nodeType === Node.TEXT_NODE) {
        webuiTranslateTextNode(node);
        return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    for (const attribute of ["title", "placeholder"]) {
        const value = node.getAttribute(attribute);
        const translated = value ? getTranslation(value) : undefined;
        if (translated !== undefined) node.setAttribute(attribute, translated);
    }
    const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT, null);
    const texts = [];
    while (walker.nextNode()) texts.push(walker.currentNode);
    texts.forEach(webuiTranslateTextNode);
    node.querySelectorAll("[title], [placeholder]").forEach(el => {
        for (const attribute of ["title", "placeholder"]) {
            const value = el.getAttribute(attribute);
            const translated = value ? getTranslation(value) : undefined;
            if (translated !== undefined) el.setAttribute(attribute, translated);
        }
    });
}

function localizeWholePage() {
    processNode(document.body);
}

// Settings > Actions > "Download localization template": every text seen, translated where known
function dumpTranslations() {
    if (!hasLocalization()) localizeWholePage();
    const dumped = {};
    if (window.localization.rtl) dumped.rtl = true;
    for (const text of Object.keys(webuiOriginalTexts)) {
        if (dumped[text] !== undefined) continue;
        dumped[text] = window.localization[text] || text;
    }
    return dumped;
}

function download_localization() {
    const text = JSON.stringify(dumpTranslations(), null, 4);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], {type: "application/json"}));
    link.download = "localization.json";
    document.body.appendChild(link);
    link.click();
    link.remove();
}

onUiLoaded(function() {
    if (!hasLocalization()) return;
    onUiUpdate(mutations => mutations.forEach(m => m.addedNodes.forEach(processNode)));
    localizeWholePage();
    if (window.localization.rtl) {
        document.documentElement.setAttribute("dir", "rtl");
    }
});
