import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { alertsLine, describeError, entriesFor, fieldsFor, formatCountdown, countdownText, levelFor, lifeLeft, mainAction, parseDuration, pasteHelp, timeline, timelineSummary, validateDraft } from "./logic.js";

// The same vectors tokentray-core's and tokentray-runtime's tests check: the
// countdown's rules, and the providers as the engine describes them.
const vectors = (name) => JSON.parse(readFileSync(new URL(`../tests/vectors/${name}.json`, import.meta.url), "utf8"));
const countdown = vectors("countdown");
const providers = vectors("providers");

const now = Date.parse("2026-11-26T10:00:00Z");
const at = (seconds) => new Date(now + seconds * 1000).toISOString();
const account = (over) => ({ state: "valid", level: "green", act_by: at(4 * 3600), orange_seconds: 3 * 3600, red_seconds: 3600, ...over });

test("countdown text matches the tray's (the core's vectors)", () => {
  for (const [seconds, text] of countdown.text) assert.equal(formatCountdown(seconds), text, `${seconds}s`);
});

test("the countdown says what to do when there is nothing to count", () => {
  assert.equal(countdownText(account({ state: "no_token", act_by: null }), now), "log in");
  assert.equal(countdownText(account({ state: "needs_login" }), now), "log in now");
  assert.equal(countdownText(account({ act_by: null }), now), "auto-renews");
  assert.equal(countdownText(account({ act_by: at(-1) }), now), "expired");
  assert.equal(countdownText(account({ act_by: at(8040) }), now), "2h 14m");
});

test("colours follow the thresholds, which belong to the more urgent side (the core's vectors)", () => {
  const { orange, red, cases } = countdown.levels;
  for (const [left, level] of cases) {
    assert.equal(levelFor(account({ act_by: at(left), orange_seconds: orange, red_seconds: red }), now), level, `${left}s left`);
  }
  assert.equal(levelFor(account({ state: "needs_login" }), now), "expired");
  assert.equal(levelFor(account({ state: "no_token", act_by: null }), now), "no_token");
  assert.equal(levelFor(account({ act_by: null }), now), "green");
});

test("durations read as in the config", () => {
  assert.equal(parseDuration("3h"), 10800);
  assert.equal(parseDuration("1h30m"), 5400);
  assert.equal(parseDuration("7d"), 604800);
  assert.equal(parseDuration("3"), null);
  assert.equal(parseDuration("3 hours"), null);
  assert.equal(parseDuration(""), null);
});

test("the form says what to fix, field by field", () => {
  const good = { id: "kite-main", provider: "kite", api_key: "abc", redirect_uri: "http://127.0.0.1:5010/cb" };
  const check = (draft, options = {}) => validateDraft(draft, { providers, ...options });
  assert.deepEqual(check(good), {});
  const bad = check({ id: "my account", provider: "zerodha", api_key: " ", redirect_uri: "127.0.0.1:5010", orange: "1h", red: "2h" });
  assert.deepEqual(Object.keys(bad).sort(), ["api_key", "id", "orange", "provider", "redirect_uri"]);
  assert.match(bad.orange, /longer than red/);
  assert.match(check(good, { existingIds: ["kite-main"] }).id, /exists already/);
  assert.deepEqual(check(good, { existingIds: ["kite-main"], replacing: "kite-main" }), {});
  const oauth = check({ ...good, provider: "oauth2" });
  assert.deepEqual(Object.keys(oauth).sort(), ["authorize_url", "token_url"]);
  // Whatever asks for a client id says what it is called, for each provider that does.
  const withClientId = providers.filter((p) => p.user_id);
  assert.ok(withClientId.length > 0, "some providers tie a login to the client id");
  for (const p of withClientId) {
    assert.ok(check({ ...good, provider: p.id }).user_id.includes(p.user_id), p.id);
    assert.deepEqual(check({ ...good, provider: p.id, user_id: "1100000001" }), {}, p.id);
  }
  assert.deepEqual(check({ ...good, provider: "fyers" }), {}, "the PIN is optional: renewal asks for it");
  assert.deepEqual(fieldsFor(providers, "fyers"), {
    clientId: null, pin: true, endpoints: false, apiKey: true, secret: true, redirect: true, readOnly: false,
  });
  // E*TRADE shows a code to type: its redirect is optional, and checked only when given.
  const etrade = { ...good, provider: "etrade", redirect_uri: "" };
  assert.deepEqual(check(etrade), {}, "no redirect needed for E*TRADE");
  assert.ok(check({ ...etrade, redirect_uri: "oob" }).redirect_uri, "a redirect given must be an http(s) URL");
  // Upstox's analytics token is pasted: no app key, no secret, no redirect; read-only.
  const analytics = fieldsFor(providers, "upstox-analytics");
  assert.deepEqual([analytics.apiKey, analytics.secret, analytics.redirect, analytics.readOnly], [false, false, false, true]);
  assert.deepEqual(check({ id: "upstox-data", provider: "upstox-analytics", api_key: "", redirect_uri: "" }), {});
  assert.ok(check({ ...good, provider: "upstox", api_key: "" }).api_key, "a daily Upstox login needs its app key");
  // The paste field asks for what the broker's page shows.
  assert.equal(pasteHelp(providers, "etrade").label, "Code or address");
  assert.equal(pasteHelp(providers, "upstox-analytics").label, "Code or address");
  assert.equal(pasteHelp(providers, "angelone").label, "Address");
  assert.equal(validateDraft(good).provider, "Choose a provider.", "no providers from the engine: none to choose");
});

