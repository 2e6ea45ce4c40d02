// Uptake dashboard enhancements. The pages work without this file: it
// only makes menus and the month picker nicer to use.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // One "…" menu open at a time; a click elsewhere or Escape closes it.
  const menus = Array.from(document.querySelectorAll("details.menu"));
  for (const menu of menus) {
    menu.addEventListener("toggle", () => {
      if (menu.open) {
        for (const other of menus) {
          if (other !== menu) other.open = false;
        }
      }
    });
  }
  document.addEventListener("click", (event) => {
    for (const menu of menus) {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      for (const menu of menus) {
        if (menu.open) {
          menu.open = false;
          // Back to the button that opened it, as with any menu.
          menu.querySelector("summary").focus();
        }
      }
    }
  });
  // "Copy API URL": the widget's API address, for use with a read key.
  for (const button of document.querySelectorAll("button.copy-api")) {
    if (!navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(window.location.origin + button.dataset.url);
        button.textContent = "API URL copied";
      } catch {
        button.textContent = "Copy failed";
      }
    });
  }

  // The team engagement month applies as soon as it is picked.
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
    const button = select.form.querySelector("button");
    if (button) button.hidden = true;
  }

  // "Copy link to this view": the page's URL holds every filter. Shown only
  // where the clipboard can be written (it needs JavaScript and a secure
  // context or localhost).
  for (const button of document.querySelectorAll("button.copy-link")) {
    if (!navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(window.location.href);
        button.textContent = "Link copied";
      } catch {
        button.textContent = "Copy the address bar instead";
      }
    });
  }

  // On a phone the filters fold behind one button, and the tab bar shows
  // the active tab.
  if (window.matchMedia("(max-width: 640px)").matches) {
    for (const fold of document.querySelectorAll("details.filters-fold")) fold.open = false;
    const active = document.querySelector("nav.tabs [aria-current=page]");
    if (active) active.scrollIntoView({ block: "nearest", inline: "center" });
  }

  // A tap or click on a bar, point or slice shows its value under the
  // chart (hover titles do not exist on touch screens).
  const MARKS = ".bar, .dot, .slice";
  const showValue = (mark) => {
    const box = mark.closest(".chart-box");
    let out = box.nextElementSibling;
    if (!out || !out.classList.contains("chart-value")) {
      out = document.createElement("p");
      out.className = "chart-value";
      out.setAttribute("aria-live", "polite");
      box.after(out);
    }
    for (const other of box.querySelectorAll(".current")) other.classList.remove("current");
    mark.classList.add("current");
    out.textContent = mark.querySelector("title")?.textContent ?? "";
  };
  document.addEventListener("click", (event) => {
    const mark = event.target.closest("svg.chart")?.contains(event.target) && event.target.closest(MARKS);
    if (mark) showValue(mark);
  });
  // The keyboard: a chart takes the focus, and the arrow keys walk its
  // marks, each value shown under the chart.
  for (const svg of document.querySelectorAll("svg.chart")) {
    const marks = Array.from(svg.querySelectorAll(MARKS));
    if (marks.length === 0) continue;
    svg.setAttribute("tabindex", "0");
    let at = -1;
    svg.addEventListener("focus", () => {
      if (at < 0) at = 0;
      showValue(marks[at]);
    });
    svg.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
      if (!step) return;
      event.preventDefault();
      at = (at + step + marks.length) % marks.length;
      showValue(marks[at]);
    });
  }
});
