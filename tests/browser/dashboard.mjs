// The dashboard in a real browser: Debian's Chromium driven by
// playwright-core. Run by the Rust test `browser::dashboard_in_chromium`,
// which starts a server loaded with the fixture and passes, in the
// environment:
//   UPTAKE_URL       the server, e.g. http://127.0.0.1:41234
//   READ_KEY         a company-wide read key, to ask the API for the truth
//   AS_OF            the report's as_of
//   ADMIN, VIEWER, EVIL   "username:password" of a company admin, a viewer
//                    of VIEWER_ORG, and a viewer of the org holding hostile
//                    names (EVIL_ORG)
//   ARTIFACTS        where screenshots go
// Every check that fails is collected; the script exits 1 if any did.

import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env("UPTAKE_URL");
const readKey = env("READ_KEY");
const asOf = env("AS_OF");
const artifacts = env("ARTIFACTS");
const viewerOrg = env("VIEWER_ORG");
const evilOrg = env("EVIL_ORG");
const allOrgs = env("ALL_ORGS").split(",");
mkdirSync(artifacts, { recursive: true });

const TABS = ["users", "entities", "actions", "datasources", "ai"];
const PAGE_ROWS = 25;
const failures = [];
const check = (ok, message) => {
  if (!ok) failures.push(message);
};

const catalogue = await (await fetch(`${base}/api/v1/widgets`)).json();
const byId = Object.fromEntries(catalogue.widgets.map((w) => [w.id, w]));

async function api(path) {
  const response = await fetch(`${base}${path}`, {
    headers: { authorization: `Bearer ${readKey}` },
  });
  if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
  return response;
}

// A JSON cell as the page writes it.
function shown(value, type) {
  if (value === null) return "";
  if (type === "decimal") return value.toFixed(2);
  return String(value);
}

async function launch() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--disable-background-networking",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

async function login(browser, credentials, viewport = { width: 1280, height: 900 }, options = {}) {
  const [username, password] = credentials.split(":");
  const context = await browser.newContext({ viewport, acceptDownloads: true, ...options });
  const page = await context.newPage();
  page.on("dialog", async (dialog) => {
    failures.push(`a dialog opened (script ran): ${dialog.message()}`);
    await dialog.dismiss();
  });
  page.on("pageerror", (error) => failures.push(`page error: ${error.message}`));
  await page.goto(`${base}/dashboard/users`);
  check(page.url().includes("/login"), "an anonymous visit is sent to the login page");
  await page.fill("#username", username);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL("**/dashboard/users**"), page.click("button[type=submit]")]);
  return { context, page };
}

// Every widget on the page against its JSON endpoint for `query`.
async function compareWidgets(page, tab, query, who) {
  const panels = await page.$$("section.panel[data-widget]");
  const ids = [];
  for (const panel of panels) {
    const id = await panel.getAttribute("data-widget");
    ids.push(id);
    const widget = byId[id];
    const types = widget.columns.map((c) => c.type);
    const answer = await (await api(`/api/v1/widgets/${id}?${query}`)).json();
    let expected = answer.rows;
    let got;
    if (widget.chart === "number") {
      got = [];
      const row = [];
      for (const [i, column] of widget.columns.entries()) {
        const card = await panel.$(`.card[data-column="${column.name}"] .card-value`);
        row.push(card ? await card.getAttribute("data-value") : shown(expected[0]?.[i], types[i]));
      }
      if (expected.length) got.push(row);
    } else {
      if (widget.chart === "table") {
        if (id === "users.team_engagement") {
          expected = expected.filter((r) => r[0] === answer.to);
        }
        expected = expected.slice(0, PAGE_ROWS);
      }
      got = await panel.$$eval("table tbody tr", (trs) =>
        // A cell shown for people (a time) keeps the API's value in data-value.
        trs.map((tr) => Array.from(tr.querySelectorAll("td"), (td) => td.dataset.value ?? td.textContent)),
      );
      if (expected.length === 0) {
        const empty = await panel.$(".empty-widget");
        check(empty !== null, `${who} ${tab} ${id}: no rows and no empty-state message`);
      }
    }
    const want = expected.map((r) => r.map((v, i) => shown(v, types[i])));
    check(
      JSON.stringify(got) === JSON.stringify(want),
      `${who} ${tab} ${id}: page shows ${JSON.stringify(got).slice(0, 300)}, API says ${JSON.stringify(want).slice(0, 300)}`,
    );
    // Charts say what they show, and hover values exist.
    if (["line", "bars", "stacked_bars", "pie"].includes(widget.chart) && expected.length) {
      const svg = await panel.$("svg.chart");
      check(svg !== null, `${who} ${tab} ${id}: no chart`);
      if (svg) {
        const title = await svg.$eval("title", (t) => t.textContent);
        check(title === widget.title, `${who} ${tab} ${id}: chart title is ${title}`);
        const hovers = await svg.$$("rect title, circle title, path title");
        check(hovers.length > 0, `${who} ${tab} ${id}: chart has no hover values`);
      }
    }
  }
  const wanted = catalogue.widgets.filter((w) => w.area === tab).map((w) => w.id);
  check(JSON.stringify(ids) === JSON.stringify(wanted), `${who} ${tab}: widgets ${ids} instead of ${wanted}`);
  return ids;
}