test("a command's error shows its message and offers a login only when one fixes it", () => {
  assert.deepEqual(describeError({ message: "kite: run `tokentray login kite`", remedy: "login" }), { text: "kite: run `tokentray login kite`", offerLogin: true });
  assert.deepEqual(describeError({ message: "broker unreachable", remedy: "retry" }), { text: "broker unreachable", offerLogin: false });
  assert.deepEqual(describeError("command accounts not allowed"), { text: "command accounts not allowed", offerLogin: false });
});

test("the bar shows the share of the time left, and the main button the one action that matters", () => {
  const login = Date.parse("2026-11-26T03:45:00Z");
  const kite = { state: "valid", login_at: "2026-11-26T03:45:00Z", act_by: "2026-11-27T00:30:00Z", auto_refresh: false };
  const end = Date.parse(kite.act_by);
  assert.equal(lifeLeft(kite, login), 1);
  assert.equal(lifeLeft(kite, login + (end - login) / 4), 0.75);
  assert.equal(lifeLeft(kite, end + 1000), 0);
  assert.equal(lifeLeft({ state: "valid", act_by: null, auto_refresh: true }, login), 1, "renews by itself: full");
  assert.equal(lifeLeft({ state: "needs_login", act_by: kite.act_by }, login), 0);
  assert.equal(mainAction(kite, "green"), "check");
  assert.equal(mainAction({ ...kite, auto_refresh: true }, "orange"), "refresh");
  for (const level of ["red", "expired", "no_token"]) assert.equal(mainAction(kite, level), "login", level);
  assert.equal(mainAction({ ...kite, state: "needs_login" }, "green"), "login");
});

test("the timeline shows each level until the next change, and says so in words", () => {
  const now = Date.parse("2026-11-28T12:00:00Z");
  const day = 86400000;
  const at = (ms) => new Date(ms).toISOString();
  const entries = [
    { at: at(now - 8 * day), kind: "token_changed", state: "valid", level: "green" },
    { at: at(now - 2 * day), kind: "status_changed", state: "expired", level: "expired" },
    { at: at(now - 2 * day + 13 * 60000), kind: "token_changed", state: "valid", level: "green" },
    { at: at(now - 3600000), kind: "status_changed", state: "valid", level: "orange" },
  ];
  const segments = timeline(entries, now);
  assert.deepEqual(segments.map((s) => s.level), ["green", "expired", "green", "orange"]);
  assert.equal(segments[0].offset, 0, "what began before the week is cut at its start");
  assert.equal(segments[1].to - segments[1].from, 13 * 60000, "dead for 13 minutes");
  const total = segments.reduce((sum, s) => sum + s.share, 0);
  assert.ok(Math.abs(total - 1) < 1e-9, "the week is covered to now");
  assert.equal(timelineSummary(entries, now), "Last 7 days: 1 new token; dead 1 time, 13m in all");
  assert.equal(timelineSummary([], now), "No history in the last 7 days");
});

test("while TokenTray was stopped the timeline claims nothing", () => {
  const now = Date.parse("2026-11-28T12:00:00Z");
  const hour = 3600000;
  const at = (ms) => new Date(ms).toISOString();
  const history = [
    { at: at(now - 10 * hour), account: "kite", kind: "token_changed", state: "valid", level: "green" },
    { at: at(now - 9 * hour), account: "other", kind: "status_changed", state: "expired", level: "expired" },
    { at: at(now - 8 * hour), account: "", kind: "stopped", state: null, level: null },
    { at: at(now - 5 * hour), account: "kite", kind: "started", state: "needs_login", level: "expired" },
  ];
  const entries = entriesFor(history, "kite");
  assert.deepEqual(entries.map((e) => e.kind), ["token_changed", "stopped", "started"], "another account's entries are not kite's");
  const segments = timeline(entries, now);
  assert.deepEqual(segments.map((s) => [s.level, (s.to - s.from) / hour]), [["green", 2], ["off", 3], ["expired", 5]]);
  assert.equal(timelineSummary(entries, now), "Last 7 days: 1 new token; dead 1 time, 5h 00m in all; TokenTray not running 3h 00m");
});

test("the footer says how each alert's last sending went", () => {
  assert.equal(alertsLine([]), "");
  assert.equal(alertsLine(undefined), "");
  assert.equal(
    alertsLine([
      { name: "phone", event: "red", delivered: true, error: null },
      { name: "bot", event: "red", delivered: false, error: "HTTP 401: Unauthorized; set the bot token with `tokentray secret set --alert bot`" },
    ]),
    "Alerts: phone sent (red) · bot NOT SENT: HTTP 401: Unauthorized; set the bot token with `tokentray secret set --alert bot`",
  );
});
