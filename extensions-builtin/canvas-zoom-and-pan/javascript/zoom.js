// Canvas zoom and pan (built-in extension "canvas-zoom-and-pan"), for the img2img editors Sketch, Inpaint and
// Inpaint sketch.  With the mouse over an editor's canvas:
//   <zoom modifier> + wheel   zoom in/out around the mouse            (setting canvas_hotkey_zoom, default Alt)
//   <adjust modifier> + wheel make the brush larger/smaller            (canvas_hotkey_adjust, default Ctrl)
//   Q / W                     shrink / enlarge the brush               (canvas_hotkey_shrink_brush / _grow_brush)
//   hold F and move the mouse move the canvas                          (canvas_hotkey_move)
//   S                         fit the canvas to the window (fullscreen) (canvas_hotkey_fullscreen)
//   R                         reset zoom and position                  (canvas_hotkey_reset)
//   O                         let the zoomed canvas overlap the page   (canvas_hotkey_overlap, off by default)
// Functions listed in canvas_disabled_functions do nothing; canvas_show_tooltip adds an ⓘ listing the keys;
// canvas_blur_prompt takes the focus off a prompt box when the mouse enters a canvas; canvas_auto_expand shows a
// newly uploaded picture whole again (as pressing R would).
//
// The zoom is a CSS transform of the editor's drawing canvases (the editor's toolbar stays in place); the
// editor's own pointer mapping reads the transformed position, so drawing keeps working while zoomed.

/* global onUiUpdate, onOptionsAvailable, opts, gradioApp */

const canvasZoomEditors = ["img2img_sketch", "img2maskimg", "inpaint_sketch"];

const canvasZoomDefaults = {
    canvas_hotkey_zoom: "Alt",
    canvas_hotkey_adjust: "Ctrl",
    canvas_hotkey_shrink_brush: "Q",
    canvas_hotkey_grow_brush: "W",
    canvas_hotkey_move: "F",
    canvas_hotkey_fullscreen: "S",
    canvas_hotkey_reset: "R",
    canvas_hotkey_overlap: "O",
};

const canvasZoomModifiers = ["Shift", "Ctrl", "Alt"];

// editor id -> {zoom, panX, panY, overlap, fullscreen}
const canvasZoomState = {};
let canvasZoomHovered = null;
let canvasZoomMoveHeld = false;

function canvasZoomOpt(key, fallback) {
    const value = typeof opts === "object" && opts ? opts[key] : undefined;
    return value === undefined || value === null ? fallback : value;
}

// the hotkeys from the settings; a value that is not a letter (keys) or a modifier (the two wheel settings), or
// that another hotkey already uses, falls back to its default with a message in the console (as A1111)
function canvasZoomHotkeys() {
    const config = {};
    const used = new Set();
    for (const [key, fallback] of Object.entries(canvasZoomDefaults)) {
        let value = String(canvasZoomOpt(key, fallback) || "");
        const isModifier = canvasZoomModifiers.includes(fallback);
        const valid = isModifier ? canvasZoomModifiers.includes(value) : /^[A-Za-z]$/.test(value);
        if (!valid || used.has(value.toUpperCase())) {
            if (value !== fallback) console.error(`canvas-zoom-and-pan: ${key} = "${value}" is not usable, using "${fallback}"`);
            value = fallback;
        }
        used.add(value.toUpperCase());
        config[key] = isModifier ? value : value.toUpperCase();
    }
    return config;
}

function canvasZoomDisabled(name) {
    const disabled = canvasZoomOpt("canvas_disabled_functions", ["Overlap"]);
    return Array.isArray(disabled) && disabled.includes(name);
}

function canvasZoomModifierHeld(event, modifier) {
    if (modifier === "Shift") return event.shiftKey;
    if (modifier === "Ctrl") return event.ctrlKey || event.metaKey;
    if (modifier === "Alt") return event.altKey;
    return false;
}

function canvasZoomKeyIs(event, letter) {
    return event.code === "Key" + letter || (event.key && event.key.toUpperCase() === letter);
}

function canvasZoomEditorOf(node) {
    const editor = node && node.closest ? node.closest(canvasZoomEditors.map(id => "#" + id).join(", ")) : null;
    return editor && editor.querySelector("canvas") ? editor : null;
}

function canvasZoomGet(editor) {
    if (!canvasZoomState[editor.id]) {
        canvasZoomState[editor.id] = {zoom: 1, panX: 0, panY: 0, overlap: false, fullscreen: false};
    }
    return canvasZoomState[editor.id];
}

function canvasZoomContainer(editor) {
    return editor.querySelector(".image-container") || editor;
}

