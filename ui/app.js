// The window: renders the accounts, ticks their countdowns every second from
// the act-by instant (no backend call per tick), and drives the commands.
import { alertsLine, countdownText, describeError, entriesFor, fieldsFor, levelFor, lifeLeft, mainAction, pasteHelp, timeline, timelineSummary, validateDraft } from "./logic.js";

const { invoke } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;

const $ = (id) => document.getElementById(id);
let accounts = [];
let history = []; // the last week's events, every account's, oldest first
let editing = null; // the id being edited, or null when adding
const busy = new Map(); // account id -> what it is waiting for
let pasting = null; // the account the paste form is for, while it shows
let pastingProvider = null; // and its provider, whose login says what is pasted
const wantsPaste = new Set(); // accounts whose login, started here, waits for a pasted address
let providers = []; // what the engine describes: the form's choices and the fields each takes

function timeOf(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : "-";
}

function button(text, action, id, disabled = false) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.dataset.action = action;
  b.dataset.account = id;
  b.disabled = disabled;
  return b;
}

function render() {
  const rows = $("rows");
  rows.replaceChildren();
  $("empty").hidden = accounts.length > 0;
  for (const a of accounts) {
    const tr = document.createElement("tr");
    tr.id = `row-${a.id}`;
    tr.dataset.account = a.id;
    // What a narrow window's hidden columns say.
    tr.title = `User: ${a.user_id ?? "-"}; last checked ${timeOf(a.last_validated)}`;

    const name = document.createElement("td");
    name.className = "name";
    name.textContent = a.label;
    const provider = document.createElement("span");
    provider.className = "provider";
    // A read-only token (Upstox's extended or analytics) says so where it shows.
    const readOnly = providers.some((p) => p.id === a.provider && p.read_only);
    provider.textContent = readOnly ? `${a.provider} · read-only, no orders` : a.provider;
    name.append(provider, timelineOf(a));

    const countdown = document.createElement("td");
    countdown.className = "countdown";
    // Exact on hover; the bar shows the share of the time left at a glance.
    countdown.title = a.act_by ? `Act by ${new Date(a.act_by).toLocaleString()}` : "Renews by itself";
    const text = document.createElement("span");
    text.className = "countdown-text";
    const life = document.createElement("div");
    life.className = "life";
    life.setAttribute("role", "meter");
    life.setAttribute("aria-label", `${a.label}: time left`);
    life.setAttribute("aria-valuemin", "0");
    life.setAttribute("aria-valuemax", "100");
    life.append(document.createElement("span"));
    countdown.append(text, life);

    const state = document.createElement("td");
    state.className = "state";
    state.textContent = busy.get(a.id) ?? a.state.replace("_", " ");
    if (a.last_error_message) {
      const err = document.createElement("span");
      err.className = "error-text";
      err.textContent = a.last_error_message;
      state.append(err);
    }

    const user = document.createElement("td");
    user.textContent = a.user_id ?? "-";
    const checked = document.createElement("td");
    checked.textContent = timeOf(a.last_validated);

    const actions = document.createElement("td");
    actions.className = "actions";
    const waiting = busy.has(a.id);
    actions.append(
      button("Log in", "login", a.id, waiting),
      button("Refresh now", "refresh", a.id, waiting || !a.auto_refresh),
      button("Check now", "check", a.id, waiting || a.state === "no_token"),
      button("Log out", "logout", a.id, waiting || a.state === "no_token"),
      button("Edit", "edit", a.id),
    );
    tr.append(name, countdown, state, user, checked, actions);
    rows.append(tr);
  }
  showPasteForm(accounts.find((a) => a.awaiting_paste || wantsPaste.has(a.id)));
  tick();
}

/** The field for the address a login's browser lands on, when no loopback server receives it (Angel One). */
function showPasteForm(account) {
  const form = $("paste-form");
  if (!account) {
    form.hidden = true;
    pasting = null;
    return;
  }
  if (pasting !== account.id) {
    pasting = account.id;
    pastingProvider = account.provider;
    $("paste-title").textContent = `Finish the ${account.label} login`;
    const help = pasteHelp(providers, account.provider);
    $("paste-help").textContent = help.text;
    $("p-url-label").textContent = help.label;
    $("p-url").placeholder = help.placeholder;
    $("p-url").value = "";
    $("paste-error").textContent = "";
  }
  form.hidden = false;
}

