// Sign in and sign up: the API's field errors shown next to their fields.
import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { anonymous, ApiFailure, auth, call, type Problem } from "../api";
import { Field, ProblemNote, problemOf, type Submit, useTitle } from "../ui";

export function AuthPage({ mode }: { mode: "signin" | "signup" }) {
  const { query, route } = useLocation();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [email, setEmail] = useState("");
  const [remember, setRemember] = useState(true);
  const [problem, setProblem] = useState<Problem | undefined>();
  const [failure, setFailure] = useState<ApiFailure | undefined>();
  const [busy, setBusy] = useState(false);
  const signup = mode === "signup";
  useTitle(signup ? "Create an account" : "Sign in");

  const submit = async (event: Submit) => {
    event.preventDefault();
    setBusy(true);
    setProblem(undefined);
    setFailure(undefined);
    try {
      const body = signup
        ? await call(anonymous.POST("/api/v1/auth/register", { body: { username, password, email: email || null } }))
        : await call(anonymous.POST("/api/v1/auth/login", { body: { username, password } }));
      auth.accept(body, remember);
      auth.signedIn(body.user);
      const next = query["next"];
      route(next && next.startsWith("/") && !next.startsWith("//") ? next : "/chats", true);
    } catch (error) {
      setProblem(problemOf(error));
      if (error instanceof ApiFailure) setFailure(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="auth">
      <h1>FlashForge</h1>
      <p class="muted">Upload your course material, ask it questions, and study what matters.</p>
      <form onSubmit={submit} aria-labelledby="auth-title" noValidate>
        <h2 id="auth-title">{signup ? "Create an account" : "Sign in"}</h2>
        <ProblemNote problem={problem} />
        <Field label="Username" id="username" error={failure?.field("username")}>
          <input
            id="username"
            name="username"
            autoComplete="username"
            required
            maxLength={50}
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </Field>
        {signup && (
          <Field label="Email (optional)" id="email" error={failure?.field("email")}>
            <input id="email" type="email" autoComplete="email" maxLength={254} value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          </Field>
        )}
        <Field
          label="Password"
          id="password"
          error={failure?.field("password")}
          {...(signup ? { hint: "12 to 128 characters, hard to guess: a phrase of a few words is best." } : {})}
        >
          <input
            id="password"
            type="password"
            autoComplete={signup ? "new-password" : "current-password"}
            required
            maxLength={128}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </Field>
        <label class="check">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.currentTarget.checked)} /> Keep me signed in on this
          device
        </label>
        <button type="submit" disabled={busy}>
          {signup ? "Create account" : "Sign in"}
        </button>
        <p>
          {signup ? (
            <>
              Already have an account? <a href="/signin">Sign in</a>
            </>
          ) : (
            <>
              New here? <a href="/signup">Create an account</a>
            </>
          )}
        </p>
      </form>
    </main>
  );
}