// draw `editor` at its state: every drawing canvas holder gets the same transform
function canvasZoomApply(editor) {
    const state = canvasZoomGet(editor);
    const identity = state.zoom === 1 && state.panX === 0 && state.panY === 0;
    for (const target of editor.querySelectorAll(".pixi-target, .pixi-target-crop")) {
        target.style.transformOrigin = "0 0";
        target.style.transform = identity ? "" : `translate(${state.panX}px, ${state.panY}px) scale(${state.zoom})`;
    }
    editor.dataset.canvasZoom = String(state.zoom);
    editor.classList.toggle("canvas-zoom-active", !identity);
    editor.classList.toggle("canvas-zoom-overlap", state.overlap || state.fullscreen);
}

// zoom to `zoom` keeping the point under (x, y) (relative to the editor's canvas area) where it is
function canvasZoomTo(editor, zoom, x, y) {
    const state = canvasZoomGet(editor);
    zoom = Math.max(0.1, Math.min(zoom, 15));
    state.panX = x - (x - state.panX) * zoom / state.zoom;
    state.panY = y - (y - state.panY) * zoom / state.zoom;
    state.zoom = zoom;
    state.fullscreen = false;
    canvasZoomApply(editor);
}

// A1111's steps: finer near 1, coarser when already far in
function canvasZoomStep(zoom) {
    if (zoom > 7) return 0.9;
    if (zoom > 2) return 0.6;
    return 0.2;
}

function canvasZoomReset(editor) {
    const state = canvasZoomGet(editor);
    Object.assign(state, {zoom: 1, panX: 0, panY: 0, fullscreen: false});
    canvasZoomApply(editor);
}

// fit the canvas area into the window, centred, over the rest of the page
function canvasZoomFullscreen(editor) {
    const state = canvasZoomGet(editor);
    const rect = canvasZoomContainer(editor).getBoundingClientRect();
    if (!rect.width || !rect.height) return;
    const zoom = Math.min(window.innerWidth / rect.width, window.innerHeight / rect.height);
    state.zoom = zoom;
    state.panX = (window.innerWidth - rect.width * zoom) / 2 - rect.left;
    state.panY = (window.innerHeight - rect.height * zoom) / 2 - rect.top;
    state.fullscreen = true;
    canvasZoomApply(editor);
}

// the brush size slider of the editor's toolbar (it exists while its popup is open: opened and closed here)
function canvasZoomChangeBrush(editor, direction) {
    let slider = editor.querySelector(".size_picker input[type=range]");
    const button = editor.querySelector("button[aria-label='Brush Size']");
    const opened = !slider && button;
    if (opened) {
        button.click();
        slider = editor.querySelector(".size_picker input[type=range]");
    }
    if (slider) {
        const min = Number(slider.min || 1);
        const max = Number(slider.max || 100);
        const step = Math.max(1, Math.round((max - min) * 0.05));
        const value = Math.max(min, Math.min(max, Number(slider.value) + direction * step));
        slider.value = String(value);
        slider.dispatchEvent(new Event("input", {bubbles: true}));
        slider.dispatchEvent(new Event("change", {bubbles: true}));
        editor.dataset.canvasBrush = String(value);
    }
    if (opened) button.click();
}

function canvasZoomWheel(event) {
    const editor = canvasZoomEditorOf(event.target);
    if (!editor) return;
    const keys = canvasZoomHotkeys();
    if (canvasZoomModifierHeld(event, keys.canvas_hotkey_zoom) && !canvasZoomDisabled("Zoom")) {
        event.preventDefault();
        event.stopPropagation();
        const state = canvasZoomGet(editor);
        const step = canvasZoomStep(state.zoom);
        const rect = canvasZoomContainer(editor).getBoundingClientRect();
        canvasZoomTo(editor, state.zoom + (event.deltaY < 0 ? step : -step), event.clientX - rect.left,
            event.clientY - rect.top);
    } else if (canvasZoomModifierHeld(event, keys.canvas_hotkey_adjust) && !canvasZoomDisabled("Adjust brush size")) {
        event.preventDefault();
        event.stopPropagation();
        canvasZoomChangeBrush(editor, event.deltaY < 0 ? 1 : -1);
    }
}

function canvasZoomTyping() {
    const active = document.activeElement;
    return active && (active.tagName === "TEXTAREA" || (active.tagName === "INPUT" && active.type !== "range"));
}