async function submitPaste(event) {
  event.preventDefault();
  const url = $("p-url").value.trim();
  if (!url) {
    $("paste-error").textContent = pasteHelp(providers, pastingProvider).label === "Address"
      ? "Paste the address the browser landed on."
      : "Paste the code the broker's page shows, or the address the browser landed on.";
    return;
  }
  try {
    await invoke("paste_login", { account: pasting, url });
    $("paste-error").textContent = "";
    $("p-url").value = "";
  } catch (e) {
    $("paste-error").textContent = describeError(e).text;
  }
}

/** Countdown and colour, from the act-by instant and this machine's clock. */
function tick() {
  const now = Date.now();
  for (const a of accounts) {
    const tr = $(`row-${a.id}`);
    if (!tr) continue;
    const level = levelFor(a, now);
    tr.className = `level-${level}`;
    tr.dataset.level = level;
    tr.querySelector(".countdown-text").textContent = countdownText(a, now);
    const share = Math.round(lifeLeft(a, now) * 100);
    const life = tr.querySelector(".life");
    life.setAttribute("aria-valuenow", String(share));
    life.firstChild.style.width = `${share}%`;
    const main = mainAction(a, level);
    for (const b of tr.querySelectorAll("td.actions button")) b.classList.toggle("primary", b.dataset.action === main);
  }
}

async function load() {
  accounts = await invoke("accounts");
  history = await invoke("history").catch(() => []);
  render();
  const settings = await invoke("settings").catch(() => null);
  $("alerts").textContent = alertsLine(settings?.alerts);
  const held = settings?.silenced_until;
  $("silence").textContent = held ? `Notifications that can wait are held until ${new Date(held).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}` : "";
}

/** The account's last week as a strip: each level until the next change, the exact times on hover. */
function timelineOf(a) {
  const now = Date.now();
  const entries = entriesFor(history, a.id);
  const strip = document.createElement("div");
  strip.className = "timeline";
  strip.setAttribute("role", "img");
  strip.setAttribute("aria-label", `${a.label}: ${timelineSummary(entries, now)}`);
  strip.title = timelineSummary(entries, now);
  const when = (ms) => new Date(ms).toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
  for (const s of timeline(entries, now)) {
    const seg = document.createElement("span");
    seg.className = `seg level-${s.level}`;
    seg.style.left = `${(s.offset * 100).toFixed(3)}%`;
    seg.style.width = `${(s.share * 100).toFixed(3)}%`;
    const what = s.level === "off" ? "TokenTray not running" : s.level.replace("_", " ");
    seg.title = `${when(s.from)} - ${when(s.to)}: ${what}`;
    strip.append(seg);
  }
  return strip;
}

async function act(action, id) {
  if (action === "edit") return openForm(accounts.find((a) => a.id === id));
  const byPaste = action === "login" && accounts.find((a) => a.id === id)?.login_by_paste;
  busy.set(id, action !== "login" ? `${action}…` : byPaste ? "waiting for the address you paste…" : "waiting for the browser…");
  if (byPaste) wantsPaste.add(id);
  render();
  try {
    await invoke(action, { account: id });
    $("banner").hidden = true;
  } catch (e) {
    const { text, offerLogin } = describeError(e);
    showBanner(text, offerLogin && action !== "login" ? id : null);
  } finally {
    busy.delete(id);
    wantsPaste.delete(id);
    await load();
  }
}

/** Shows what went wrong; with `loginFor`, the one button that fixes it. */
function showBanner(text, loginFor = null) {
  const banner = $("banner");
  banner.replaceChildren(document.createTextNode(text));
  if (loginFor) banner.append(" ", button("Log in", "login", loginFor));
  banner.hidden = false;
}

const FIELDS = ["id", "provider", "label", "api_key", "api_secret", "user_id", "pin", "redirect_uri", "orange", "red", "authorize_url", "token_url", "profile_url", "scopes"];

/** The form's provider choices, as the engine describes them. */
function fillProviders() {
  $("f-provider").replaceChildren(...providers.map((p) => {
    const option = document.createElement("option");
    option.value = p.id;
    option.textContent = p.name;
    return option;
  }));
}

/** Shows the fields the chosen provider takes. */
function showProviderFields() {
  const fields = fieldsFor(providers, $("f-provider").value);
  const form = $("account-form");
  form.classList.toggle("oauth2", fields.endpoints);
  form.classList.toggle("client-id", Boolean(fields.clientId));
  form.classList.toggle("pin", fields.pin);
  form.classList.toggle("app-key", fields.apiKey);
  form.classList.toggle("app-secret", fields.secret);
  form.classList.toggle("redirect", fields.redirect || fields.apiKey);
  form.classList.toggle("read-only", fields.readOnly);
  $("f-api_key").required = fields.apiKey;
  $("f-redirect_uri").required = fields.redirect;
  $("f-redirect_uri").placeholder = fields.redirect ? "http://127.0.0.1:5010/callback" : "optional: a callback the broker registered for you";
  $("f-user_id").placeholder = fields.clientId ?? "your client id at the broker";
}

