// Account: who you are, your sessions (sign one out, or all), your usage, your password.
import { useState } from "preact/hooks";
import { api, ApiFailure, auth, call, type Problem, type User } from "../api";
import { ago, Field, formatBytes, ProblemNote, problemOf, Spinner, type Submit, useLoad, useTitle } from "../ui";

/** "Chrome on Linux" from a user agent; the whole string is the title. */
function device(agent: string | null | undefined): string {
  if (!agent) return "Unknown device";
  const browsers: [RegExp, string][] = [
    [/Edg\//, "Edge"],
    [/Firefox\//, "Firefox"],
    [/Chrome\//, "Chrome"],
    [/Safari\//, "Safari"],
  ];
  const systems: [RegExp, string][] = [
    [/Android/, "Android"],
    [/iPhone|iPad/, "iOS"],
    [/Windows/, "Windows"],
    [/Mac OS X/, "macOS"],
    [/Linux/, "Linux"],
  ];
  const browser = browsers.find(([pattern]) => pattern.test(agent))?.[1];
  const system = systems.find(([pattern]) => pattern.test(agent))?.[1];
  if (!browser && !system) return agent.slice(0, 60);
  return [browser ?? "A browser", system].filter(Boolean).join(" on ");
}

const amount = (name: string, n: number) => (name.endsWith("bytes") ? formatBytes(n) : n.toLocaleString());

export function AccountPage() {
  useTitle("Account");
  const sessions = useLoad(() => call(api.GET("/api/v1/auth/sessions", { params: { query: { limit: 100 } } })), []);
  const usage = useLoad(() => call(api.GET("/api/v1/me/usage")), []);
  const [problem, setProblem] = useState<Problem | undefined>();
  const user = auth.user as User;

  const end = async (id: string, current: boolean) => {
    try {
      await call(api.DELETE("/api/v1/auth/sessions/{session_id}", { params: { path: { session_id: id } } }));
      if (current) auth.forget();
      else sessions.reload();
    } catch (error) {
      setProblem(problemOf(error));
    }
  };
  const everywhere = async () => {
    try {
      await call(api.POST("/api/v1/auth/logout-all"));
      auth.forget();
    } catch (error) {
      setProblem(problemOf(error));
    }
  };

  return (
    <section>
      <h1>Account</h1>
      <p>
        Signed in as <strong>{user.username}</strong>
        {user.email && ` (${user.email})`}, member since {new Date(user.created_at).toLocaleDateString()}.
      </p>
      <ProblemNote problem={problem} onClose={() => setProblem(undefined)} />
      <h2>Sessions</h2>
      <ProblemNote problem={sessions.problem} />
      {!sessions.data ? (
        <Spinner />
      ) : (
        <ul class="list" aria-label="Sessions">
          {sessions.data.items.map((s) => (
            <li key={s.id} class="item">
              <div class="grow">
                <span class="title" title={s.user_agent ?? undefined}>
                  {device(s.user_agent)}
                </span>
                {s.current && <span class="badge completed"> this device</span>}
                <small class="muted">
                  {" "}
                  {s.ip ?? ""} · used {ago(s.last_used_at)} · started {ago(s.created_at)}
                </small>
              </div>
              <button type="button" class="secondary" onClick={() => void end(s.id, s.current)}>
                Sign out
              </button>
            </li>
          ))}
        </ul>
      )}
      <button type="button" class="danger" onClick={() => void everywhere()}>
        Sign out everywhere
      </button>
      <h2>Usage</h2>
      {usage.data && (
        <table class="usage">
          <tbody>
            {usage.data.quotas.map((q) => (
              <tr key={q.name}>
                <th scope="row">{q.name.replace(/_/g, " ")}</th>
                <td class="num">
                  {amount(q.name, q.used)}
                  {q.limit !== null && q.limit !== undefined && ` of ${amount(q.name, q.limit)}`}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <PasswordForm />
    </section>
  );
}

function PasswordForm() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [failure, setFailure] = useState<ApiFailure | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();
  const [done, setDone] = useState(false);
  const submit = async (event: Submit) => {
    event.preventDefault();
    setProblem(undefined);
    setFailure(undefined);
    setDone(false);
    try {
      await call(api.POST("/api/v1/me/password", { body: { current_password: current, new_password: next } }));
      setDone(true);
      setCurrent("");
      setNext("");
    } catch (error) {
      setProblem(problemOf(error));
      if (error instanceof ApiFailure) setFailure(error);
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="password-title">
      <h2 id="password-title">Change password</h2>
      <ProblemNote problem={problem} />
      {done && <p role="status">Password changed. Your other sessions were signed out.</p>}
      <Field label="Current password" id="current-password" error={failure?.field("current_password")}>
        <input id="current-password" type="password" autoComplete="current-password" value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
      </Field>
      <Field label="New password" id="new-password" error={failure?.field("new_password")}>
        <input id="new-password" type="password" autoComplete="new-password" value={next} onInput={(e) => setNext(e.currentTarget.value)} />
      </Field>
      <button type="submit">Change password</button>
    </form>
  );
}
