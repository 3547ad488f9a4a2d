// Live progress of one task: a bar with percentage and ETA over the tab's gallery, and the task's own live preview.
// Polls POST ./internal/progress with {id_task, id_live_preview}; another browser tab's task is never shown here.

function webuiFormatEta(seconds) {
    if (seconds === null || seconds === undefined || seconds < 0) return "";
    const s = Math.round(seconds);
    if (s > 3600) return Math.floor(s / 3600) + ":" + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + ":" +
        String(s % 60).padStart(2, "0");
    if (s > 60) return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    return s + "s";
}

function webuiProgressRequest(body) {
    return fetch("./internal/progress", {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify(body),
    }).then(r => {
        if (!r.ok) throw new Error("progress request failed: " + r.status);
        return r.json();
    });
}

const webuiOriginalTitle = document.title;

function webuiSetTitle(text) {
    if (!webuiOpt("show_progress_in_title", true)) return;
    document.title = text ? text + " " + webuiOriginalTitle : webuiOriginalTitle;
}

// Follow task `id` of tab `tab` until it completes; `atEnd` runs once when the bar goes away.
function webuiRequestProgress(id, tab, atEnd) {
    const container = webuiElement(tab + "_gallery_container");
    const startedAt = Date.now();
    const inactivityTimeout = 40 * 1000;
    const period = Math.max(parseInt(webuiOpt("live_preview_refresh_period", 1000), 10) || 1000, 100);
    let finished = false;
    let livePreviewId = -1;

    const bar = document.createElement("div");
    bar.className = "progressDiv";
    bar.dataset.task = id;
    const inner = document.createElement("div");
    inner.className = "progress";
    inner.textContent = "Waiting...";
    bar.appendChild(inner);
    // setting show_progressbar off: the bar is kept (its text is read on finish) but not shown
    if (!webuiOpt("show_progressbar", true)) bar.style.display = "none";

    const preview = document.createElement("div");
    preview.className = "livePreview";
    preview.dataset.task = id;

    if (container) {
        for (const old of container.querySelectorAll(".progressDiv, .livePreview")) old.remove();
        container.appendChild(bar);
        container.appendChild(preview);
    }

    function finish() {
        if (finished) return;
        finished = true;
        bar.remove();
        preview.remove();
        webuiSetTitle("");
        if (atEnd) atEnd();
    }

    function poll() {
        if (finished) return;
        const elapsed = Date.now() - startedAt;
        webuiProgressRequest({id_task: id, id_live_preview: livePreviewId, live_preview: webuiOpt("live_previews_enable", true)})
            .then(res => {
                if (res.completed) {
                    finish();
                    return;
                }
                if (!res.active && !res.queued && elapsed > inactivityTimeout) {
                    finish();
                    return;
                }
                if (res.active) {
                    const percent = Math.round((res.progress || 0) * 100);
                    inner.style.width = Math.max(percent, 1) + "%";
                    const eta = res.eta ? " ETA: " + webuiFormatEta(res.eta) : "";
                    inner.textContent = percent + "%" + eta;
                    bar.classList.toggle("active", true);
                    webuiSetTitle("[" + percent + "%]" + eta);
                } else {
                    inner.style.width = "100%";
                    inner.textContent = res.textinfo || "Waiting...";
                }
                if (res.live_preview) {
                    livePreviewId = res.id_live_preview;
                    let img = preview.querySelector("img");
                    if (!img) {
                        img = document.createElement("img");
                        preview.appendChild(img);
                    }
                    img.src = res.live_preview;
                }
                setTimeout(poll, period);
            })
            .catch(() => {
                if (elapsed > inactivityTimeout) finish(); else setTimeout(poll, period);
            });
    }

    poll();
    return finish;
}
