// The push pages: keep queued and running runs up to date, and name the weekday of a chosen date.
"use strict";
{
  const ACTIVE = new Set(["queued", "running"]);
  const INTERVAL = 2000;

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

  function showProgress(config, runs) {
    document.querySelectorAll(".attendance-push-progress[data-runs]").forEach((el) => {
      const ids = el.dataset.runs.split(",");
      const known = ids.filter((id) => runs[id]);
      if (!known.length) return;
      const done = known.filter((id) => !runs[id].active).length;
      const total = ids.length;
      el.dataset.finished = done === total ? "1" : "0";
      const template = done === total ? config.dataset.done : config.dataset.progress;
      el.textContent = total > 1 ? template.replace("{n}", Math.min(done + 1, total)).replace("{total}", total) : "";
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

  function poll(config) {
    const ids = liveRuns();
    if (!ids.length) return;
    fetch(`${config.dataset.url}?ids=${ids.join(",")}`, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((data) => {
        // A run's page shows more than the live fields (times, counts, traceback): reload it once done.
        if (update(config, data) && config.dataset.reloadWhenDone && !liveRuns().length) window.location.reload();
      })
      .catch(() => {}) // a lost request is retried at the next tick
      .finally(() => window.setTimeout(() => poll(config), INTERVAL));
  }

  function nameWeekdays() {
    const lang = document.documentElement.lang || undefined;
    document.querySelectorAll(".attendance-push-weekday-of[data-for]").forEach((label) => {
      const input = document.getElementById(label.dataset.for);
      if (!input) return;
      const show = () => {
        const day = /^\d{4}-\d{2}-\d{2}$/.test(input.value) ? new Date(`${input.value}T12:00:00`) : null;
        label.textContent = day && !Number.isNaN(day.getTime()) ? day.toLocaleDateString(lang, { weekday: "long" }) : "";
      };
      input.addEventListener("input", show);
      input.addEventListener("change", show);
      show();
    });
  }

  window.addEventListener("DOMContentLoaded", () => {
    nameWeekdays();
    const config = document.getElementById("attendance-push-live");
    if (config) window.setTimeout(() => poll(config), INTERVAL);
  });
}
