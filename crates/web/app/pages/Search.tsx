// Search: in one chat or across all, by meaning, by words, or both; hits highlighted.
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, call, type Problem, type Schemas } from "../api";
import { place, ProblemNote, problemOf, Spinner, useTitle } from "../ui";

type Mode = Schemas["SearchMode"];
const MODES: [Mode, string][] = [
  ["hybrid", "Both"],
  ["semantic", "Meaning"],
  ["keyword", "Words"],
];

/** `text` with the query's words marked. */
export function highlight(text: string, query: string): (string | JSX.Element)[] {
  const words = [...new Set(query.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 1))];
  if (words.length === 0) return [text];
  const pattern = new RegExp(`(${words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})`, "giu");
  return text.split(pattern).map((part, i) => (i % 2 === 1 ? <mark key={i}>{part}</mark> : part));
}

export function SearchPanel({ chatId }: { chatId?: string }) {
  const { query: params } = useLocation();
  const [q, setQ] = useState(params["q"] ?? "");
  const [mode, setMode] = useState<Mode>("hybrid");
  const [hits, setHits] = useState<Schemas["SearchHitBody"][] | undefined>();
  const [searched, setSearched] = useState("");
  const [problem, setProblem] = useState<Problem | undefined>();
  const [busy, setBusy] = useState(false);

  const search = async (event: Event) => {
    event.preventDefault();
    const text = q.trim();
    if (!text) return;
    setBusy(true);
    setProblem(undefined);
    try {
      const query = { q: text, mode, limit: 20 };
      const found = chatId
        ? await call(api.GET("/api/v1/chats/{chat_id}/search", { params: { path: { chat_id: chatId }, query } }))
        : await call(api.GET("/api/v1/search", { params: { query } }));
      setHits(found.hits);
      setSearched(text);
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="search">
      <form class="row" role="search" onSubmit={search}>
        <label class="sr-only" for="search-q">
          {chatId ? "Search this chat" : "Search all chats"}
        </label>
        <input
          id="search-q"
          type="search"
          maxLength={1000}
          placeholder={chatId ? "Search this chat's material" : "Search all your material"}
          value={q}
          onInput={(e) => setQ(e.currentTarget.value)}
        />
        <fieldset class="segmented">
          <legend class="sr-only">Search by</legend>
          {MODES.map(([value, label]) => (
            <label key={value}>
              <input type="radio" name="mode" value={value} checked={mode === value} onChange={() => setMode(value)} /> {label}
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={busy || !q.trim()}>
          Search
        </button>
      </form>
      <ProblemNote problem={problem} />
      {busy && <Spinner label="Searching…" />}
      {hits && !busy && (
        <>
          <p class="muted" role="status">
            {hits.length === 0 ? `Nothing found for “${searched}”.` : `${hits.length} passages for “${searched}”.`}
          </p>
          <ol class="hits" aria-label="Search results">
            {hits.map((hit) => (
              <li key={hit.chunk_id} class="hit">
                <p class="where">
                  <strong>{hit.file_name}</strong>
                  {place(hit) && `, ${place(hit)}`}
                  {hit.heading && <span class="muted"> · {hit.heading}</span>}
                  {!chatId && (
                    <>
                      {" "}
                      · <a href={`/chats/${hit.chat_id}/ask`}>open chat</a>
                    </>
                  )}
                </p>
                <p>{highlight(hit.text, searched)}</p>
              </li>
            ))}
          </ol>
        </>
      )}
    </div>
  );
}

export function SearchPage() {
  useTitle("Search");
  return (
    <section>
      <h1>Search</h1>
      <SearchPanel />
    </section>
  );
}
