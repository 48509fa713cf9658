// Who is signed in and which view the console shows.
//
// The view follows the session's role (GET /api/auth/me): a commander always gets the read-only
// view, whatever the URL says; an operator or admin gets the operator view and may preview the
// commander view with `?view=commander`. The service enforces the same rule on every request, so
// this only decides which controls exist on the page. No session (401) sends the browser to the
// sign-in page, which comes back here afterwards.

const VIEWS = {
  operator: { name: "operator", canCommand: true },
  commander: { name: "commander", canCommand: false },
};

/** The sign-in page's URL that returns to where the console is now. */
export function loginUrl(expired = false, loc = location) {
  const q = new URLSearchParams({ next: loc.pathname + loc.search + loc.hash });
  if (expired) q.set("expired", "1");
  return `/login.html?${q}`;
}

/** Leave for the sign-in page (the session is missing, expired or revoked). */
export function toLogin(expired = false) {
  location.replace(loginUrl(expired));
}

/** The view for a session (`me`: the body of GET /api/auth/me). */
export function viewFor(me, search = location.search) {
  if (!me || !me.can_command) return VIEWS.commander;
  return new URLSearchParams(search).get("view") === "commander" ? VIEWS.commander : VIEWS.operator;
}

/**
 * The signed-in user and their view; sends the browser to the sign-in page and never resolves
 * when there is no session.
 */
export async function loadSession() {
  let res;
  try {
    res = await fetch("/api/auth/me", { credentials: "same-origin", headers: { Accept: "application/json" } });
  } catch (e) {
    throw new Error(`the service cannot be reached: ${e.message}`);
  }
  if (res.status === 401) {
    toLogin(false);
    return new Promise(() => {});
  }
  if (!res.ok) throw new Error(`GET /api/auth/me: HTTP ${res.status}`);
  const me = await res.json();
  return { me, role: viewFor(me), username: me.user.username, userRole: me.user.role };
}

/** End the session on the service, then show the sign-in page. */
export async function logout() {
  try {
    await fetch("/api/auth/logout", { method: "POST", credentials: "same-origin" });
  } finally {
    location.replace("/login.html");
  }
}
