// A picture dropped (or pasted) onto a prompt box: its infotext replaces the prompt text.
// The picture is handed to the server as a data: URL through the tab's hidden "<tab>_prompt_image" box.

function webuiSetHiddenText(id, value) {
    const box = webuiElement(id);
    const input = box && box.querySelector("textarea, input");
    if (!input) return false;
    input.value = value;
    input.dispatchEvent(new Event("input", {bubbles: true}));
    return true;
}

function webuiPromptTab(target) {
    const box = target && target.closest && target.closest("#txt2img_prompt, #txt2img_neg_prompt, #img2img_prompt, #img2img_neg_prompt");
    return box ? box.id.split("_")[0] : null;
}

function webuiDropImageOnPrompt(tab, file) {
    const reader = new FileReader();
    reader.onload = () => {
        if (webuiSetHiddenText(tab + "_prompt_image", reader.result)) {
            // let gradio take the new value before the button reads it
            setTimeout(() => webuiElement(tab + "_prompt_image_button").click(), 100);
        }
    };
    reader.readAsDataURL(file);
}

function webuiImageFile(dataTransfer) {
    if (!dataTransfer || !dataTransfer.files) return null;
    for (const file of dataTransfer.files) {
        if (file.type && file.type.startsWith("image/")) return file;
    }
    return null;
}

document.addEventListener("dragover", event => {
    if (webuiPromptTab(event.target) && event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files")) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
    }
}, true);

document.addEventListener("drop", event => {
    const tab = webuiPromptTab(event.target);
    const file = webuiImageFile(event.dataTransfer);
    if (!tab || !file) return;
    event.preventDefault();
    event.stopPropagation();
    webuiDropImageOnPrompt(tab, file);
}, true);

document.addEventListener("paste", event => {
    const tab = webuiPromptTab(event.target);
    const file = webuiImageFile(event.clipboardData);
    if (!tab || !file) return;
    event.preventDefault();
    webuiDropImageOnPrompt(tab, file);
}, true);
