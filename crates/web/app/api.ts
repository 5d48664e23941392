// The app's one connection to FlashForge: openapi-fetch over the types generated from
// docs/openapi.json (tests/client-ts, the same generator and schema as the TypeScript client),
// plus the sign-in state.
//
// Tokens. The access token lives in memory only. The API hands the refresh token to the client
// in a JSON body (it sets no cookie), so the app keeps it in Web Storage to survive a reload:
// localStorage when "keep me signed in" is ticked, sessionStorage (this tab only) otherwise.
// The trade-off: a script running in this page could read it. The server's Content-Security-
// Policy lets only this app's own files run (no inline script, no other origin), refresh tokens
// are single-use (a replayed one ends the whole session), and signing out revokes it.
// Tabs share the stored token: a refresh runs under a Web Lock and starts from the stored token,
// so two tabs never spend the same one.
import createClient from "openapi-fetch";
import { bearerFetch } from "../../../tests/client-ts/src/client";
import type { components, paths } from "../../../tests/client-ts/src/schema";

export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];
export type User = Schemas["UserBody"];

/** Where the API is: this origin, unless index.html names another (`<meta name="flashforge-api">`). */
export const API_BASE: string = (
  document.querySelector<HTMLMetaElement>('meta[name="flashforge-api"]')?.content ?? ""
).replace(/\/+$/, "");

const REFRESH_KEY = "flashforge.refresh";
const REMEMBER_KEY = "flashforge.remember";

type Listener = () => void;

class Auth {
  private access: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<boolean> | undefined;
  private listeners = new Set<Listener>();
  user: User | null = null;
  /** Set once the stored session was tried at start-up. */
  ready = false;

  constructor() {
    addEventListener("storage", (event) => {
      // Another tab signed out: so does this one.
      if (event.key === REFRESH_KEY && event.newValue === null && this.user) this.forget();
    });
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }

  private store(): Storage {
    return localStorage.getItem(REMEMBER_KEY) === "1" ? localStorage : sessionStorage;
  }

  private storedRefresh(): string | null {
    return localStorage.getItem(REFRESH_KEY) ?? sessionStorage.getItem(REFRESH_KEY);
  }

  get accessToken(): string | undefined {
    return this.access;
  }

  /** Keeps a pair from sign-in, sign-up or refresh and schedules the next silent refresh. */
  accept(tokens: Schemas["TokenBody"], remember?: boolean): void {
    if (remember !== undefined) {
      localStorage.removeItem(REFRESH_KEY);
      sessionStorage.removeItem(REFRESH_KEY);
      if (remember) localStorage.setItem(REMEMBER_KEY, "1");
      else localStorage.removeItem(REMEMBER_KEY);
    }
    this.access = tokens.access_token;
    this.store().setItem(REFRESH_KEY, tokens.refresh_token);
    clearTimeout(this.timer);
    // Refresh at 80% of the access token's life, so calls rarely meet a 401.
    const inMs = Math.max(5, tokens.expires_in * 0.8) * 1000;
    this.timer = setTimeout(() => void this.refresh(), inMs);
  }

  signedIn(user: User): void {
    this.user = user;
    this.emit();
  }

  /** Forgets the session locally (after sign-out, or when the server refuses the token). */
  forget(): void {
    clearTimeout(this.timer);
    this.access = undefined;
    this.user = null;
    localStorage.removeItem(REFRESH_KEY);
    sessionStorage.removeItem(REFRESH_KEY);
    this.emit();
  }

  /** Exchanges the stored refresh token for a new pair; false when there is none or it is refused. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.exchangeLocked().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async exchangeLocked(): Promise<boolean> {
    if (navigator.locks) return navigator.locks.request("flashforge-refresh", () => this.exchange());
    return this.exchange();
  }

  private async exchange(): Promise<boolean> {
    const refresh_token = this.storedRefresh();
    if (!refresh_token) return false;
    try {
      const { data, response } = await anonymous.POST("/api/v1/auth/refresh", { body: { refresh_token } });
      if (data) {
        this.accept(data);
        return true;
      }
      // Refused (expired, revoked, already spent): the session is over. A network failure or a
      // 5xx leaves it for the next try.
      if (response.status === 401 || response.status === 400 || response.status === 422) this.forget();
      return false;
    } catch {
      return false;
    }
  }

  /** At start-up: the stored session, if any is still good. */
  async restore(): Promise<void> {
    if (this.storedRefresh() && (await this.refresh())) {
      const { data } = await api.GET("/api/v1/me");
      if (data) this.user = data;
    }
    this.ready = true;
    this.emit();
  }

