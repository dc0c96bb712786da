// The HTTP API with the signed-in token (kept in sessionStorage: this tab only).

const KEY = "deconfliction.token";

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

/** An answer that is not 2xx: status, the contract's error body, Retry-After. */
export class ApiError extends Error {
  constructor(status, error, retryAfter) {
    super(error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = error?.code || null;
    this.field = error?.field || null;
    this.treatAs = error?.treat_as || null;
    this.retryAfter = retryAfter;
  }
}

/** The server could not be reached at all. */
export class Unreachable extends Error {}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const t = token.get();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (err) {
    throw new Unreachable(`the service could not be reached (${err.message})`);
  }
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.error, response.headers.get("Retry-After"));
  }
  return data;
}

/** Every item of a keyset-paginated list. */
export async function listAll(path) {
  const items = [];
  let after = null;
  for (;;) {
    const query = new URLSearchParams({ limit: "1000" });
    if (after) query.set("after", after);
    const page = await api("GET", `${path}?${query}`);
    items.push(...page.items);
    if (!page.next) return items;
    after = page.next;
  }
}
