// The recommended client: openapi-fetch over the types openapi-typescript generates from
// docs/openapi.json, with Bearer auth and one transparent refresh when a call answers 401.
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type Schemas = components["schemas"];
export type TokenPair = Schemas["TokenBody"];
export type Problem = Schemas["Problem"];
export type ApiClient = Client<paths>;

/**
 * The tokens of one signed-in session. The access token goes on every call; a 401 exchanges the
 * refresh token once (concurrent 401s share that one exchange: refresh tokens are single-use) and
 * the call is sent again. When the exchange fails too, the 401 stands: the session is over.
 */
export class Session {
  private tokens: TokenPair | undefined;
  private refreshing: Promise<boolean> | undefined;
  /** How many refreshes happened (the transparent ones and `refresh()` calls). */
  refreshes = 0;

  constructor(private readonly anonymous: ApiClient) {}

  get accessToken(): string | undefined {
    return this.tokens?.access_token;
  }

  get refreshToken(): string | undefined {
    return this.tokens?.refresh_token;
  }

  /** Keeps a pair answered by register, login or refresh. */
  set(tokens: TokenPair): void {
    this.tokens = tokens;
  }

  clear(): void {
    this.tokens = undefined;
  }

  /** For tests: an access token the server rejects, as after its expiry. */
  spoilAccessToken(): void {
    if (this.tokens) this.tokens = { ...this.tokens, access_token: this.tokens.access_token + "x" };
  }

  /** Exchanges the refresh token for a new pair; false when the server refuses it. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.exchange().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async exchange(): Promise<boolean> {
    const refresh_token = this.tokens?.refresh_token;
    if (refresh_token === undefined) return false;
    const { data } = await this.anonymous.POST("/api/v1/auth/refresh", { body: { refresh_token } });
    if (data === undefined) return false;
    this.tokens = data;
    this.refreshes += 1;
    return true;
  }

  /**
   * `fetch` with `Authorization: Bearer …`, refreshing once on a 401. The typed client sends
   * every call through it; streams and downloads may use it directly.
   */
  readonly fetch = bearerFetch(
    () => this.accessToken,
    () => this.refresh(),
  );
}

/**
 * `fetch` with `Authorization: Bearer <token()>`: a 401 calls `refresh` once (unless another call
 * changed the token meanwhile) and sends the call again with the new token; when the refresh
 * fails, the 401 stands. Without a token the request goes as it is.
 */
export function bearerFetch(token: () => string | undefined, refresh: () => Promise<boolean>): (input: Request) => Promise<Response> {
  const authorize = (request: Request): Request => {
    const current = token();
    if (current === undefined) return request;
    const headers = new Headers(request.headers);
    headers.set("Authorization", `Bearer ${current}`);
    return new Request(request, { headers });
  };
  return async (input) => {
    const retry = input.clone();
    const sent = token();
    const first = await fetch(authorize(input));
    if (first.status !== 401 || sent === undefined) return first;
    // Another call may have refreshed already while this one was under way.
    const fresh = token() !== sent || (await refresh());
    if (!fresh) return first;
    await first.body?.cancel();
    return fetch(authorize(retry));
  };
}

export interface Api {
  /** Every call, authenticated by `session`. */
  client: ApiClient;
  /** Calls without a token (register, login, refresh). */
  anonymous: ApiClient;
  session: Session;
}

export function createApi(baseUrl: string): Api {
  const anonymous = createClient<paths>({ baseUrl });
  const session = new Session(anonymous);
  const client = createClient<paths>({ baseUrl, fetch: session.fetch });
  return { client, anonymous, session };
}

/** A readable line for a failed call: status, and the problem's code and detail when there is one. */
export function describeFailure(response: Response, error: unknown): string {
  if (isProblem(error)) {
    const fields = error.errors?.map((e) => `${e.field}: ${e.message}`).join("; ");
    return `${response.status} ${error.code}: ${error.detail}${fields ? ` (${fields})` : ""}`;
  }
  return `${response.status} ${response.statusText} ${JSON.stringify(error) ?? ""}`;
}

export function isProblem(value: unknown): value is Problem {
  return typeof value === "object" && value !== null && "code" in value && "status" in value && "detail" in value;
}