function canvasZoomKeyDown(event) {
    const editor = canvasZoomHovered;
    if (!editor || !editor.isConnected || canvasZoomTyping() || event.ctrlKey || event.metaKey || event.altKey) return;
    const keys = canvasZoomHotkeys();
    const actions = [
        [keys.canvas_hotkey_shrink_brush, "Hotkey shrink brush", () => canvasZoomChangeBrush(editor, -1)],
        [keys.canvas_hotkey_grow_brush, "Hotkey enlarge brush", () => canvasZoomChangeBrush(editor, 1)],
        [keys.canvas_hotkey_fullscreen, "Fullscreen", () => canvasZoomFullscreen(editor)],
        [keys.canvas_hotkey_reset, "Reset Zoom", () => canvasZoomReset(editor)],
        [keys.canvas_hotkey_overlap, "Overlap", () => {
            const state = canvasZoomGet(editor);
            state.overlap = !state.overlap;
            canvasZoomApply(editor);
        }],
        [keys.canvas_hotkey_move, "Moving canvas", () => { canvasZoomMoveHeld = true; }],
    ];
    for (const [letter, name, action] of actions) {
        if (canvasZoomKeyIs(event, letter)) {
            if (canvasZoomDisabled(name)) return;
            event.preventDefault();
            event.stopPropagation();
            if (!event.repeat || name === "Moving canvas") action();
            return;
        }
    }
}

function canvasZoomKeyUp(event) {
    if (canvasZoomKeyIs(event, canvasZoomHotkeys().canvas_hotkey_move)) canvasZoomMoveHeld = false;
}

function canvasZoomMouseMove(event) {
    if (!canvasZoomMoveHeld || !canvasZoomHovered || canvasZoomDisabled("Moving canvas")) return;
    const state = canvasZoomGet(canvasZoomHovered);
    state.panX += event.movementX;
    state.panY += event.movementY;
    canvasZoomApply(canvasZoomHovered);
}

function canvasZoomMouseOver(event) {
    const editor = canvasZoomEditorOf(event.target);
    if (editor === canvasZoomHovered) return;
    canvasZoomHovered = editor;
    if (editor && canvasZoomOpt("canvas_blur_prompt", false) && document.activeElement &&
        document.activeElement.tagName === "TEXTAREA") {
        document.activeElement.blur();
    }
}

// a new picture in an editor is shown whole (canvas_auto_expand)
function canvasZoomUploaded(event) {
    const editor = canvasZoomEditorOf(event.target) ||
        (event.target.closest && event.target.closest(canvasZoomEditors.map(id => "#" + id).join(", ")));
    if (editor && event.target.type === "file" && canvasZoomOpt("canvas_auto_expand", true)) canvasZoomReset(editor);
}

function canvasZoomTooltip(editor) {
    if (editor.querySelector(".canvas-tooltip") || !canvasZoomOpt("canvas_show_tooltip", true)) return;
    const keys = canvasZoomHotkeys();
    const lines = [
        ["Zoom", `${keys.canvas_hotkey_zoom} + wheel`, "Zoom canvas"],
        ["Adjust brush size", `${keys.canvas_hotkey_adjust} + wheel`, "Adjust brush size"],
        ["Hotkey shrink brush", keys.canvas_hotkey_shrink_brush, "Decrease brush size"],
        ["Hotkey enlarge brush", keys.canvas_hotkey_grow_brush, "Increase brush size"],
        ["Moving canvas", `Hold ${keys.canvas_hotkey_move}`, "Move canvas"],
        ["Fullscreen", keys.canvas_hotkey_fullscreen, "Fullscreen mode"],
        ["Reset Zoom", keys.canvas_hotkey_reset, "Reset zoom and position"],
        ["Overlap", keys.canvas_hotkey_overlap, "Overlap the page"],
    ].filter(([name]) => !canvasZoomDisabled(name));
    if (!lines.length) return;
    const tooltip = document.createElement("div");
    tooltip.className = "canvas-tooltip";
    const icon = document.createElement("span");
    icon.className = "canvas-tooltip-info";
    icon.textContent = "ⓘ";
    const content = document.createElement("div");
    content.className = "canvas-tooltip-content";
    for (const [, key, action] of lines) {
        const row = document.createElement("p");
        const bold = document.createElement("b");
        bold.textContent = key;
        row.append(bold, " - " + action);
        content.appendChild(row);
    }
    tooltip.append(icon, content);
    canvasZoomContainer(editor).appendChild(tooltip);
}

function canvasZoomSetup() {
    if (!window.canvasZoomEvents) {
        window.canvasZoomEvents = true;
        // capturing, so the editor's own wheel handling does not also act on a hotkey's wheel
        document.addEventListener("wheel", canvasZoomWheel, {capture: true, passive: false});
        document.addEventListener("keydown", canvasZoomKeyDown, true);
        document.addEventListener("keyup", canvasZoomKeyUp, true);
        document.addEventListener("mousemove", canvasZoomMouseMove, true);
        document.addEventListener("mouseover", canvasZoomMouseOver, true);
        document.addEventListener("change", canvasZoomUploaded, true);
        window.addEventListener("blur", () => { canvasZoomMoveHeld = false; });
    }
    for (const id of canvasZoomEditors) {
        const editor = gradioApp().querySelector("#" + id);
        if (editor && editor.querySelector("canvas")) canvasZoomTooltip(editor);
    }
}

onOptionsAvailable(function() {
    canvasZoomSetup();
    onUiUpdate(canvasZoomSetup);
});
