// The console's session and its calls to the API (same origin).
//
// A tenant user signs in with email and password: the access token stays in
// memory, the refresh token in an HttpOnly cookie the server sets (no
// script can read it); a reload restores the session through it. The
// platform admin signs in with the admin token (kept for the tab only) and
// picks the tenant to look at.

export interface User { id: string; email: string; tenant_id: string; role: string }

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details: Record<string, unknown> = {}) {
    super(message);
  }
}

interface Session { token: string; user?: User; admin: boolean; tenantId: string }
let session: Session | null = null;
const ADMIN_KEY = "embedrec.admin";
// Set while a user's session may be restored (the cookie itself is unreadable).
const SESSION_KEY = "embedrec.session";

export const signedIn = () => session !== null;
export const currentUser = () => session?.user;
export const isAdmin = () => session?.admin ?? false;
export const tenantId = () => session?.tenantId ?? "";
export function setTenant(id: string): void {
  if (session) session.tenantId = id;
  if (session?.admin) sessionStorage.setItem(ADMIN_KEY + ".tenant", id);
}

async function raw(method: string, path: string, body?: unknown, token?: string): Promise<Response> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined && !(body instanceof Blob)) headers["Content-Type"] = "application/json";
  return fetch(path, { method, headers, credentials: "same-origin",
                       body: body === undefined ? undefined : body instanceof Blob ? body : JSON.stringify(body) });
}

async function decode(res: Response): Promise<any> {
  const text = await res.text();
  const data = text ? JSON.parse(text) : {};
  if (!res.ok && res.status !== 207) {
    const e = data.error ?? {};
    throw new ApiError(res.status, e.code ?? "error", e.message ?? `HTTP ${res.status}`, e.details ?? {});
  }
  return data;
}

export async function signIn(email: string, password: string): Promise<void> {
  const t = await decode(await raw("POST", "/api/v1/auth/login", { email, password, cookie: true }));
  session = { token: t.access_token, user: t.user, admin: false, tenantId: t.user.tenant_id };
  localStorage.setItem(SESSION_KEY, "1");
}

export async function signInAdmin(token: string): Promise<void> {
  const me = await decode(await raw("GET", "/api/v1/auth/me", undefined, token));
  if (me.kind !== "platform_admin") throw new ApiError(403, "not_admin", "this token is not the platform admin's");
  sessionStorage.setItem(ADMIN_KEY, token);
  session = { token, admin: true, tenantId: sessionStorage.getItem(ADMIN_KEY + ".tenant") ?? "" };
}

// A session from before a reload: the admin's token, or the refresh cookie.
export async function restore(): Promise<boolean> {
  const admin = sessionStorage.getItem(ADMIN_KEY);
  if (admin) {
    try {
      await signInAdmin(admin);
      return true;
    } catch {
      sessionStorage.removeItem(ADMIN_KEY);
    }
  }
  return localStorage.getItem(SESSION_KEY) ? refresh() : false;
}

async function refresh(): Promise<boolean> {
  const res = await raw("POST", "/api/v1/auth/refresh", {});
  if (!res.ok) {
    localStorage.removeItem(SESSION_KEY);
    return false;
  }
  const t = await res.json();
  session = { token: t.access_token, user: t.user, admin: false, tenantId: t.user.tenant_id };
  return true;
}

export async function signOut(): Promise<void> {
  if (session && !session.admin) await raw("POST", "/api/v1/auth/logout", {}).catch(() => undefined);
  sessionStorage.removeItem(ADMIN_KEY);
  sessionStorage.removeItem(ADMIN_KEY + ".tenant");
  localStorage.removeItem(SESSION_KEY);
  session = null;
}

// Adds ?tenant_id for the platform admin (a tenant's user acts on its own).
export function withTenant(path: string): string {
  if (!session?.admin || !session.tenantId || /[?&]tenant_id=/.test(path)) return path;
  if (path.startsWith("/api/v1/admin/tenants") || path.startsWith("/api/v1/auth")) return path;  // not tenant-scoped
  return path + (path.includes("?") ? "&" : "?") + "tenant_id=" + encodeURIComponent(session.tenantId);
}

// A call with the session's token; an expired access token is refreshed once.
export async function api(method: string, path: string, body?: unknown): Promise<any> {
  if (!session) throw new ApiError(401, "signed_out", "not signed in");
  let res = await raw(method, withTenant(path), body, session.token);
  if (res.status === 401 && !session.admin && (await refresh())) res = await raw(method, withTenant(path), body, session.token);
  return decode(res);
}

export function authHeader(): string {
  return session ? `Bearer ${session.token}` : "";
}

// Uploads a file with progress: `onSent(fraction)` while its bytes go out,
// then `onRows(lines read)` as the server reads them (polled), then the answer.
export function upload(path: string, file: File, onSent: (fraction: number) => void,
                       onRows: (lines: number) => void = () => undefined): Promise<any> {
  const progressId = (crypto.randomUUID?.() ?? Math.random().toString(36).slice(2)).replace(/[^a-z0-9-]/gi, "");
  let polling: ReturnType<typeof setInterval> | undefined;
  const poll = () => {
    if (polling !== undefined) return;
    polling = setInterval(async () => {
      try {
        const p = await api("GET", `/api/v1/data/uploads/progress/${progressId}`);
        onRows(p.lines_read);
      } catch { /* not started yet, or another server */ }
    }, 250);
  };
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", withTenant(path));
    xhr.setRequestHeader("Authorization", authHeader());
    xhr.setRequestHeader("Content-Type", "text/csv");
    xhr.setRequestHeader("X-Upload-Progress", progressId);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onSent(e.loaded / e.total); poll(); };
    xhr.upload.onload = () => onSent(1);
    const done = () => { if (polling !== undefined) clearInterval(polling); };
    xhr.onerror = () => { done(); reject(new ApiError(0, "network", "the upload could not be sent")); };
    xhr.onload = () => {
      done();
      let data: any = {};
      try { data = JSON.parse(xhr.responseText || "{}"); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, data.error?.code ?? "error", data.error?.message ?? `HTTP ${xhr.status}`, data.error?.details ?? {}));
    };
    xhr.send(file);
  });
}

// Server-Sent Events with the token (EventSource cannot send one): each
// event's name and data, until the stream ends or `signal` aborts.
export async function events(path: string, onEvent: (name: string, data: any) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(withTenant(path), { headers: { Authorization: authHeader() }, signal });
  if (!res.ok || !res.body) throw new ApiError(res.status, "stream", `HTTP ${res.status}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      try { onEvent(name, JSON.parse(data)); } catch { /* not JSON */ }
    }
  }
}