// Every widget's "…" → "Export to CSV" against the CSV endpoint.
async function compareExports(page, tab, query, who) {
  for (const panel of await page.$$("section.panel[data-widget]")) {
    const id = await panel.getAttribute("data-widget");
    await (await panel.$("details.menu > summary")).click();
    const link = await panel.$("details.menu a:has-text('Export to CSV')");
    check(await link.isVisible(), `${who} ${tab} ${id}: the menu does not show Export to CSV`);
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    const file = readFileSync(await download.path());
    const expected = Buffer.from(await (await api(`/api/v1/widgets/${id}.csv?${query}`)).arrayBuffer());
    check(file.equals(expected), `${who} ${tab} ${id}: the exported CSV differs from the CSV endpoint`);
    const answer = await (await api(`/api/v1/widgets/${id}?${query}`)).json();
    const orgs = who === "viewer" ? viewerOrg : "all-orgs";
    // The report's as_of is 18:00 UTC, the same day in the company zone.
    const name = `${id}_${orgs}_${answer.from}_${answer.to}_as-of-${asOf.slice(0, 10)}.csv`;
    check(download.suggestedFilename() === name, `${who} ${id}: file named ${download.suggestedFilename()}, not ${name}`);
    // Escape closes the menu and gives the focus back to its button.
    const isOpen = () => panel.$eval("details.menu", (d) => d.open);
    if (!(await isOpen())) await (await panel.$("details.menu > summary")).click();
    check(await isOpen(), `${who} ${tab} ${id}: the menu does not open`);
    await link.focus();
    await page.keyboard.press("Escape");
    const back = await panel.evaluate((p) => document.activeElement === p.querySelector("details.menu > summary") && !p.querySelector("details.menu").open);
    check(back, `${who} ${tab} ${id}: Escape does not close the menu onto its button`);
  }
}

