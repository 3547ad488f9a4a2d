// The full-page image viewer ("lightbox", A1111's imageviewer.js): clicking a picture of any gallery shows it
// over the whole page, with ←/→ (and ❮ ❯) moving through that gallery, `s` / 🖫 saving, Esc / × / a click closing it,
// a zoom toggle and a tile preview.  Setting js_modal_lightbox turns it off.
//
// Gradio 6's gallery shows a grid of `.thumbnail-item` buttons; once one is chosen it shows a preview
// (`.preview` with the big `.media-button` picture and a row of small thumbnails).  The viewer keeps gradio's
// selection in step by clicking the thumbnails, so the infotext, Save and "Send to" follow the picture shown.

// the gallery (its `.gallery-container`) the viewer was opened from
let webuiLightboxSource = null;
// keeps the shown picture in step with the gallery (new results, live previews) while the viewer is open
let webuiLightboxTimer = null;

// A1111's `opts` (javascript/a1111_compat.js, kept current after Apply settings) when it has the key, else the
// settings the page was built with
function webuiViewerOpt(key, fallback) {
    if (typeof opts === "object" && opts !== null && opts[key] !== undefined) return opts[key];
    return webuiOpt(key, fallback);
}

function webuiLightboxEnabled() {
    return !!webuiViewerOpt("js_modal_lightbox", true);
}

function webuiLightbox() {
    return document.getElementById("lightboxModal");
}

function webuiLightboxImage() {
    return document.getElementById("modalImage");
}

function webuiLightboxIsOpen() {
    const modal = webuiLightbox();
    return !!modal && modal.style.display === "flex";
}

// The thumbnails of a gallery in display order: the preview's row when the preview is shown, else the grid.
function webuiGalleryButtons(container) {
    if (!container) return [];
    const row = container.querySelectorAll(".preview .thumbnails > .thumbnail-item");
    return Array.from(row.length ? row : container.querySelectorAll(".grid-container .thumbnail-item"));
}

function webuiGallerySelectedIndex(container) {
    return webuiGalleryButtons(container).findIndex(button => button.classList.contains("selected"));
}

function webuiButtonImage(button) {
    const img = button && button.querySelector("img");
    return img ? img.src : null;
}

// "txt2img" / "img2img" / "extras"... from the gallery's elem_id (`<tab>_gallery`), or null
function webuiGalleryTab(container) {
    const block = container && container.closest("[id$='_gallery']");
    return block ? block.id.replace(/_gallery$/, "") : null;
}

function webuiLightboxShowSrc(src) {
    const modal = webuiLightbox();
    const image = webuiLightboxImage();
    if (!modal || !image || !src || image.src === src) return;
    image.src = src;
    // while tiling, the picture is the modal's repeated background
    if (image.style.display === "none") modal.style.setProperty("background-image", "url(" + src + ")");
}

function showModal(event) {
    const source = event.target || event.srcElement;
    const img = source.tagName === "IMG" ? source : source.querySelector && source.querySelector("img");
    if (img) webuiOpenLightbox(img.closest(".gallery-container"), img.src);
    event.stopPropagation();
}

function webuiOpenLightbox(container, src) {
    const modal = webuiBuildLightbox();
    webuiLightboxSource = container;
    modalZoomSet(webuiLightboxImage(), webuiViewerOpt("js_modal_lightbox_initially_zoomed", true));
    webuiLightboxShowSrc(src);
    const tab = webuiGalleryTab(container);
    // saving goes through the tab's 💾 button, which only txt2img and img2img have
    document.getElementById("modal_save").style.display = tab === "txt2img" || tab === "img2img" ? "inline" : "none";
    modal.style.display = "flex";
    modal.focus();
    if (webuiLightboxTimer === null) webuiLightboxTimer = setInterval(webuiLightboxFollowGallery, 250);
}

function closeModal() {
    const modal = webuiLightbox();
    if (modal) modal.style.display = "none";
    if (webuiLightboxTimer !== null) clearInterval(webuiLightboxTimer);
    webuiLightboxTimer = null;
}

// A1111's updateOnBackgroundChange: the viewer shows what the gallery selects (and, when the user asked for it,
// the live preview of the running job of the gallery's tab)
function webuiLightboxFollowGallery() {
    if (!webuiLightboxIsOpen()) {
        closeModal();
        return;
    }
    const tab = webuiGalleryTab(webuiLightboxSource);
    if (tab && webuiViewerOpt("js_live_preview_in_modal_lightbox", false)) {
        const live = webuiElement(tab + "_gallery_container");
        const img = live && live.querySelector(".livePreview img");
        if (img && img.src) {
            webuiLightboxShowSrc(img.src);
            return;
        }
    }
    const buttons = webuiGalleryButtons(webuiLightboxSource);
    const index = webuiGallerySelectedIndex(webuiLightboxSource);
    if (index >= 0) webuiLightboxShowSrc(webuiButtonImage(buttons[index]));
}

