// The study app: routes, the signed-in frame, and start-up (restoring a stored session).
import "./style.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { LocationProvider, Route, Router, useLocation } from "preact-iso";
import { auth } from "./api";
import { NotFound, Spinner } from "./ui";
import { AuthPage } from "./pages/Auth";
import { Shell } from "./pages/Shell";
import { ChatsHome, ChatPage } from "./pages/Chat";
import { StudyPage } from "./pages/Study";
import { StatsPage } from "./pages/Stats";
import { SearchPage } from "./pages/Search";
import { AccountPage } from "./pages/Account";

function useAuth(): typeof auth {
  const [, setTick] = useState(0);
  useEffect(() => {
    const unsubscribe = auth.subscribe(() => setTick((t) => t + 1));
    // A change between the first render and this subscription is not lost.
    setTick((t) => t + 1);
    return unsubscribe;
  }, []);
  return auth;
}

function Signed() {
  const { path, route } = useLocation();
  const state = useAuth();
  const open = path === "/signin" || path === "/signup";
  useEffect(() => {
    if (!state.ready) return;
    if (!state.user && !open) route(`/signin${path !== "/" ? `?next=${encodeURIComponent(path)}` : ""}`, true);
    if (state.user && open) route("/chats", true);
  }, [state.ready, state.user, open, path]);
  if (!state.ready) return <Spinner label="Starting…" />;
  if (!state.user) {
    return (
      <Router>
        <Route path="/signup" component={() => <AuthPage mode="signup" />} />
        <Route default component={() => <AuthPage mode="signin" />} />
      </Router>
    );
  }
  return (
    <Shell user={state.user}>
      <Router>
        <Route path="/" component={ChatsHome} />
        <Route path="/chats" component={ChatsHome} />
        <Route path="/chats/:id/:tab?" component={ChatPage} />
        <Route path="/study" component={StudyPage} />
        <Route path="/stats" component={StatsPage} />
        <Route path="/search" component={SearchPage} />
        <Route path="/account" component={AccountPage} />
        <Route default component={NotFound} />
      </Router>
    </Shell>
  );
}

function App() {
  return (
    <LocationProvider>
      <Signed />
    </LocationProvider>
  );
}

void auth.restore();
const root = document.getElementById("app");
if (root) render(<App />, root);