const browser = await launch();
try {
  // A company admin: every tab, every widget, every export.
  {
    const { context, page } = await login(browser, env("ADMIN"));
    const query = `as_of=${encodeURIComponent(asOf)}`;
    for (const tab of TABS) {
      const response = await page.goto(`${base}/dashboard/${tab}?${query}`);
      const headers = response.headers();
      check(/frame-ancestors 'none'/.test(headers["content-security-policy"] ?? ""), `${tab}: no frame-ancestors in CSP`);
      check(!/unsafe-inline/.test(headers["content-security-policy"] ?? ""), `${tab}: CSP allows inline code`);
      check(headers["x-content-type-options"] === "nosniff", `${tab}: no nosniff`);
      await compareWidgets(page, tab, query, "admin");
      await compareExports(page, tab, query, "admin");
      await page.screenshot({ path: join(artifacts, `admin-${tab}.png`), fullPage: true });
    }
    // The filters work: one org picked in the form.
    await page.goto(`${base}/dashboard/actions?${query}`);
    await page.check(`input[name=org][value="${viewerOrg}"]`);
    await Promise.all([page.waitForURL(`**org=${viewerOrg}**`), page.click("form.filters button[type=submit]")]);
    await compareWidgets(page, "actions", `${query}&org=${viewerOrg}&from=2025-11&to=2026-10`, "admin filtered");
    // Sorting and paging are links that keep the report.
    await page.goto(`${base}/dashboard/users?${query}`);
    const log = await page.$("section[data-widget='users.activated_log']");
    await Promise.all([page.waitForLoadState("load"), (await log.$("nav.pager a[rel=next]")).click()]);
    const pageTwo = await page.$$eval("section[data-widget='users.activated_log'] tbody tr td:first-child", (tds) => tds.map((t) => t.textContent));
    const all = (await (await api(`/api/v1/widgets/users.activated_log?${query}`)).json()).rows.map((r) => r[0]);
    check(JSON.stringify(pageTwo) === JSON.stringify(all.slice(PAGE_ROWS, 2 * PAGE_ROWS)), `activated log page 2: ${pageTwo.slice(0, 3)}`);
    // The running month is marked on charts and on the "this month" card.
    await page.goto(`${base}/dashboard/actions?${query}`);
    check(await page.isVisible("section[data-widget='actions.actions_monthly'] .partial-note"), "actions: the running month is not noted");
    check((await page.$("section[data-widget='actions.actions_monthly'] rect.bar.partial")) !== null, "actions: no hatched bar");
    check(await page.isVisible("section[data-widget='actions.overview'] .card-note"), "actions: the card does not name its days");
    // Team engagement: two lists side by side.
    await page.goto(`${base}/dashboard/users?${query}`);
    const lists = await page.$$eval("section[data-widget='users.team_engagement'] .engagement > div", (ds) =>
      ds.map((d) => [d.querySelector("h3").textContent, d.getBoundingClientRect().top]),
    );
    check(
      lists.length === 2 && lists[0][0] === "Most engaged" && lists[1][0] === "Least engaged" && lists[0][1] === lists[1][1],
      `team engagement lists: ${JSON.stringify(lists)}`,
    );
    // A date the picker cannot use is an error on the page, which keeps
    // the filters and what was typed.
    const bad = await page.goto(`${base}/dashboard/users?as_of_date=2026-02-30`);
    check(bad.status() === 400, `a bad as-of date: ${bad.status()}`);
    check(await page.isVisible("p.error"), "a bad as-of date: no error on the page");
    check((await page.getAttribute("input[name=as_of_date]", "value")) === "2026-02-30", "a bad as-of date: the typed date is lost");
    // Phone width: nothing wider than the screen but the charts' own boxes.
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    for (const tab of TABS) {
      await phone.goto(`${base}/dashboard/${tab}?${query}`);
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 1, `phone ${tab}: the page is ${overflow}px wider than the screen`);
      // Charts fit their panel: the latest month is on screen.
      const chartOverflow = await phone.$$eval(".chart-box", (boxes) =>
        Math.max(0, ...boxes.map((b) => b.scrollWidth - b.clientWidth)),
      );
      check(chartOverflow <= 1, `phone ${tab}: a chart is ${chartOverflow}px wider than its panel`);
      // The filters fold behind one button; the active tab is in view.
      check(!(await phone.isVisible("form.filters")), `phone ${tab}: the filters are not folded`);
      check(await phone.isVisible("details.filters-fold > summary"), `phone ${tab}: no Filters button`);
      const tabBox = await phone.$eval("nav.tabs [aria-current=page]", (a) => {
        const r = a.getBoundingClientRect();
        return [r.left, r.right];
      });
      check(tabBox[0] >= 0 && tabBox[1] <= 390, `phone ${tab}: the active tab is off screen (${tabBox})`);
    }
    // A tap (a click on a touch screen) on a bar shows its value under the chart.
    const bar = await phone.$("section[data-widget='ai.interactions_monthly'] svg.chart .bar, section[data-widget='ai.interactions_monthly'] svg.chart .dot");
    const want = await bar.$eval("title", (t) => t.textContent);
    await bar.click();
    const shown = await phone.$eval("section[data-widget='ai.interactions_monthly'] .chart-value", (p) => p.textContent);
    check(shown === want, `phone: a tapped mark shows "${shown}", not "${want}"`);
    // The keyboard: focus the chart, an arrow key moves to the next value.
    const chart = await phone.$("section[data-widget='ai.interactions_monthly'] svg.chart");
    const titles = await chart.$$eval(".bar, .dot", (ms) => ms.map((m) => m.querySelector("title").textContent));
    await chart.focus();
    await phone.keyboard.press("ArrowRight");
    const keyed = await phone.$eval("section[data-widget='ai.interactions_monthly'] .chart-value", (p) => p.textContent);
    check(keyed === titles[1], `phone: ArrowRight on a chart shows "${keyed}", not "${titles[1]}"`);
    await phone.click("details.filters-fold > summary");
    check(await phone.isVisible("form.filters"), "phone: the Filters button opens the filters");
    await phone.screenshot({ path: join(artifacts, "phone-ai.png"), fullPage: true });
    // Logging out ends the session.
    await Promise.all([page.waitForURL("**/login**"), page.click("form.logout button")]);
    await page.goto(`${base}/dashboard/users`);
    check(page.url().includes("/login"), "after logout the dashboard asks for a login again");
    await context.close();
  }

  // An org viewer: only their org, on every tab and in every export.
  {
    const { context, page } = await login(browser, env("VIEWER"));
    const query = `as_of=${encodeURIComponent(asOf)}&org=${viewerOrg}`;
    const others = allOrgs.filter((o) => o !== viewerOrg);
    for (const tab of TABS) {
      // The viewer does not name the org: the dashboard scopes it.
      await page.goto(`${base}/dashboard/${tab}?as_of=${encodeURIComponent(asOf)}`);
      await compareWidgets(page, tab, query, "viewer");
      await compareExports(page, tab, query, "viewer");
      const text = await page.evaluate(() => document.body.innerText);
      for (const other of others) {
        check(!text.includes(other), `viewer ${tab}: the page mentions ${other}`);
      }
      await page.screenshot({ path: join(artifacts, `viewer-${tab}.png`), fullPage: true });
    }
    const forbidden = await page.goto(`${base}/dashboard/users?org=${others[0]}`);
    check(forbidden.status() === 403, `viewer asking for ${others[0]}: ${forbidden.status()}`);
    const exportOther = await page.request.get(`${base}/dashboard/export/users.inactive.csv?org=${others[0]}`);
    check(exportOther.status() === 403, `viewer exporting ${others[0]}: ${exportOther.status()}`);
    await context.close();
  }

  // Accessibility: axe (WCAG 2 A and AA, and best practice) finds nothing serious or critical
  // on any tab at desktop and phone widths, in light and dark mode. The
  // context bypasses the page's CSP only so that axe itself can be added.
  for (const [label, viewport, colorScheme] of [
    ["desktop", { width: 1440, height: 900 }, "light"],
    ["phone", { width: 390, height: 844 }, "light"],
    ["dark", { width: 1440, height: 900 }, "dark"],
  ]) {
    const { context, page } = await login(browser, env("ADMIN"), viewport, { bypassCSP: true, colorScheme });
    for (const tab of TABS) {
      await page.goto(`${base}/dashboard/${tab}?as_of=${encodeURIComponent(asOf)}`);
      await page.addScriptTag({ path: join(import.meta.dirname, "node_modules/axe-core/axe.min.js") });
      const [passed, violations] = await page.evaluate(async () => {
        const result = await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "best-practice"] });
        return [
          result.passes.length,
          result.violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => `${v.id} (${v.nodes.length}): ${v.nodes[0]?.target}`),
        ];
      });
      check(passed > 10, `axe ${label} ${tab}: only ${passed} rules ran`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 1, `${label} ${tab}: the page is ${overflow}px wider than the screen`);
      check(violations.length === 0, `axe ${label} ${tab}: ${violations.join("; ")}`);
      if (label === "desktop") {
        // At 1440 px every table fits its panel: no column is cut off.
        const cut = await page.$$eval("section.panel .table-box", (boxes) =>
          boxes.filter((b) => b.scrollWidth > b.clientWidth + 1).map((b) => b.getAttribute("aria-label")),
        );
        check(cut.length === 0, `desktop ${tab}: tables wider than their panel: ${cut.join(", ")}`);
        // Printed, the tab is a clean report: no navigation, menus or
        // filters, and nothing wider than the page.
        await page.emulateMedia({ media: "print" });
        const printed = await page.evaluate(() => ({
          overflow: document.documentElement.scrollWidth - window.innerWidth,
          shown: ["nav.tabs", "details.menu", "form.filters", "nav.presets", "button", ".pager"].filter((sel) =>
            Array.from(document.querySelectorAll(sel)).some((e) => e.getClientRects().length > 0),
          ),
        }));
        check(printed.overflow <= 1, `print ${tab}: ${printed.overflow}px wider than the page`);
        check(printed.shown.length === 0, `print ${tab}: shows ${printed.shown.join(", ")}`);
        await page.pdf({ path: join(artifacts, `print-${tab}.pdf`) });
        await page.emulateMedia({ media: "screen" });
      }
      if (label !== "desktop") {
        await page.screenshot({ path: join(artifacts, `${label}-${tab}.png`), fullPage: true });
      }
    }
    await context.close();
  }

  // Hostile names are shown as text and nothing runs.
  {
    const { context, page } = await login(browser, env("EVIL"));
    await page.goto(`${base}/dashboard/users?as_of=${encodeURIComponent(asOf)}`);
    const text = await page.evaluate(() => document.body.innerText);
    check(text.includes("<img src=x onerror=alert(1)>"), "the hostile page name is not shown as text");
    check(text.includes('=HYPERLINK("http://evil.example","x")'), "the hostile team name is not shown as text");
    const injected = await page.$$("main img");
    check(injected.length === 0, "an <img> was injected into the page");
    await page.screenshot({ path: join(artifacts, "hostile-names.png"), fullPage: true });
    await context.close();
  }
} finally {
  await browser.close();
}

if (failures.length) {
  console.error(`${failures.length} browser check(s) failed:\n- ${failures.join("\n- ")}`);
  process.exit(1);
}
console.log(`browser checks passed; screenshots in ${artifacts}`);
