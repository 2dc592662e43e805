// Sarah's journey through the console in Debian's Chromium (playwright-core):
// sign in, create a key, upload items (one bad row) and interactions, train
// and watch the curve, deploy, try a user, read the dashboard's charts; each
// page photographed at desktop and phone width. Prints what it saw as JSON
// for tests/e2e/test_console_browser.py.
//
// Then the platform admin signs in with the admin token, opens the tenant
// and lists its users.
//
//   node e2e/console_journey.mjs <console url> <email> <password> <items.csv> <interactions.csv> <screenshot dir> <admin token>
import { chromium } from "playwright-core";

const [url, email, password, itemsCsv, interactionsCsv, shots, adminToken] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const out = { errors: [], console: [] };
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.on("pageerror", (e) => out.errors.push(String(e)));
page.on("console", (m) => { if (m.type() === "error") out.console.push(m.text()); });
// Form controls without an accessible name (a label, aria-label or aria-labelledby), per page.
out.unlabeled = {};
const shot = async (name) => {
  const missing = await page.evaluate(() => [...document.querySelectorAll("input, select, textarea, button")]
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby") &&
                    !(el.tagName === "BUTTON" && el.textContent.trim()))
    .map((el) => el.outerHTML.slice(0, 80)));
  if (missing.length) out.unlabeled[name] = missing;
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: `${shots}/console-${name}-desktop.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/console-${name}-phone.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
};
try {
  await page.goto(url);
  await page.getByLabel("Email").waitFor();
  await shot("signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator(".tiles").waitFor({ timeout: 20000 });
  out.signedIn = true;

  // A key: its secret shown once.
  await page.goto(`${url}#/keys`);
  await page.getByLabel("Expires after (days)").fill("30");
  await page.getByRole("button", { name: "Create key" }).click();
  out.secret = await page.locator("input.secret").inputValue();
  const keysTable = page.getByRole("table", { name: "Keys" });
  await keysTable.locator("tbody tr").first().waitFor();
  out.keyExpiries = await keysTable.locator("tbody tr").evaluateAll((rows) => rows.map((r) => {
    const cells = [...r.querySelectorAll("td")];
    const head = [...r.closest("table").querySelectorAll("th")].map((th) => th.textContent);
    return cells[head.indexOf("Expires")].textContent;
  }));
  await shot("keys");

  // Data: both files, with progress, the errors table.
  await page.goto(`${url}#/data`);
  for (const [kind, file] of [["items", itemsCsv], ["interactions", interactionsCsv]]) {
    const form = page.locator(`form[data-kind="${kind}"]`);
    await form.locator('input[type="file"]').setInputFiles(file);
    await form.getByRole("button", { name: "Upload" }).click();
    await form.locator(".stage", { hasText: "done" }).waitFor({ timeout: 60000 });
    out[`${kind}Stage`] = await form.locator(".stage").textContent();
    out[`${kind}Progress`] = await form.locator("progress").evaluate((p) => p.value);
    out[`${kind}Errors`] = await form.locator("table tbody tr").evaluateAll((rows) => rows.map((r) => r.textContent));
  }
  await page.getByRole("table", { name: "Upload history" }).waitFor();
  await shot("data");

  // Training, live: the curve grows; not deployed at once.
  await page.goto(`${url}#/training`);
  await page.getByLabel("Model type").locator("option").first().waitFor({ state: "attached" });  // the form is drawn after the schema is read
  out.trainingTypes = await page.getByLabel("Model type").locator("option").allTextContents();
  out.hyperInputs = await page.locator(".hyper input").evaluateAll((xs) => xs.map((x) => x.dataset.name));
  await page.getByLabel("Model type").selectOption("lightgcn");
  await page.getByLabel("Deploy when it beats the model in use").uncheck();
  await page.getByText("Hyperparameters").click();
  await page.getByLabel("epochs", { exact: true }).fill("30");
  await page.getByRole("button", { name: "Start training" }).click();
  const job = page.locator("[data-job]");
  await job.locator(".stage", { hasText: "completed" }).waitFor({ timeout: 120000 });
  out.trainingStatus = await job.locator(".stage").textContent();
  out.curvePoints = Number(await job.locator(".chart").getAttribute("data-points"));
  out.curveCanvas = await job.locator(".chart canvas").count();
  await shot("training");

  // Models: deploy the version just trained.
  await page.goto(`${url}#/models`);
  await page.getByRole("button", { name: "Deploy" }).first().click();
  await page.getByText("deployed").first().waitFor();
  out.serving = await page.locator("tbody tr", { hasText: "serving" }).count();
  await shot("models");

  // Try it: a user's recommendations with their reasons.
  await page.goto(`${url}#/try`);
  await page.getByLabel("User").fill("U0");
  await page.getByLabel("Item (optional: its similar items)").fill("P1");
  await page.getByRole("button", { name: "Show" }).click();
  await page.locator("table").first().waitFor();
  out.tried = await page.locator("table").first().locator("tbody tr").count();
  await shot("try");

  // The dashboard: figures and charts from what was just served.
  await page.goto(`${url}#/dashboard`);
  await page.locator(".charts .figure").first().waitFor({ timeout: 20000 });
  await page.waitForTimeout(300);  // let the canvases draw (the charts are measured below, not timed)
  out.charts = await page.locator(".charts .figure").evaluateAll((figs) =>
    figs.map((f) => ({ metric: f.dataset.metric, canvas: f.querySelectorAll("canvas").length,
                       points: Number(f.querySelector(".chart")?.dataset.points ?? 0) })));
  out.tiles = await page.locator(".tile").evaluateAll((ts) => ts.map((t) => t.textContent));
  await shot("dashboard");

  await page.goto(`${url}#/experiments`);
  await page.locator("main h1").waitFor();
  await shot("experiments");
  // Settings: the widget's origin, saved by a tenant admin.
  await page.goto(`${url}#/settings`);
  await page.getByLabel("Allowed origins for the widget").fill("https://shop.example");
  await page.getByLabel("Currency").fill("eur");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Saved").waitFor();
  out.settingsSaved = true;
  await shot("settings");
  // The dashboard then names the revenue's currency.
  await page.goto(`${url}#/dashboard`);
  await page.locator(".tile").first().waitFor({ timeout: 20000 });
  out.revenueLabels = [...await page.locator(".tile span").allTextContents(),
                       ...await page.getByRole("table", { name: "Top recommended items" }).locator("th").allTextContents()]
    .filter((t) => t.includes("evenue"));
  // A reload keeps the session (the refresh cookie), which no script can read.
  await page.reload();
  await page.locator("nav").waitFor({ timeout: 10000 });
  out.afterReload = await page.locator("header .who").textContent();
  out.cookieVisible = await page.evaluate(() => document.cookie);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Email").waitFor();
  out.signedOut = true;

  // The platform admin: tenants, one opened, its users.
  await page.getByText("Platform administrator").click();
  await page.getByLabel("Admin token").fill(adminToken);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("table", { name: "Tenants" }).waitFor({ timeout: 10000 });
  await page.getByRole("button", { name: "Users" }).first().click();
  await page.locator("table", { hasText: "Users of" }).waitFor();
  out.adminUsers = await page.locator("table", { hasText: "Users of" }).locator("tbody tr").count();
  await shot("tenants");
  await page.getByRole("button", { name: "Open" }).first().click();
  await page.locator(".tiles").waitFor({ timeout: 20000 });
  out.adminWho = await page.locator("header .who").textContent();
} catch (e) {
  out.failure = String(e);
  await page.screenshot({ path: `${shots}/console-failure.png`, fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
