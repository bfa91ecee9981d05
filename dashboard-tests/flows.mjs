// The dashboard as people use it, in a real browser. Started by
// crates/server/tests/dashboard with a server and its users already made;
// exits non-zero, naming the step, when anything a user relies on breaks.
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const URL = env("DASHBOARD_URL");
const SHOTS = env("SCREENSHOTS");
const tess = { email: env("TESS_EMAIL"), password: env("TESS_PASSWORD") };
const amir = { email: env("AMIR_EMAIL"), password: env("AMIR_PASSWORD") };
const mona = { email: env("MONA_EMAIL"), password: env("MONA_PASSWORD") };
const LOCKED = env("LOCKED_EMAIL");
const PROFILE = env("FUNDED_PROFILE");
const api = { id: env("API_CLIENT_ID"), secret: env("API_CLIENT_SECRET") };
mkdirSync(SHOTS, { recursive: true });

let step = "start";
function expect(condition, what) {
  if (!condition) throw new Error(`${step}: expected ${what}`);
}

// Shown within ten seconds: a click that submits a form returns once the
// next page starts loading, which may be before it is painted.
async function shown(locator) {
  return locator.first().waitFor({ state: "visible", timeout: 10_000 }).then(() => true, () => false);
}

// No serious or critical accessibility violation on the page as shown.
async function accessible(page, name) {
  await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
  const found = await page.evaluate(async () => (await window.axe.run()).violations);
  const bad = found.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.length === 0, `no serious axe violations on ${name}, got ${JSON.stringify(bad.map((v) => [v.id, v.help, v.nodes.map((n) => n.target)]))}`);
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

async function signIn(page, who) {
  await page.goto(`${URL}/dashboard/sign-in`);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function signOut(page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/sign-in/);
}

