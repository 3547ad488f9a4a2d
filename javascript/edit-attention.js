// Editing prompts from the keyboard (A1111's edit-attention.js and edit-order.js):
// Ctrl/Cmd+↑/↓ raises/lowers the weight of the selection, or of the <…>, (…) or […] block or the word at the
// caret: `cat` -> `(cat:1.1)`, `((cat))` -> `(cat:1.3)`, `<lora:x:1>` -> `<lora:x:1.05>`; a weight reaching 1
// drops the parentheses.  Alt+←/→ moves the comma-separated part under the caret (setting keyedit_move).
// Either fires an input event, so gradio and the token counter see the new text.

const webuiWhitespaceDelimiters = {"Tab": "\t", "Carriage Return": "\r", "Line Feed": "\n"};

// A1111's `opts` (javascript/a1111_compat.js, kept current after Apply settings) when it has the key, else the
// settings the page was built with
function webuiKeyeditOpt(key, fallback) {
    if (typeof opts === "object" && opts !== null && opts[key] !== undefined) return opts[key];
    return webuiOpt(key, fallback);
}

function webuiIsPromptTextarea(target) {
    return !!target && target.tagName === "TEXTAREA" &&
        target.matches("*:is([id*='_toprow'] [id*='_prompt'], .prompt) textarea");
}

function updateInput(target) {
    target.dispatchEvent(new Event("input", {bubbles: true}));
}

// The inside of the OPEN…CLOSE block holding the caret (up to its last `:weight`), or null when the caret is not
// directly inside one (a CLOSE before it or an OPEN after it on the way out means another block).
function webuiBlockAtCaret(text, caret, OPEN, CLOSE) {
    const before = text.substring(0, caret);
    const open = before.lastIndexOf(OPEN);
    if (open === -1 || before.lastIndexOf(CLOSE) > open) return null;
    const after = text.substring(caret);
    const close = after.indexOf(CLOSE);
    if (close === -1) return null;
    const nextOpen = after.indexOf(OPEN);
    if (nextOpen !== -1 && nextOpen < close) return null;
    const content = text.substring(open + 1, caret + close);
    const start = open + 1;
    // with a weight, only the text before it is selected
    const end = /.*:-?[\d.]+/s.test(content) ? start + content.lastIndexOf(":") : start + content.length;
    return [start, end];
}

// The word at the caret, between two delimiters (setting keyedit_delimiters and the chosen whitespace), without
// the spaces around it.
function webuiWordAtCaret(text, caret, delimiters) {
    let start = caret;
    let end = caret;
    while (start > 0 && !delimiters.includes(text[start - 1])) start--;
    while (end < text.length && !delimiters.includes(text[end])) end++;
    while (start < end && text[start] === " ") start++;
    while (end > start && text[end - 1] === " ") end--;
    return [start, end];
}

function webuiKeyeditDelimiters() {
    let delimiters = String(webuiKeyeditOpt("keyedit_delimiters", ".,\\/!?%^*;:{}=`~() "));
    for (const name of webuiKeyeditOpt("keyedit_delimiters_whitespace", ["Tab", "Carriage Return", "Line Feed"])) {
        delimiters += webuiWhitespaceDelimiters[name] || "";
    }
    return delimiters;
}

/**
 * The prompt after one Ctrl+↑ (`isPlus`) or Ctrl+↓ on `text` with the selection `start`..`end`:
 * `{text, start, end, selected}` where `selected` is what the caret grew to before editing (A1111 leaves that
 * selection even when nothing changes), or `{text: null, ...}` when there is nothing to edit.
 * `precision` / `precisionExtra`: settings keyedit_precision_attention / keyedit_precision_extra.
 */