function negmod(n, m) {
    return ((n % m) + m) % m;
}

function modalImageSwitch(offset) {
    const buttons = webuiGalleryButtons(webuiLightboxSource);
    if (buttons.length < 2) return;
    let index = webuiGallerySelectedIndex(webuiLightboxSource);
    if (index < 0) {
        // nothing selected yet (the grid): start from the picture shown
        const shown = webuiLightboxImage().src;
        index = buttons.findIndex(button => webuiButtonImage(button) === shown);
    }
    if (index < 0) return;
    const next = buttons[negmod(index + offset, buttons.length)];
    // clicking the thumbnail makes gradio select it: infotext, Save and "Send to" act on the picture shown
    next.click();
    webuiLightboxShowSrc(webuiButtonImage(next));
    setTimeout(() => webuiLightbox().focus(), 10);
}

function modalNextImage(event) {
    modalImageSwitch(1);
    event.stopPropagation();
}

function modalPrevImage(event) {
    modalImageSwitch(-1);
    event.stopPropagation();
}

function saveImage() {
    const tab = webuiGalleryTab(webuiLightboxSource);
    const button = tab && webuiElement("save_" + tab);
    if (button) {
        button.click();
    } else {
        console.error("the full page image viewer cannot save pictures of this gallery");
    }
}

function modalSaveImage(event) {
    saveImage();
    event.stopPropagation();
}

function modalZoomSet(modalImage, enable) {
    if (modalImage) modalImage.classList.toggle("modalImageFullscreen", !!enable);
}

function modalZoomToggle(event) {
    const image = webuiLightboxImage();
    modalZoomSet(image, !image.classList.contains("modalImageFullscreen"));
    event.stopPropagation();
}

// tile preview: the picture repeated over the whole page, to check that it is seamless
function modalTileImageToggle(event) {
    const image = webuiLightboxImage();
    const modal = webuiLightbox();
    if (image.style.display === "none") {
        image.style.display = "block";
        modal.style.setProperty("background-image", "none");
    } else {
        image.style.display = "none";
        modal.style.setProperty("background-image", "url(" + image.src + ")");
    }
    event.stopPropagation();
}

function modalLivePreviewToggle(event) {
    const live = !webuiViewerOpt("js_live_preview_in_modal_lightbox", false);
    // both copies of the settings, so the live preview code reading either sees it
    if (typeof opts === "object" && opts !== null) opts.js_live_preview_in_modal_lightbox = live;
    window.webuiPageSettings = window.webuiPageSettings || {};
    window.webuiPageSettings.opts = window.webuiPageSettings.opts || {};
    window.webuiPageSettings.opts.js_live_preview_in_modal_lightbox = live;
    webuiLightboxLiveIcon();
    event.stopPropagation();
}

function webuiLightboxLiveIcon() {
    const toggle = document.getElementById("modal_toggle_live_preview");
    const live = webuiViewerOpt("js_live_preview_in_modal_lightbox", false);
    if (toggle) toggle.innerHTML = live ? "&#x1F5C7;" : "&#x1F5C6;";
}

// the viewer's keys; returns whether the key was one of them
function modalKeyHandler(event) {
    switch (event.key) {
    case "s":
        saveImage();
        break;
    case "ArrowLeft":
        modalImageSwitch(-1);
        break;
    case "ArrowRight":
        modalImageSwitch(1);
        break;
    case "Escape":
        closeModal();
        break;
    default:
        return false;
    }
    // not also gradio's preview (it moves with the arrows too) nor the page's Esc = Interrupt
    event.preventDefault();
    event.stopPropagation();
    return true;
}

function webuiLightboxControl(className, html, title, onClick, id) {
    const control = document.createElement("span");
    control.className = className + " cursor";
    control.innerHTML = html;
    control.title = title;
    if (id) control.id = id;
    control.addEventListener("click", onClick, true);
    return control;
}

