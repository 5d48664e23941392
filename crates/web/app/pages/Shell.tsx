// The signed-in frame: the navigation and the current page.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, auth, type User } from "../api";

const LINKS: [string, string][] = [
  ["/chats", "Chats"],
  ["/study", "Study"],
  ["/search", "Search"],
  ["/stats", "Stats"],
  ["/account", "Account"],
];

export function Shell({ user, children }: { user: User; children: ComponentChildren }) {
  const { path } = useLocation();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // After a navigation, focus moves to the page (screen readers announce it; Tab starts there).
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus({ preventScroll: true });
  }, [path]);
  const signOut = async () => {
    try {
      await api.POST("/api/v1/auth/logout");
    } finally {
      auth.forget();
    }
  };
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/chats">
          FlashForge
        </a>
        <nav aria-label="Main">
          {LINKS.map(([href, label]) => (
            <a key={href} href={href} aria-current={path === href || path.startsWith(`${href}/`) ? "page" : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who" title={user.email ?? undefined}>
          {user.username}
        </span>
        <button type="button" class="secondary" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1} ref={main}>
        {children}
      </main>
    </>
  );
}
