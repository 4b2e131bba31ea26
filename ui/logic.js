// The window's pure logic: countdown text, colour and form checks. No DOM, no
// Tauri, so `node --test ui/` tests it. Its countdown and colours follow
// tokentray-core's rules, checked against the same vectors
// (tests/vectors/countdown.json); the providers and what each asks for come
// from the engine (`settings.providers`), never from a list of its own.

/**
 * What the form asks for `providerId`: its client id (and how it is called),
 * the PIN, OAuth2 endpoints, the app's key and secret, the redirect address
 * (not where a code is typed), and whether its tokens are read-only.
 */
export function fieldsFor(providers, providerId) {
  const p = (providers ?? []).find((x) => x.id === providerId);
  return {
    clientId: p?.user_id ?? null,
    pin: Boolean(p?.pin),
    endpoints: Boolean(p?.endpoints),
    apiKey: p?.api_key ?? true,
    secret: p?.secret ?? true,
    redirect: p?.redirect ?? true,
    readOnly: Boolean(p?.read_only),
  };
}

/**
 * What the paste field asks for during `providerId`'s login: the address the
 * browser lands on, or, where the broker shows a code or a token to copy
 * (E*TRADE, Breeze, Upstox's analytics console), that.
 */
export function pasteHelp(providers, providerId) {
  const typed = Boolean((providers ?? []).find((x) => x.id === providerId)?.typed);
  return typed
    ? {
        text: "Log in on the broker's page in the browser. Paste here the code or token it shows (or, if it lands on your redirect page, that page's whole address).",
        label: "Code or address",
        placeholder: "the code, or https://...",
      }
    : {
        text: "Log in on the broker's page in the browser. It then lands on your redirect page: copy that page's whole address from the address bar and paste it here.",
        label: "Address",
        placeholder: "https://...",
      };
}

