/* The JSON API helper: same-origin cookie session, JSON in and out, and an
 * ApiError carrying the HTTP status and the body's error message. */

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
  /* The contract's error shape: {"error": {"code", "message", "field"?}}. */
  get code() { return this.body && this.body.error ? this.body.error.code : undefined; }
  get field() { return this.body && this.body.error ? this.body.error.field : undefined; }
}

async function send(path, opts) {
  const resp = await fetch(path, { credentials: "same-origin", ...opts });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  if (!resp.ok) {
    const msg = (data && data.error && data.error.message) || resp.statusText;
    const err = new ApiError(msg, resp.status, data);
    err.retryAfter = Number(resp.headers.get("retry-after")) || null;
    throw err;
  }
  return data;
}

export async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  return send(path, opts);
}

/* A multipart/form-data POST (a file upload): the browser writes the
 * Content-Type with its boundary itself. */
export async function postForm(path, formData) {
  return send(path, { method: "POST", body: formData });
}