function formatSeconds(s) {
  if (s % 86400 === 0) return `${s / 86400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

function openForm(account) {
  editing = account?.id ?? null;
  const form = $("account-form");
  $("form-title").textContent = account ? `Edit ${account.label}` : "Add account";
  const values = account
    ? {
        id: account.id, provider: account.provider, label: account.label === account.id ? "" : account.label,
        api_key: account.api_key, api_secret: "", pin: "", user_id: account.config_user_id ?? "",
        redirect_uri: account.redirect_uri,
        orange: formatSeconds(account.orange_seconds), red: formatSeconds(account.red_seconds),
        authorize_url: account.authorize_url ?? "", token_url: account.token_url ?? "",
        profile_url: account.profile_url ?? "", scopes: (account.scopes ?? []).join(" "),
      }
    : { provider: providers[0]?.id ?? "" };
  for (const f of FIELDS) {
    const input = $(`f-${f}`);
    input.value = values[f] ?? "";
    input.removeAttribute("aria-invalid");
  }
  $("delete").hidden = !account;
  $("form-error").textContent = "";
  showProviderFields();
  form.hidden = false;
  $("f-id").focus();
}

function closeForm() {
  $("account-form").hidden = true;
  $("add").focus();
}

async function saveForm(event) {
  event.preventDefault();
  const values = Object.fromEntries(FIELDS.map((f) => [f, $(`f-${f}`).value]));
  const errors = validateDraft(values, { providers, existingIds: accounts.map((a) => a.id), replacing: editing });
  for (const f of FIELDS) {
    $(`f-${f}`).setAttribute("aria-invalid", f in errors ? "true" : "false");
  }
  const first = Object.keys(errors)[0];
  if (first) {
    $("form-error").textContent = errors[first];
    $(`f-${first}`).focus();
    return;
  }
  const { api_secret, pin, ...draft } = values;
  for (const k of ["label", "user_id", "orange", "red", "authorize_url", "token_url", "profile_url", "scopes"]) {
    if (!draft[k].trim()) draft[k] = null;
  }
  try {
    // The secret and the PIN go to the keyring through the backend and are never read back.
    await invoke("save_account", { draft, replacing: editing, apiSecret: api_secret || null, pin: pin || null });
    $("f-api_secret").value = "";
    $("f-pin").value = "";
    closeForm();
    await load();
  } catch (e) {
    $("form-error").textContent = describeError(e).text;
  }
}

async function deleteAccount() {
  if (!editing) return;
  try {
    await invoke("delete_account", { account: editing });
    closeForm();
    await load();
  } catch (e) {
    $("form-error").textContent = describeError(e).text;
  }
}

async function saveThresholds(event) {
  event.preventDefault();
  try {
    await invoke("save_thresholds", { orange: $("t-orange").value, red: $("t-red").value });
    $("thresholds-form").hidden = true;
    await load();
  } catch (e) {
    $("thresholds-error").textContent = describeError(e).text;
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  $("rows").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-action]");
    if (b) act(b.dataset.action, b.dataset.account);
  });
  $("banner").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-action]");
    if (b) act(b.dataset.action, b.dataset.account);
  });
  $("add").addEventListener("click", () => openForm(null));
  $("cancel").addEventListener("click", closeForm);
  $("delete").addEventListener("click", deleteAccount);
  $("account-form").addEventListener("submit", saveForm);
  $("f-provider").addEventListener("change", showProviderFields);
  $("edit-thresholds").addEventListener("click", () => {
    $("thresholds-form").hidden = false;
    $("t-orange").focus();
  });
  $("thresholds-cancel").addEventListener("click", () => ($("thresholds-form").hidden = true));
  $("thresholds-form").addEventListener("submit", saveThresholds);
  $("paste-form").addEventListener("submit", submitPaste);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("account-form").hidden) closeForm();
    // Ctrl+W closes the window, as in other desktop apps; the tray stays.
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "w") window.__TAURI__.window.getCurrentWindow().close();
  });

  const settings = await invoke("settings");
  providers = settings.providers ?? [];
  fillProviders();
  $("storage").textContent = `Secrets: ${settings.storage}`;
  $("config-path").textContent = `Config: ${settings.config_path}`;
  if (settings.demo) showBanner("Demo: two accounts on the built-in sandbox broker. Watch demo-kite turn orange, red, then expire; then log in.");
  await listen("accounts-changed", load);
  await load();
  setInterval(tick, 1000);
});
