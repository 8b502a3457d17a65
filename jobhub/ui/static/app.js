// jobhub dashboard: live parts without reloading, and confirmations. No dependencies.
//
// <div data-refresh="/ui/some/fragment" data-every="2"> ... </div>
//   is replaced every 2 s by what the URL answers (an HTML fragment); polling stops
//   once the answer holds an element with data-final, or the page is hidden.
// <form data-confirm="Cancel 12 jobs?"> asks before it submits.
"use strict";

const jobhub = {
  csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  },

  async post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "X-CSRF-Token": jobhub.csrf() },
      body: body || new FormData(),
      credentials: "same-origin",
    });
  },

  refresh(element) {
    const url = element.dataset.refresh;
    const every = Math.max(0.5, parseFloat(element.dataset.every || "2")) * 1000;
    const tick = async () => {
      if (!document.hidden) {
        try {
          const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
          if (answer.redirected || answer.status === 401) {
            window.location.reload();
            return;
          }
          if (answer.ok) {
            element.innerHTML = await answer.text();
            element.dispatchEvent(new CustomEvent("jobhub:refreshed", { bubbles: true }));
            if (element.querySelector("[data-final]")) return;
          }
        } catch (error) {
          // the server blinked: try again at the next tick
        }
      }
      window.setTimeout(tick, every);
    };
    window.setTimeout(tick, every);
  },
};

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-refresh]").forEach((element) => jobhub.refresh(element));
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
});

window.jobhub = jobhub;