  /** `fetch` with the access token; a 401 refreshes once and sends the call again. */
  readonly fetch = bearerFetch(
    () => this.access,
    () => this.refresh(),
  );
}

/**
 * Every item of a cursor-paginated list, page by page (`limit` items each), up to `cap` items:
 * `page(cursor)` fetches one page.
 */
export async function allPages<T>(
  page: (cursor: { cursor?: string }) => Promise<{ data?: { items: T[]; next_cursor?: string | null }; error?: unknown; response: Response }>,
  cap: number,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const body = await call(page(cursor ? { cursor } : {}));
    items.push(...body.items);
    cursor = body.next_cursor ?? undefined;
  } while (cursor && items.length < cap);
  return items;
}

/** Calls without a token: sign-up, sign-in, refresh. */
export const anonymous = createClient<paths>({ baseUrl: API_BASE });
export const auth = new Auth();
/** Every other call. */
export const api = createClient<paths>({ baseUrl: API_BASE, fetch: auth.fetch });

/** `fetch` of an API path with the session's token (downloads, uploads with progress). */
export function authorizedFetch(path: string, init?: RequestInit): Promise<Response> {
  return auth.fetch(new Request(API_BASE + path, init));
}

/** A problem+json body, or a readable stand-in for anything else. */
export function toProblem(error: unknown, response?: Response): Problem {
  if (typeof error === "object" && error !== null && "detail" in error && "status" in error) {
    return error as Problem;
  }
  const status = response?.status ?? 0;
  return {
    type: "about:blank",
    title: status ? response?.statusText || "Error" : "Network error",
    status,
    detail:
      status === 0
        ? "The server could not be reached. Check your connection and try again."
        : `The server answered ${status}${response?.statusText ? ` ${response.statusText}` : ""}.`,
    instance: "",
    code: status ? "unexpected" : "network",
  };
}

/** The data of a call, or a thrown `ApiFailure` carrying its problem. */
export async function call<D>(promise: Promise<{ data?: D; error?: unknown; response: Response }>): Promise<D> {
  let result: { data?: D; error?: unknown; response: Response };
  try {
    result = await promise;
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiFailure(toProblem(undefined));
  }
  if (result.error !== undefined || !result.response.ok) throw new ApiFailure(toProblem(result.error, result.response));
  return result.data as D;
}

/** The `ApiFailure` of a failed answer to a plain `fetch`, from its problem+json body if it has one. */
export async function failureOf(response: Response): Promise<ApiFailure> {
  const body: unknown = await response.json().catch(() => undefined);
  return new ApiFailure(toProblem(body, response));
}

export class ApiFailure extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
  /** The message for one field (`field` as the API names it), if the problem names it. */
  field(name: string): string | undefined {
    return this.problem.errors?.find((e) => e.field === name)?.message;
  }
}

/** Uploads one file with progress (fetch cannot report upload progress; XMLHttpRequest can). */
export function uploadWithProgress(
  chatId: string,
  file: File,
  onProgress: (fraction: number) => void,
): Promise<{ status: number; body: unknown }> {
  const send = (): Promise<{ status: number; body: unknown }> =>
    new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `${API_BASE}/api/v1/chats/${encodeURIComponent(chatId)}/documents`);
      if (auth.accessToken) xhr.setRequestHeader("Authorization", `Bearer ${auth.accessToken}`);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("Idempotency-Key", crypto.randomUUID());
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      };
      xhr.onload = () => {
        let body: unknown = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = null;
        }
        resolve({ status: xhr.status, body });
      };
      xhr.onerror = () => reject(new ApiFailure(toProblem(undefined)));
      const form = new FormData();
      form.append("file", file, file.name);
      xhr.send(form);
    });
  return send().then(async (result) => {
    if (result.status === 401 && (await auth.refresh())) return send();
    return result;
  });
}

/** Saves a response body as a file (an API download needs the token, so no plain link). */
export async function saveDownload(path: string, fallbackName: string): Promise<void> {
  const response = await authorizedFetch(path);
  if (!response.ok) throw await failureOf(response);
  const disposition = response.headers.get("content-disposition") ?? "";
  const named = /filename\*=UTF-8''([^;]+)/i.exec(disposition)?.[1];
  const plain = /filename="?([^";]+)"?/i.exec(disposition)?.[1];
  const name = named ? decodeURIComponent(named) : (plain ?? fallbackName);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