/** `6d 23h`, `2h 14m`, `14m`, `45s`: as the tray and the CLI write it. */
export function formatCountdown(seconds) {
  const s = Math.floor(seconds);
  if (s <= 0) return "0s";
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m`;
  return `${s}s`;
}

/** Seconds left before the user must act, or null when no action will be needed. */
export function remainingSeconds(account, nowMs) {
  if (!account.act_by) return null;
  return Math.floor((Date.parse(account.act_by) - nowMs) / 1000);
}

export function countdownText(account, nowMs) {
  if (account.state === "no_token") return "log in";
  if (account.state === "needs_login") return "log in now";
  const left = remainingSeconds(account, nowMs);
  if (left === null) return "auto-renews";
  if (left <= 0) return "expired";
  return formatCountdown(left);
}

/** no_token, green, orange, red or expired (the engine's level names): a threshold belongs to the more urgent side. */
export function levelFor(account, nowMs) {
  if (account.state === "no_token") return "no_token";
  if (account.state === "needs_login") return "expired";
  const left = remainingSeconds(account, nowMs);
  if (left === null) return account.level === "expired" ? "expired" : "green";
  if (left <= 0) return "expired";
  if (left <= account.red_seconds) return "red";
  if (left <= account.orange_seconds) return "orange";
  return "green";
}

/** The share (0 to 1) of the time until the user must act that is still left, for the countdown's bar. */
export function lifeLeft(account, nowMs) {
  if (account.state === "no_token" || account.state === "needs_login") return 0;
  if (!account.act_by) return 1;
  const end = Date.parse(account.act_by);
  const start = Date.parse(account.login_at ?? account.act_by);
  if (!(end > start)) return nowMs < end ? 1 : 0;
  return Math.min(1, Math.max(0, (end - nowMs) / (end - start)));
}

/** The one action that matters now: a login when it is red or worse, else a renewal, else a check with the broker. */
export function mainAction(account, level) {
  if (["no_token", "red", "expired"].includes(level) || account.state === "needs_login") return "login";
  return account.auto_refresh ? "refresh" : "check";
}

export const WEEK_MS = 7 * 86400 * 1000;

/**
 * An account's last `spanMs` from its history (its own entries and the
 * engine's `stopped` ones), as the timeline draws it: each entry's level
 * lasts until the next entry (or now); `offset` and `share` place it in the
 * span (0 to 1). Before the first entry nothing is known, and while
 * TokenTray was stopped the level is "off": nobody watched.
 */
export function timeline(entries, nowMs, spanMs = WEEK_MS) {
  const start = nowMs - spanMs;
  const segments = [];
  entries.forEach((e, i) => {
    // Cut at now: an entry stamped ahead (a clock set forward, then back) claims no future.
    const from = Math.max(start, Math.min(nowMs, Date.parse(e.at)));
    const to = Math.min(nowMs, i + 1 < entries.length ? Date.parse(entries[i + 1].at) : nowMs);
    if (!(to > from)) return;
    const level = e.kind === "stopped" ? "off"
      : e.state === "no_token" || e.state === "needs_login" ? "expired" : (e.level ?? "no_token");
    segments.push({ from, to, level, offset: (from - start) / spanMs, share: (to - from) / spanMs });
  });
  return segments;
}

/** The history entries that belong on `accountId`'s timeline. */
export function entriesFor(history, accountId) {
  return history.filter((e) => e.account === accountId || (e.account === "" && e.kind === "stopped"));
}

/** The timeline in words, for screen readers and the tooltip. */
export function timelineSummary(entries, nowMs, spanMs = WEEK_MS) {
  const segments = timeline(entries, nowMs, spanMs);
  const dead = segments.filter((s) => s.level === "expired");
  const tokens = entries.filter((e) => e.kind === "token_changed" && Date.parse(e.at) >= nowMs - spanMs).length;
  const deadMs = dead.reduce((sum, s) => sum + (s.to - s.from), 0);
  const days = Math.round(spanMs / 86400000);
  const offMs = segments.filter((s) => s.level === "off").reduce((sum, s) => sum + (s.to - s.from), 0);
  if (segments.length === 0) return `No history in the last ${days} days`;
  return `Last ${days} days: ${tokens} new token${tokens === 1 ? "" : "s"}; ` +
    (dead.length === 0 ? "never dead" : `dead ${dead.length} time${dead.length === 1 ? "" : "s"}, ${formatCountdown(deadMs / 1000)} in all`) +
    (offMs > 0 ? `; TokenTray not running ${formatCountdown(offMs / 1000)}` : "");
}

/**
 * A failed command's error as the window shows it: the engine's message, and
 * whether a login fixes it (then the window offers "Log in").
 */
export function describeError(e) {
  if (e && typeof e === "object" && typeof e.message === "string") {
    return { text: e.message, offerLogin: e.remedy === "login" };
  }
  return { text: String(e), offerLogin: false };
}

/** Each alert's last result in one line for the footer; empty without alerts. */
export function alertsLine(outcomes) {
  if (!Array.isArray(outcomes) || outcomes.length === 0) return "";
  return "Alerts: " + outcomes.map((o) => o.delivered ? `${o.name} sent (${o.event})` : `${o.name} NOT SENT: ${o.error ?? "unknown"}`).join(" · ");
}

/** `90s`, `45m`, `3h`, `1h30m`, `7d` in seconds, or null when it does not read. */
export function parseDuration(text) {
  const t = String(text ?? "").trim();
  if (!/^(\d+[dhms])+$/.test(t)) return null;
  const unit = { d: 86400, h: 3600, m: 60, s: 1 };
  let total = 0;
  for (const [, n, u] of t.matchAll(/(\d+)([dhms])/g)) total += Number(n) * unit[u];
  return total > 0 ? total : null;
}

function isHttpUrl(text) {
  try {
    const u = new URL(text);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}

/** Field name -> what to fix, for the account form. Empty when it can be saved. */
export function validateDraft(draft, { providers = [], existingIds = [], replacing = null } = {}) {
  const errors = {};
  const id = (draft.id ?? "").trim();
  if (!id) errors.id = "Give the account an id, e.g. kite-main.";
  else if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) errors.id = "Use letters, digits, '-', '_' and '.' (64 at most).";
  else if (id !== replacing && existingIds.includes(id)) errors.id = `An account "${id}" exists already.`;
  const fields = fieldsFor(providers, draft.provider);
  if (!providers.some((p) => p.id === draft.provider)) errors.provider = "Choose a provider.";
  if (fields.apiKey && !(draft.api_key ?? "").trim()) errors.api_key = "The api key (client id) from the broker's developer console.";
  if (fields.clientId && !(draft.user_id ?? "").trim()) {
    errors.user_id = `The client id the broker knows you by (${fields.clientId}): it ties each login to the account.`;
  }
  const redirect = (draft.redirect_uri ?? "").trim();
  // Where the broker shows a code to type, a redirect is optional (E*TRADE's registered callback).
  if ((fields.redirect || redirect) && !isHttpUrl(redirect)) errors.redirect_uri = "An http:// or https:// URL, as registered with the broker.";
  const orange = draft.orange ? parseDuration(draft.orange) : null;
  const red = draft.red ? parseDuration(draft.red) : null;
  if (draft.orange && orange === null) errors.orange = "Write a duration like 3h or 90m.";
  if (draft.red && red === null) errors.red = "Write a duration like 1h or 30m.";
  if (orange !== null && red !== null && orange <= red) errors.orange = "Orange must be longer than red: it warns first.";
  if (fields.endpoints) {
    if (!isHttpUrl((draft.authorize_url ?? "").trim())) errors.authorize_url = "The provider's authorize URL.";
    if (!isHttpUrl((draft.token_url ?? "").trim())) errors.token_url = "The provider's token URL.";
    if (draft.profile_url && !isHttpUrl(draft.profile_url.trim())) errors.profile_url = "An http(s) URL, or leave it empty.";
  }
  return errors;
}
