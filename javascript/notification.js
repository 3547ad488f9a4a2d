// A browser notification when new pictures arrive while the page is in the background (after Settings >
// Actions > "Request browser notifications" was allowed), as A1111's notification.js.

/* global onAfterUiUpdate, gradioApp, opts */

let webuiLastHeadImage = null;

onAfterUiUpdate(function() {
    const previews = gradioApp().querySelectorAll("div[id$='_gallery'] img");
    const head = previews.length ? previews[0].src : null;
    if (!head || head === webuiLastHeadImage) return;
    const first = webuiLastHeadImage === null;
    webuiLastHeadImage = head;
    if (first || document.hasFocus() || !window.Notification || Notification.permission !== "granted") return;
    // a selected picture is also drawn large: count each picture once
    const count = new Set(Array.from(previews).map(img => img.src)).size;
    const grid = (typeof opts === "object" && opts.return_grid) ? 1 : 0;
    const shown = count > 1 ? count - grid : 1;
    const notification = new Notification("Stable Diffusion", {
        body: "Generated " + shown + " image" + (shown > 1 ? "s" : ""), icon: head, image: head,
    });
    notification.onclick = function() {
        window.focus();
        this.close();
    };
});
