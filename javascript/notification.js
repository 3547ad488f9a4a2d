// When new pictures arrive: the notification sound (notification.mp3, settings notification_audio and
// notification_volume), and a browser notification while the page is in the background (after Settings >
// Actions > "Request browser notifications" was allowed), as A1111's notification.js.

/* global onAfterUiUpdate, gradioApp, opts, webuiOpt */

let webuiLastHeadImage = null;

function webuiPlayNotificationSound() {
    const settings = window.webuiPageSettings || {};
    if (!settings.notification_sound || !webuiOpt("notification_audio", true)) return;
    let audio = document.getElementById("audio_notification");
    if (!audio) {
        audio = document.createElement("audio");
        audio.id = "audio_notification";
        audio.src = "./internal/notification-sound";
        audio.style.display = "none";
        document.body.appendChild(audio);
    }
    const volume = Number(webuiOpt("notification_volume", 100));
    audio.volume = isNaN(volume) ? 1.0 : Math.min(Math.max(volume / 100, 0), 1);
    audio.currentTime = 0;
    const playing = audio.play();
    if (playing && playing.catch) playing.catch(e => console.warn("notification sound: " + e));
}

onAfterUiUpdate(function() {
    const previews = gradioApp().querySelectorAll("div[id$='_gallery'] img");
    const head = previews.length ? previews[0].src : null;
    if (!head || head === webuiLastHeadImage) return;
    const first = webuiLastHeadImage === null;
    webuiLastHeadImage = head;
    webuiPlayNotificationSound();
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
