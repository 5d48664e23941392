// Small shared pieces: loading state, problem messages, dialogs, formatting.
import type { ComponentChildren, TargetedSubmitEvent } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiFailure, type Problem, toProblem } from "./api";

export interface Loaded<T> {
  data: T | undefined;
  problem: Problem | undefined;
  loading: boolean;
  reload: () => void;
  set: (data: T) => void;
}

/** Runs `load` when `deps` change (and on `reload()`); a newer run wins over an older one. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [problem, setProblem] = useState<Problem | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const run = useRef(0);
  useEffect(() => {
    const mine = ++run.current;
    setLoading(true);
    load().then(
      (value) => {
        if (mine !== run.current) return;
        setData(value);
        setProblem(undefined);
        setLoading(false);
      },
      (error: unknown) => {
        if (mine !== run.current) return;
        setProblem(problemOf(error));
        setLoading(false);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, problem, loading, reload, set: setData };
}

export function problemOf(error: unknown): Problem {
  if (error instanceof ApiFailure) return error.problem;
  return toProblem(undefined);
}

/** A problem from the API, readable: its detail, and the fields it names. */
export function ProblemNote({ problem, onClose }: { problem: Problem | undefined; onClose?: () => void }) {
  if (!problem) return null;
  return (
    <div class="problem" role="alert">
      <strong>{problem.title}</strong> {problem.detail}
      {problem.errors && problem.errors.length > 0 && (
        <ul>
          {problem.errors.map((e) => (
            <li key={e.field}>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
      {onClose && (
        <button type="button" class="link" onClick={onClose} aria-label="Dismiss">
          ×
        </button>
      )}
    </div>
  );
}

/** A labelled form field with its own error line (`aria-describedby`). */
export function Field(props: { label: string; id: string; error?: string | undefined; children: ComponentChildren; hint?: string }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && <small id={`${props.id}-hint`}>{props.hint}</small>}
      {props.error && (
        <small class="field-error" id={`${props.id}-error`} role="alert">
          {props.error}
        </small>
      )}
    </div>
  );
}

/** A modal dialog (the native `<dialog>`: focus stays inside, Escape closes). */
export function Dialog(props: { title: string; open: boolean; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} class={props.wide ? "wide" : ""} aria-label={props.title} onClose={props.onClose}>
      <header>
        <h2>{props.title}</h2>
        <button type="button" class="link" onClick={props.onClose} aria-label="Close">
          ×
        </button>
      </header>
      {props.open && props.children}
    </dialog>
  );
}

export function Spinner({ label = "Loading…" }: { label?: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      {label}
    </p>
  );
}

/** The page for an address the app does not know. */
export function NotFound() {
  useTitle("Not found");
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is nothing at this address. <a href="/chats">Go to your chats</a>.
      </p>
    </section>
  );
}

/** "42 s", "10 min", "3 h", "4 d", "2.5 mo", "1.2 y" */
export function formatInterval(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86_400) return `${Math.round(s / 3600)} h`;
  const days = s / 86_400;
  if (days < 30) return `${Math.round(days)} d`;
  if (days < 365) return `${(days / 30).toFixed(1)} mo`;
  return `${(days / 365).toFixed(1)} y`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

export function ago(iso: string): string {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 60) return relative.format(Math.round(seconds), "second");
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86_400) return relative.format(Math.round(seconds / 3600), "hour");
  return relative.format(Math.round(seconds / 86_400), "day");
}

/** Where a passage is: "page 3", "slide 2" (the page label when the document has one). */
export function place(p: { page?: number | null; page_label?: string | null }): string {
  if (p.page_label) return p.page_label;
  return p.page ? `page ${p.page}` : "";
}

/** The tab's title while a page shows: "Study · FlashForge". */
export function useTitle(title: string | undefined): void {
  useEffect(() => {
    document.title = title ? `${title} · FlashForge` : "FlashForge";
  }, [title]);
}

export type Submit = TargetedSubmitEvent<HTMLFormElement>;
