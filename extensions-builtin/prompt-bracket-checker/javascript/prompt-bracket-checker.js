// Bracket checker (built-in extension "prompt-bracket-checker").
// Counts the opening and closing round, square and curly brackets of the prompt and negative prompt in txt2img and
// img2img. When a kind does not balance, the box's token counter gets class "error" (drawn red by this extension's
// style.css) and its tooltip lists every kind that does not, in A1111's words.

const bracketCheckerKinds = [["(", ")", "round brackets"], ["[", "]", "square brackets"], ["{", "}", "curly brackets"]];

// [prompt box elem_id, its token counter's elem_id]
const bracketCheckerFields = [
    ["txt2img_prompt", "txt2img_token_counter"],
    ["txt2img_neg_prompt", "txt2img_negative_token_counter"],
    ["img2img_prompt", "img2img_token_counter"],
    ["img2img_neg_prompt", "img2img_negative_token_counter"],
];

// the tooltip lines for `text`: one per bracket kind whose opening and closing counts differ
function bracketCheckerErrors(text) {
    const counts = {};
    for (const bracket of text.match(/[(){}[\]]/g) || []) {
        counts[bracket] = (counts[bracket] || 0) + 1;
    }
    const errors = [];
    for (const [open, close, kind] of bracketCheckerKinds) {
        const opened = counts[open] || 0;
        const closed = counts[close] || 0;
        if (opened !== closed) {
            errors.push(`${open}...${close} - Detected ${opened} opening and ${closed} closing ${kind}.`);
        }
    }
    return errors;
}

// A1111's name: mark `counterElt` from the text of `textArea`
function checkBrackets(textArea, counterElt) {
    const errors = bracketCheckerErrors(textArea.value);
    counterElt.title = errors.join("\n");
    counterElt.classList.toggle("error", errors.length !== 0);
}

function bracketCheckerCheckField(promptId, counterId) {
    const textarea = gradioApp().querySelector("#" + promptId + " textarea");
    const counter = gradioApp().querySelector("#" + counterId);
    if (textarea && counter) checkBrackets(textarea, counter);
}

function bracketCheckerCheckAll() {
    for (const [promptId, counterId] of bracketCheckerFields) bracketCheckerCheckField(promptId, counterId);
}

// one listener for all four boxes: img2img's are drawn only when its tab is first shown
function bracketCheckerOnInput(event) {
    const target = event.target;
    if (!target || target.tagName !== "TEXTAREA") return;
    for (const [promptId, counterId] of bracketCheckerFields) {
        const box = gradioApp().querySelector("#" + promptId);
        if (box && box.contains(target)) {
            const counter = gradioApp().querySelector("#" + counterId);
            if (counter) checkBrackets(target, counter);
            return;
        }
    }
}

onUiLoaded(function() {
    gradioApp().addEventListener("input", bracketCheckerOnInput);
    bracketCheckerCheckAll();
    // prompts filled without typing (pasted infotext, styles, a counter drawn anew) are checked after the page changes
    if (typeof webuiOnDomChange === "function") webuiOnDomChange(bracketCheckerCheckAll);
});