function webuiEditAttention(text, start, end, isPlus, precision, precisionExtra, delimiters) {
    if (start === end) {
        const block = webuiBlockAtCaret(text, start, "<", ">") || webuiBlockAtCaret(text, start, "(", ")") ||
            webuiBlockAtCaret(text, start, "[", "]");
        [start, end] = block || webuiWordAtCaret(text, start, delimiters);
    }
    const selected = [start, end];
    const unchanged = {text: null, start: start, end: end, selected: selected};
    let closing = ")";
    let delta = precision;
    const before = start > 0 ? text[start - 1] : "";
    const after = text[end];

    if (before === "<") {
        closing = ">";
        delta = precisionExtra;
    } else if ((before === "(" && after === ")") || (before === "[" && after === "]")) {
        // old-style emphasis: ((cat)) is 1.1², [cat] is 1/1.1; rewritten as an explicit weight first
        let depth = 0;
        while (text[start - depth - 1] === before && text[end + depth] === after) depth++;
        let weight = before === "[" ? (1 / 1.1) ** depth : 1.1 ** depth;
        weight = Math.round(weight / precision) * precision;
        text = text.slice(0, start - depth) + "(" + text.slice(start, end) + ":" + weight + ")" +
            text.slice(end + depth);
        start -= depth - 1;
        end -= depth - 1;
    } else if (before !== "(") {
        while (end > start && text[end - 1] === " ") end--;
        if (start === end) return unchanged;
        text = text.slice(0, start) + "(" + text.slice(start, end) + ":1.0)" + text.slice(end);
        start++;
        end++;
    }

    if (text[end] !== ":") return unchanged;
    const weightLength = text.slice(end + 1).indexOf(closing) + 1;
    let weight = parseFloat(text.slice(end + 1, end + weightLength));
    if (isNaN(weight)) return unchanged;
    weight += isPlus ? delta : -delta;
    // 12 significant digits hide the float noise of repeated steps (1.2000000000000002 -> 1.2)
    weight = parseFloat(weight.toPrecision(12));
    const written = Number.isInteger(weight) ? weight + ".0" : String(weight);

    if (closing === ")" && weight === 1) {
        const paren = text.substring(end).indexOf(")");
        text = text.slice(0, start - 1) + text.slice(start, end) + text.slice(end + paren + 1);
        start--;
        end--;
    } else {
        text = text.slice(0, end + 1) + written + text.slice(end + weightLength);
    }
    return {text: text, start: start, end: end, selected: selected};
}

function keyupEditAttention(event) {
    const target = event.composedPath()[0];
    if (!webuiIsPromptTextarea(target) || !(event.metaKey || event.ctrlKey)) return;
    const isPlus = event.key === "ArrowUp";
    if (!isPlus && event.key !== "ArrowDown") return;
    event.preventDefault();

    const precision = Number(webuiKeyeditOpt("keyedit_precision_attention", 0.1));
    const precisionExtra = Number(webuiKeyeditOpt("keyedit_precision_extra", 0.05));
    const result = webuiEditAttention(target.value, target.selectionStart, target.selectionEnd, isPlus, precision,
        precisionExtra, webuiKeyeditDelimiters());
    if (result.text === null) {
        target.setSelectionRange(result.selected[0], result.selected[1]);
        return;
    }
    target.focus();
    target.value = result.text;
    target.selectionStart = result.start;
    target.selectionEnd = result.end;
    updateInput(target);
}

/**
 * Alt+← / Alt+→ (`isLeft`): the comma-separated parts covered by the selection swap places with their neighbour;
 * returns `{text, start, end}`, or null at the edge.  As A1111, the parts are joined back with a bare ",".
 */
function webuiMovePromptParts(text, start, end, isLeft) {
    const parts = text.split(",");
    const first = (text.slice(0, start).match(/,/g) || []).length;
    const last = (text.slice(0, end).match(/,/g) || []).length;
    const count = last - first + 1;
    if (isLeft && first > 0) {
        parts.splice(first - 1, 0, ...parts.splice(first, count));
        return {text: parts.join(), start: parts.slice(0, first - 1).join().length + (first === 1 ? 0 : 1),
            end: parts.slice(0, last).join().length};
    }
    if (!isLeft && last < parts.length - 1) {
        parts.splice(first + 1, 0, ...parts.splice(first, count));
        return {text: parts.join(), start: parts.slice(0, first + 1).join().length + 1,
            end: parts.slice(0, last + 2).join().length};
    }
    return null;
}

function keyupEditOrder(event) {
    if (!webuiKeyeditOpt("keyedit_move", true)) return;
    const target = event.composedPath()[0];
    if (!webuiIsPromptTextarea(target) || !event.altKey) return;
    const isLeft = event.key === "ArrowLeft";
    if (!isLeft && event.key !== "ArrowRight") return;
    event.preventDefault();
    const result = webuiMovePromptParts(target.value, target.selectionStart, target.selectionEnd, isLeft);
    if (!result) return;
    target.value = result.text;
    target.selectionStart = result.start;
    target.selectionEnd = result.end;
    updateInput(target);
}

addEventListener("keydown", event => {
    keyupEditAttention(event);
    keyupEditOrder(event);
});
