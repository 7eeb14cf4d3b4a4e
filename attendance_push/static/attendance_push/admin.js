// The push pages: keep queued and running runs up to date, and say a chosen date in words.
"use strict";
{
  const ACTIVE = new Set(["queued", "running"]);
  // Every 2 s while a run on the page is queued or running; every 30 s otherwise, to notice a run that
  // starts meanwhile (the 21:00 push) at the cost of one small query.
  const INTERVAL = 2000;
  const IDLE_INTERVAL = 30000;

  function liveRuns() {
    const ids = new Set();
    document.querySelectorAll('[data-field="status_badge"][data-attendance-push-run]').forEach((el) => {
      if (ACTIVE.has(el.dataset.status)) ids.add(el.dataset.attendancePushRun);
    });
    document.querySelectorAll(".attendance-push-progress[data-runs]").forEach((el) => {
      if (el.dataset.finished !== "1") el.dataset.runs.split(",").forEach((id) => ids.add(id));
    });
    return [...ids];
  }

  function fill(template, values) {
    return Object.entries(values).reduce((text, [name, value]) => text.replace(`{${name}}`, value), template);
  }

  function showProgress(config, runs) {
    document.querySelectorAll(".attendance-push-progress[data-runs]").forEach((el) => {
      const ids = el.dataset.runs.split(",");
      const known = ids.filter((id) => runs[id]);
      if (!known.length) return;
      const total = ids.length;
      const finished = known.filter((id) => !runs[id].active);
      const succeeded = finished.filter((id) => runs[id].status === "succeeded").length;
      const failed = finished.length - succeeded;
      const done = finished.length === total;
      el.dataset.finished = done ? "1" : "0";
      let template;
      if (done) template = failed ? config.dataset.doneFailed : config.dataset.done;
      else template = failed ? config.dataset.progressFailed : config.dataset.progress;
      const n = Math.min(finished.length + 1, total);
      el.textContent = total > 1 ? fill(template, { n, total, succeeded, failed }) : "";
    });
  }

  function update(config, data) {
    let finished = false;
    for (const [id, run] of Object.entries(data.runs)) {
      for (const [field, html] of Object.entries(run.cells)) {
        document
          .querySelectorAll(`[data-attendance-push-run="${id}"][data-field="${field}"]`)
          .forEach((el) => {
            if (el.dataset.status !== run.status) finished = finished || !run.active;
            el.innerHTML = html;
            el.dataset.status = run.status;
          });
      }
    }
    for (const [day, outcome] of Object.entries(data.days)) {
      document.querySelectorAll(`.attendance-push-day[data-day="${day}"]`).forEach((el) => {
        el.classList.replace(`attendance-push-day--${el.dataset.outcome}`, `attendance-push-day--${outcome}`);
        el.dataset.outcome = outcome;
      });
    }
    showProgress(config, data.runs);
    return finished;
  }

  function announce(config, runs) {
    const list = document.querySelector(".attendance-push-new-runs");
    runs.forEach((run) => {
      if (list) {
        const item = document.createElement("li");
        item.className = "info";
        item.innerHTML = run.html; // built by the server with format_html
        list.prepend(item);
      }
      config.dataset.latest = Math.max(Number(config.dataset.latest), run.id);
    });
  }

  function poll(config) {
    const ids = liveRuns();
    const watchNew = config.dataset.latest !== undefined;
    // A finished run's own page has nothing more to wait for.
    if (!ids.length && !watchNew) return;
    const next = () => window.setTimeout(() => poll(config), liveRuns().length ? INTERVAL : IDLE_INTERVAL);
    if (!ids.length && document.hidden) {
      next();
      return;
    }
    const query = new URLSearchParams({ ids: ids.join(",") });
    if (watchNew) query.set("after", config.dataset.latest);
    fetch(`${config.dataset.url}?${query}`, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((data) => {
        if (data.new) announce(config, data.new);
        // A run's page shows more than the live fields (times, counts, traceback): reload it once done.
        if (update(config, data) && config.dataset.reloadWhenDone && !liveRuns().length) window.location.reload();
      })
      .catch(() => {}) // a lost request is retried at the next tick
      .finally(next);
  }

  // The chosen day in words beside the field, in the page's language and, in Nepali, with its Bikram
  // Sambat date. From the server: Chromium has no Nepali names and would answer in English.
  function describeDays() {
    document.querySelectorAll(".attendance-push-weekday-of[data-for][data-url]").forEach((label) => {
      const input = document.getElementById(label.dataset.for);
      if (!input) return;
      let shown = input.value.trim(); // the page came with the words of its value
      const show = () => {
        const value = input.value.trim();
        if (value === shown) return;
        shown = value;
        if (!value) {
          label.textContent = "";
          return;
        }
        fetch(`${label.dataset.url}?${new URLSearchParams({ day: value })}`, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        })
          .then((response) => response.json())
          .then((data) => {
            // An answer to an earlier keystroke is dropped.
            if (input.value.trim() === value) label.textContent = data.words || data.error || "";
          })
          .catch(() => {
            if (input.value.trim() === value) label.textContent = "";
          });
      };
      input.addEventListener("input", show);
      input.addEventListener("change", show);
    });
  }

  window.addEventListener("DOMContentLoaded", () => {
    describeDays();
    const config = document.getElementById("attendance-push-live");
    if (config) window.setTimeout(() => poll(config), liveRuns().length ? INTERVAL : IDLE_INTERVAL);
  });
}
