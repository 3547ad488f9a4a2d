// Small layout helpers A1111 users know: token counters in the corner of the prompt boxes, a checkbox in the
// header of "input accordions" (Hires. fix, Refiner...) showing whether they are on.

function webuiPlaceTokenCounters() {
    for (const tab of ["txt2img", "img2img"]) {
        for (const [counterId, rowId] of [[tab + "_token_counter", tab + "_prompt_row"],
            [tab + "_negative_token_counter", tab + "_neg_prompt_row"]]) {
            const counter = webuiElement(counterId);
            const row = webuiElement(rowId);
            if (counter && row && counter.parentElement !== row) row.appendChild(counter);
        }
    }
}

function webuiSetupInputAccordion(accordion) {
    const labelWrap = accordion.querySelector(":scope > .label-wrap");
    if (!labelWrap || accordion.dataset.webuiAccordion) return;
    accordion.dataset.webuiAccordion = "1";
    const span = labelWrap.querySelector("span");
    const checkbox = document.createElement("input");
    checkbox.type = "checkbox";
    checkbox.className = "input-accordion-checkbox";
    checkbox.id = accordion.id + "-visible-checkbox";
    checkbox.tabIndex = -1;
    span.insertBefore(checkbox, span.firstChild);
    const sync = () => {
        const open = labelWrap.classList.contains("open");
        checkbox.checked = open;
        accordion.classList.toggle("input-accordion-open", open);
    };
    sync();
    new MutationObserver(sync).observe(labelWrap, {attributes: true, attributeFilter: ["class"]});
    const extra = webuiElement(accordion.id + "-extra");
    if (extra && extra.parentElement !== labelWrap) labelWrap.insertBefore(extra, labelWrap.lastElementChild);
}

function webuiSetupInputAccordions() {
    for (const accordion of gradioApp().querySelectorAll(".input-accordion")) webuiSetupInputAccordion(accordion);
}

webuiOnDomChange(webuiPlaceTokenCounters);
webuiOnDomChange(webuiSetupInputAccordions);

// the footer's "checkpoint:" shows the short hash of the selected checkpoint
function webuiUpdateCheckpointHash() {
    const input = gradioApp().querySelector("#setting_sd_model_checkpoint input");
    const link = gradioApp().querySelector("#sd_checkpoint_hash");
    if (!input || !link) return;
    const match = input.value.match(/\[([0-9a-f]+)\]/);
    const text = match ? match[1] : "N/A";
    if (link.textContent !== text) link.textContent = text;
}

webuiOnDomChange(webuiUpdateCheckpointHash);