// A call to the API, as an integrator's backend would make it.
async function apiPost(path, body) {
  const form = new URLSearchParams({ grant_type: "client_credentials", client_id: api.id, client_secret: api.secret });
  const token = (await (await fetch(`${URL}/oauth2/token`, { method: "POST", body: form })).json()).access_token;
  const r = await fetch(`${URL}${path}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  expect(r.ok, `${path} to succeed, got ${r.status}: ${text}`);
  return JSON.parse(text);
}

async function tokenStatus(id, secret) {
  const form = new URLSearchParams({ grant_type: "client_credentials", client_id: id, client_secret: secret });
  return (await fetch(`${URL}/oauth2/token`, { method: "POST", body: form })).status;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless", "--disable-background-networking"],
});
try {
  // axe is injected as a script, which the dashboard's CSP would refuse.
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();

  step = "an anonymous visit is sent to sign in";
  await page.goto(`${URL}/dashboard`);
  expect(page.url().endsWith("/dashboard/sign-in"), `the sign-in page, got ${page.url()}`);
  await accessible(page, "sign-in");

  step = "five wrong passwords lock the email, even against the right one";
  for (let i = 0; i < 5; i++) await signIn(page, { email: LOCKED, password: "not the password" });
  expect(await shown(page.getByText("Too many failed sign-ins")), "the lockout message");
  await signIn(page, { email: LOCKED, password: tess.password });
  expect(await shown(page.getByText("Too many failed sign-ins")), "still locked");

  step = "the treasurer signs in and sees balances";
  await signIn(page, tess);
  await page.waitForURL(/\/dashboard$/);
  expect(await shown(page.getByRole("heading", { name: "Overview" })), "the overview");
  expect(await page.locator("td.num", { hasText: "1234.5" }).count() > 0, "the funded USD balance");
  expect(await shown(page.getByRole("img", { name: "Total available per asset" })), "the chart");
  expect(await shown(page.getByText("Nothing converted in these days.")), "no volume yet");
  // Sampled every second here: by now there is a line of samples.
  await page.reload();
  expect(await shown(page.getByRole("img", { name: /^Total balance from/ })), "the balance line");
  await accessible(page, "overview");

  step = "the treasurer's own request cannot be approved by them";
  await page.getByRole("link", { name: "Approvals" }).click();
  const card = page.locator("section.card").first();
  expect(await shown(card.getByText("Add crypto address")), "the pending address request");
  expect((await card.locator("dd.progress").innerText()).trim() === "0/1", "progress 0/1");
  expect(await shown(card.getByText("You submitted this request")), "the refusal on screen");
  expect(await card.getByRole("button", { name: "Approve" }).count() === 0, "no Approve button");
  const id = (await card.locator("code").first().innerText()).trim();
  const requestId = await card.getAttribute("aria-labelledby");
  const forged = await page.evaluate(async (rid) => {
    const csrf = document.querySelector("input[name=csrf]").value;
    const r = await fetch(`/dashboard/approvals/${rid}/approve`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: `csrf=${encodeURIComponent(csrf)}`,
    });
    return [r.status, await r.text()];
  }, requestId.replace(/^r-/, ""));
  expect(forged[0] === 403 && forged[1].includes("you submitted this request"), `a 403 naming why, got ${forged[0]}`);
  await accessible(page, "approvals-submitter");

  step = "a form with a forged CSRF token is refused";
  const forgedCsrf = await page.evaluate(async () => (await fetch("/dashboard/sign-out", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "csrf=forged",
  })).status);
  expect(forgedCsrf === 403, `a 403, got ${forgedCsrf}`);
  await signOut(page);

  step = "a second user approves it";
  await signIn(page, amir);
  await page.getByRole("link", { name: "Approvals" }).click();
  const pending = page.locator("section.card").first();
  expect((await pending.locator("code").first().innerText()).trim() === id, "the same request");
  await pending.getByRole("button", { name: "Approve" }).click();
  expect(await shown(page.getByText("Your approval is recorded.")), "the notice");
  expect(await shown(page.getByText("Nothing is waiting for approval.")), "an empty inbox");
  const history = page.locator("table").last();
  expect(await shown(history.getByText("APPROVED by " + amir.email)), "the act in the history");
  await accessible(page, "approvals-history");

  step = "a conversion made through the API appears and settles without a reload";
  await page.getByRole("link", { name: "Activity" }).click();
  await page.evaluate(() => { window.stayed = true; });
  await apiPost("/v2/conversion/stablecoins", {
    ref_id: "dash-1", profile_id: PROFILE, amount: "100", source_asset: "USD", target_asset: "USDC",
  });
  const row = page.locator('tr[data-ref-id="dash-1"] td.status');
  await row.filter({ hasText: "CREATED" }).waitFor({ timeout: 15000 });
  await row.filter({ hasText: "SETTLED" }).waitFor({ timeout: 20000 });
  expect(await page.evaluate(() => window.stayed === true), "the same page, never reloaded");
  await accessible(page, "activity");

  step = "the activity list filters by day";
  const today = new Date().toISOString().slice(0, 10);
  await page.getByLabel("From").fill(today);
  await page.getByLabel("To").fill(today);
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(new RegExp(`to=${today}`));
  const found = page.locator('tr[data-ref-id="dash-1"]').getByRole("link", { name: "Conversion" });
  expect(await found.count() === 1, "today's conversion");
  await page.getByLabel("From").fill("2020-01-01");
  await page.getByLabel("To").fill("2020-01-02");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/to=2020-01-02/);
  expect(await shown(page.getByText("Nothing matches.")), "nothing on a day long past");

  step = "a conversion's detail page shows its timeline and ledger postings";
  await page.goto(`${URL}/dashboard/activity?ref_id=dash-1`);
  await page.locator('tr[data-ref-id="dash-1"]').getByRole("link", { name: "Conversion" }).click();
  expect(await shown(page.getByRole("heading", { name: "Conversion settled" })), "the settled conversion");
  const timeline = await page.locator("ol.timeline").innerText();
  expect(timeline.includes("conversion.created") && timeline.includes("conversion.settled"), `created then settled, got ${timeline}`);
  const postings = page.locator("table.postings tbody tr");
  expect(await postings.count() >= 4, "the postings of creation and settlement");
  const amounts = await postings.locator("td.num").allInnerTexts();
  const sum = amounts.map((a) => Math.round(Number(a) * 1e8)).reduce((a, b) => a + b, 0);
  expect(amounts.includes("-100") && sum === 0, `100 USD leaving the profile and postings that sum to zero, got ${amounts}`);
  await accessible(page, "activity-detail");
  await signOut(page);

  step = "a webhook's failed attempt is visible, and a redelivery works";
  let failing = true;
  const sink = createServer((req, res) => {
    req.resume();
    req.on("end", () => { res.statusCode = failing ? 500 : 200; res.end(); });
  });
  await new Promise((done) => sink.listen(0, "127.0.0.1", done));
  await apiPost("/v2/webhooks", {
    name: "sink", url: `http://127.0.0.1:${sink.address().port}/hook`, event_types: ["conversion.created"],
  });
  await signIn(page, tess);
  await page.getByRole("link", { name: "Webhooks" }).click();
  await page.getByRole("button", { name: "Send a test event" }).click();
  expect(await shown(page.getByText("A test event is on its way.")), "the notice");
  const status = page.locator("table.deliveries td.status");
  await status.filter({ hasText: "FAILED" }).waitFor({ timeout: 15000 });
  await page.locator("table.attempts td", { hasText: "HTTP 500" }).first().waitFor({ timeout: 5000 });
  await accessible(page, "webhooks-failed");
  failing = false;
  await page.getByRole("button", { name: /^Redeliver event/ }).first().click();
  expect(await shown(page.getByText("The event is queued for delivery again.")), "the notice");
  await status.filter({ hasText: "DELIVERED" }).waitFor({ timeout: 15000 });
  await page.locator("table.attempts td", { hasText: "HTTP 200" }).first().waitFor({ timeout: 5000 });
  await accessible(page, "webhooks-delivered");
  sink.close();

  step = "a destination added on screen waits for approval";
  await page.getByRole("link", { name: "Destinations" }).click();
  await page.getByLabel("Address").fill("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359");
  await page.getByRole("button", { name: "Add address" }).click();
  expect(await shown(page.getByText("awaits approval")), "the pending notice");
  const added = page.locator("table.crypto tr", { hasText: "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359" });
  expect((await added.locator("td.status").innerText()).trim() === "PENDING", "PENDING in the list");
  await accessible(page, "destinations");

  step = "the rules page lists a rule made through the API";
  await apiPost("/v2/orchestration/rules", {
    ref_id: "dash-rule", profile_id: PROFILE, source_asset: "USDC", destination_asset: "USD",
    source: { crypto: { network: "ETHEREUM" } }, destination: { profile: { profile_id: PROFILE } },
  });
  await page.getByRole("link", { name: "Rules" }).click();
  const rule = page.locator("table.rules tr", { hasText: "dash-rule" });
  expect((await rule.locator("td.status").innerText()).trim() === "ACTIVE", "the ACTIVE rule");

  step = "a rule created on screen is active";
  await page.getByLabel("Ref id").fill("dash-rule-2");
  await page.getByLabel("Deposits arrive by").selectOption("crypto:SOLANA");
  await page.getByRole("button", { name: "Create rule" }).click();
  expect(await shown(page.getByText("The rule is active.")), "the notice");
  const onScreen = page.locator('table.rules tr[data-ref-id="dash-rule-2"]');
  expect((await onScreen.locator("td.status").innerText()).trim() === "ACTIVE", "the new rule ACTIVE");
  expect((await onScreen.innerText()).includes("SOLANA"), "its Solana deposit address");
  await accessible(page, "rules");

  step = "the sandbox panel deposits and settles";
  await page.getByRole("link", { name: "Sandbox" }).click();
  await page.getByLabel("Asset").selectOption("USDC");
  await page.getByLabel("Amount").fill("10");
  await page.getByRole("button", { name: "Deposit", exact: true }).click();
  expect(await shown(page.getByText("The deposit is credited.")), "the deposit notice");
  const made = await apiPost("/v2/conversion/stablecoins", {
    ref_id: "dash-2", profile_id: PROFILE, amount: "5", source_asset: "USD", target_asset: "USDC",
  });
  await page.reload();
  await page.getByRole("button", { name: `Settle conversion ${made.id}` }).click();
  expect(await shown(page.getByText("The conversion is settled.")), "the settle notice");
  await accessible(page, "sandbox");

  step = "a conversion's detail page shows its webhook deliveries";
  await page.goto(`${URL}/dashboard/activity/conversion/${made.id}`);
  const delivery = page.locator("tr", { hasText: "conversion.created" }).filter({ hasText: "sink" });
  expect(await delivery.count() === 1, "the delivery of conversion.created to the sink webhook");

  step = "the overview charts the day's volume";
  await page.getByRole("link", { name: "Overview" }).click();
  // Volume is sampled every second here, each sample 5 s late: wait for it.
  const todays = page.locator("tr", { hasText: new Date().toISOString().slice(0, 10) }).filter({ hasText: "105 USD" });
  await todays.waitFor({ state: "attached", timeout: 20000 });
  expect(await shown(page.getByRole("img", { name: "Volume per day, in USD" })), "the volume chart");
  expect(await page.getByRole("link", { name: "API credentials" }).count() === 0, "no credentials page for a treasurer");
  await signOut(page);

  step = "an entity manager creates a credential whose secret is shown once, then revokes it";
  await signIn(page, mona);
  await page.getByRole("link", { name: "API credentials" }).click();
  await page.getByLabel("The customer (a machine credential)").check();
  await page.getByRole("button", { name: "Create credential" }).click();
  const clientId = (await page.locator("#client-id").innerText()).trim();
  const secret = (await page.locator("#client-secret").innerText()).trim();
  expect(secret.length >= 32, "a secret");
  expect(await tokenStatus(clientId, secret) === 200, "the new credential to work");
  await accessible(page, "credentials-created");
  await page.goto(`${URL}/dashboard/credentials`);
  expect(!(await page.content()).includes(secret), "the secret never shown again");
  await page.getByRole("button", { name: `Revoke ${clientId}` }).click();
  expect(await shown(page.getByText("The credential is revoked")), "the notice");
  const credential = page.locator(`tr[data-client-id="${clientId}"] td.status`);
  expect((await credential.innerText()).trim() === "DISABLED", "DISABLED in the list");
  expect(await tokenStatus(clientId, secret) !== 200, "the revoked credential refused");

  step = "an entity manager sets a policy, and an edit to an enabled one waits for approval";
  await page.getByRole("link", { name: "Team" }).click();
  const fiat = page.locator('tr[data-action="ADD_FIAT_ACCOUNT"]');
  await fiat.getByLabel("Enable ADD_FIAT_ACCOUNT").check();
  await fiat.getByRole("button", { name: "Save ADD_FIAT_ACCOUNT" }).click();
  expect(await shown(page.getByText("The policy is set.")), "the set notice");
  expect((await page.locator('tr[data-action="ADD_FIAT_ACCOUNT"] td.enabled').innerText()).trim() === "yes", "enabled");
  const crypto = page.locator('tr[data-action="ADD_CRYPTO_ADDRESS"]');
  await crypto.getByLabel("Enable ADD_CRYPTO_ADDRESS").uncheck();
  await crypto.getByRole("button", { name: "Save ADD_CRYPTO_ADDRESS" }).click();
  expect(await shown(page.getByText("awaits approval")), "the proposed notice");
  expect((await page.locator('tr[data-action="ADD_CRYPTO_ADDRESS"] td.enabled').innerText()).trim() === "yes", "still enabled");

  step = "an entity manager adds a user, whose password is shown once, and changes their roles";
  await page.getByLabel("Email", { exact: true }).fill("newbie@example.com");
  await page.locator("#new-APPROVER").check();
  await page.getByRole("button", { name: "Add user" }).click();
  const password = (await page.locator("#new-password").innerText()).trim();
  expect(password.length >= 16, "a generated password");
  const newbie = page.locator('tr[data-email="newbie@example.com"]');
  expect((await newbie.locator("td.roles").innerText()).includes("APPROVER"), "the APPROVER role");
  await accessible(page, "team");
  await newbie.getByLabel("TREASURER").check();
  await newbie.getByRole("button", { name: "Save roles of newbie@example.com" }).click();
  expect(await shown(page.getByText("The roles are set.")), "the roles notice");
  expect((await page.locator('tr[data-email="newbie@example.com"] td.roles').innerText()).includes("TREASURER"), "the new role");
  expect(!(await page.content()).includes(password), "the password never shown again");
  await signOut(page);

  step = "the new user signs in with the password shown";
  await signIn(page, { email: "newbie@example.com", password });
  await page.waitForURL(/\/dashboard$/);
  expect((await page.locator("form.signout span").innerText()).includes("TREASURER"), "signed in with the new roles");
  await signOut(page);
  console.log("dashboard flows passed");
} finally {
  await browser.close();
}