// the viewer's elements, made once (A1111's ids and classes: extensions and user.css style them)
function webuiBuildLightbox() {
    let modal = webuiLightbox();
    if (modal) return modal;
    modal = document.createElement("div");
    modal.id = "lightboxModal";
    modal.tabIndex = 0;
    modal.addEventListener("click", closeModal);
    modal.style.setProperty("--sd-webui-modal-lightbox-icon-opacity",
        String(webuiViewerOpt("sd_webui_modal_lightbox_icon_opacity", 1)));
    modal.style.setProperty("--sd-webui-modal-lightbox-toolbar-opacity",
        String(webuiViewerOpt("sd_webui_modal_lightbox_toolbar_opacity", 0.9)));

    const controls = document.createElement("div");
    controls.className = "modalControls gradio-container";
    controls.append(
        webuiLightboxControl("modalZoom", "&#10529;", "Toggle zoomed view", modalZoomToggle),
        webuiLightboxControl("modalTileImage", "&#8862;", "Preview tiling", modalTileImageToggle),
        webuiLightboxControl("modalSave", "&#x1F5AB;", "Save Image(s)", modalSaveImage, "modal_save"),
        webuiLightboxControl("modalToggleLivePreview", "&#x1F5C6;", "Toggle live preview", modalLivePreviewToggle,
            "modal_toggle_live_preview"),
        webuiLightboxControl("modalClose", "&times;", "Close image viewer", event => {
            closeModal();
            event.stopPropagation();
        }),
    );
    modal.appendChild(controls);

    const image = document.createElement("img");
    image.id = "modalImage";
    image.tabIndex = 0;
    image.addEventListener("click", closeModal);
    modal.appendChild(image);

    for (const [className, html, onClick] of [["modalPrev", "&#10094;", modalPrevImage],
        ["modalNext", "&#10095;", modalNextImage]]) {
        const arrow = document.createElement("a");
        arrow.className = className;
        arrow.innerHTML = html;
        arrow.tabIndex = 0;
        arrow.addEventListener("click", onClick, true);
        modal.appendChild(arrow);
    }
    document.body.appendChild(modal);
    webuiLightboxLiveIcon();
    return modal;
}

// A click on a gallery picture: the big preview picture opens the viewer instead of gradio's own reaction; a grid
// thumbnail is also selected by gradio (so the infotext follows) and opens the viewer on that picture.  The small
// thumbnails under the preview only select, as in A1111.
function webuiLightboxClick(event) {
    if (!webuiLightboxEnabled() || event.button !== 0 || !event.target.closest) return;
    const container = event.target.closest(".gallery-container");
    if (!container) return;
    const media = event.target.closest(".media-button");
    const gridItem = event.target.closest(".grid-container .thumbnail-item");
    const src = webuiButtonImage(media || gridItem);
    if (!src) return;
    if (media) {
        event.preventDefault();
        event.stopPropagation();
    }
    webuiOpenLightbox(container, src);
}

function webuiLightboxKeydown(event) {
    if (webuiLightboxIsOpen()) modalKeyHandler(event);
}

// the viewer replaces gradio's own full-screen button of the galleries
function webuiLightboxMarkPage() {
    document.body.classList.toggle("webui-lightbox-on", webuiLightboxEnabled());
}

// A1111's gamepad navigation (imageviewerGamepad.js): the left stick moves through the pictures, one step per
// js_modal_lightbox_gamepad_repeat ms while it is held; a sideways wheel does the same (VR pointers)
const webuiGamepadTimers = {};

function webuiGamepadConnected(event) {
    const index = event.gamepad.index;
    let lastMove = 0;
    webuiGamepadTimers[index] = setInterval(() => {
        if (!webuiViewerOpt("js_modal_lightbox_gamepad", false) || !webuiLightboxIsOpen()) return;
        const pad = navigator.getGamepads()[index];
        const x = pad ? pad.axes[0] : 0;
        const now = Date.now();
        if (Math.abs(x) < 0.3 || now - lastMove < webuiViewerOpt("js_modal_lightbox_gamepad_repeat", 250)) return;
        lastMove = now;
        modalImageSwitch(x < 0 ? -1 : 1);
    }, 10);
}

function webuiGamepadDisconnected(event) {
    clearInterval(webuiGamepadTimers[event.gamepad.index]);
    delete webuiGamepadTimers[event.gamepad.index];
}

let webuiWheelWaiting = false;

function webuiLightboxWheel(event) {
    if (!webuiViewerOpt("js_modal_lightbox_gamepad", false) || !webuiLightboxIsOpen() || webuiWheelWaiting) return;
    if (Math.abs(event.deltaX) < 0.6) return;
    webuiWheelWaiting = true;
    modalImageSwitch(event.deltaX < 0 ? -1 : 1);
    setTimeout(() => {
        webuiWheelWaiting = false;
    }, webuiViewerOpt("js_modal_lightbox_gamepad_repeat", 250));
}

webuiOnDomChange(webuiLightboxMarkPage);

onUiLoaded(function() {
    webuiBuildLightbox();
    webuiLightboxMarkPage();
    document.addEventListener("click", webuiLightboxClick, true);
    document.addEventListener("keydown", webuiLightboxKeydown, true);
    window.addEventListener("gamepadconnected", webuiGamepadConnected);
    window.addEventListener("gamepaddisconnected", webuiGamepadDisconnected);
    window.addEventListener("wheel", webuiLightboxWheel);
});
