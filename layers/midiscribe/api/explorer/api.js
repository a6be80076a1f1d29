// Calls from the page. The API key goes only to the API (this page's own origin); the bucket gets
// presigned links and upload forms, which carry their own authorisation, and never the key.

const KEY_STORAGE = "midiscribe.apiKey";
const TASKS_PER_PAGE = 10;
// The page lives at <api>/explorer/, so the API's routes are one folder up from this module.
export const apiBase = new URL("../", import.meta.url);

export class ApiError extends Error {
  constructor(message, { status = 0, code = "" } = {}) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const savedKey = () => localStorage.getItem(KEY_STORAGE) || "";
export const saveKey = (key) => localStorage.setItem(KEY_STORAGE, key);
export const forgetKey = () => localStorage.removeItem(KEY_STORAGE);

async function call(path, { method = "GET", query, json, authorised = true } = {}) {
  const url = new URL(path, apiBase);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  if (authorised) {
    const key = savedKey();
    if (!key) throw new ApiError("No API key: paste your key at the top of the page and save it.");
    headers.Authorization = key;
  }
  if (json !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  } catch {
    throw new ApiError(`Cannot reach the API at ${apiBase}: is it running (make run)?`);
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = body.error || body.message || `The API answered HTTP ${response.status}.`;
    throw new ApiError(message, { status: response.status, code: body.code || "" });
  }
  return body;
}

export const openapi = () => call("openapi.json", { authorised: false });

export const conversion = async (taskId) => (await call("v1/byId", { query: { task_id: taskId } })).conversion;

export const tasks = (cursor) => call("v1/tasks", { query: { limit: TASKS_PER_PAGE, cursor } });

export const submit = (fields) => call("v1/audio_to_midi", { method: "POST", json: fields });

// The file goes straight to the bucket with the form POST /v1/uploads hands out (no size limit of API
// Gateway's to meet); ``onProgress(fraction)`` follows the upload. Resolves to the audio_path to submit.
export async function upload(file, onProgress) {
  const grant = await call("v1/uploads", {
    method: "POST",
    json: { filename: file.name || "audio", content_type: file.type || "application/octet-stream" },
  });
  const form = new FormData();
  for (const [name, value] of Object.entries(grant.fields)) form.append(name, value);
  form.append("file", file);
  await new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", grant.upload_url);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress?.(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      if (request.status >= 200 && request.status < 300) resolve();
      else if (request.status === 400 && /EntityTooLarge/.test(request.responseText)) {
        reject(new ApiError(`${file.name} is larger than this deployment accepts (${grant.max_bytes} bytes).`));
      } else reject(new ApiError(`The bucket refused the upload (HTTP ${request.status}); try again.`));
    });
    request.addEventListener("error", () => reject(new ApiError("The upload to the bucket failed: check the connection and try again.")));
    request.send(form);
  });
  return grant.audio_path;
}

// A result file from its presigned link (no key: the link is the authorisation).
export async function resultJson(link) {
  let response;
  try {
    response = await fetch(link);
  } catch {
    throw new ApiError("Cannot fetch the notes file from the bucket (network or CORS): reopen the task to get fresh links.");
  }
  if (!response.ok) {
    throw new ApiError(`The notes file could not be fetched (HTTP ${response.status}): links expire, reopen the task.`);
  }
  return response.json();
}
