// Making cards from material: generate from a document, a topic, pasted text or one passage,
// preview the drafts, keep or drop each, then save the kept ones. And the deck as a file:
// CSV or Anki package out, CSV or Anki package in.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiFailure, authorizedFetch, call, saveDownload, type Problem, type Schemas, toProblem } from "../api";
import { renderMarkdown } from "../markdown";
import { Dialog, Field, ProblemNote, problemOf, Spinner } from "../ui";

type Draft = Schemas["DraftBody"];
type Preset = { document_id?: string; chunk_ids?: string[]; text?: string } | undefined;
type From = "document" | "topic" | "text" | "passage";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function generate(chatId: string, body: Schemas["GenerateRequest"], onProgress: (text: string) => void): Promise<{ drafts: Draft[]; generator: string }> {
  const { data, error, response } = await api.POST("/api/v1/chats/{chat_id}/flashcards/generate", { params: { path: { chat_id: chatId } }, body });
  if (data === undefined) throw new ApiFailure(toProblem(error, response));
  if (response.status !== 202) {
    const done = data as Schemas["GeneratedBody"];
    return { drafts: done.drafts, generator: done.generator };
  }
  let job = data as Schemas["GenerationBody"];
  for (let wait = 300; job.status !== "completed"; wait = Math.min(wait * 1.5, 2000)) {
    if (job.status === "failed") throw new ApiFailure(toProblem({ ...problemShape, detail: job.error ?? "The generation failed." }));
    onProgress(`batch ${job.progress.batches_done} of ${job.progress.batches_total}`);
    await sleep(wait);
    job = await call(api.GET("/api/v1/flashcards/generations/{generation_id}", { params: { path: { generation_id: job.id } } }));
  }
  return { drafts: job.cards.map((c) => ({ kind: c.kind, question: c.question, answer: c.answer, source: c.source ?? null })), generator: job.generator ?? "" };
}

/** A cloze note's gaps shown as their (bold) answers: `{{c1::ATP::hint}}` → `**ATP**`. */
function showCloze(text: string): string {
  return text.replace(/\{\{c\d+::(.*?)(?:::[^}]*)?\}\}/g, "**$1**");
}

const problemShape = { type: "about:blank", title: "Generation failed", status: 422, instance: "", code: "generation_failed" };

export function GenerateDialog({ chatId, preset, onClose, onSaved }: { chatId: string; preset: Preset; onClose: () => void; onSaved: () => void }) {
  const [from, setFrom] = useState<From>("document");
  const [documentId, setDocumentId] = useState("");
  const [topic, setTopic] = useState("");
  const [text, setText] = useState("");
  const [count, setCount] = useState(10);
  const [docs, setDocs] = useState<Schemas["DocumentBody"][]>([]);
  const [drafts, setDrafts] = useState<{ draft: Draft; keep: boolean }[] | undefined>();
  const [progress, setProgress] = useState<string | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();
  const [saved, setSaved] = useState<number | undefined>();

  useEffect(() => {
    if (!preset) return;
    setDrafts(undefined);
    setProblem(undefined);
    setSaved(undefined);
    setFrom(preset.chunk_ids ? "passage" : preset.text ? "text" : "document");
    if (preset.document_id) setDocumentId(preset.document_id);
    if (preset.text) setText(preset.text);
    void call(api.GET("/api/v1/chats/{chat_id}/documents", { params: { path: { chat_id: chatId }, query: { limit: 200 } } })).then((page) => {
      const ready = page.items.filter((d) => d.status === "completed");
      setDocs(ready);
      if (!preset.document_id && ready[0]) setDocumentId((id) => id || (ready[0]?.id ?? ""));
    }, () => undefined);
  }, [preset, chatId]);

  const run = async (event: Event) => {
    event.preventDefault();
    setProblem(undefined);
    setDrafts(undefined);
    setSaved(undefined);
    setProgress("starting");
    const body: Schemas["GenerateRequest"] = { count, save: false };
    if (from === "document") body.document_id = documentId;
    if (from === "topic") body.topic = topic;
    if (from === "text") body.text = text;
    if (from === "passage") body.chunk_ids = preset?.chunk_ids ?? [];
    try {
      const result = await generate(chatId, body, setProgress);
      setDrafts(result.drafts.map((draft) => ({ draft, keep: true })));
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setProgress(undefined);
    }
  };

  const save = async () => {
    const kept = (drafts ?? []).filter((d) => d.keep).map(({ draft }) => ({
      kind: draft.kind,
      question: draft.question,
      answer: draft.answer,
      source: draft.source ?? null,
      tags: ["generated"],
    }));
    if (kept.length === 0) return;
    try {
      const created = await call(api.POST("/api/v1/chats/{chat_id}/flashcards/bulk", { params: { path: { chat_id: chatId } }, body: { cards: kept } }));
      setSaved(created.items.length);
      setDrafts(undefined);
      onSaved();
    } catch (error) {
      setProblem(problemOf(error));
    }
  };

  const keptCount = drafts?.filter((d) => d.keep).length ?? 0;
  return (
    <Dialog title="Generate cards" open={preset !== undefined} onClose={onClose} wide>
      <form onSubmit={run}>
        <fieldset class="segmented">
          <legend>Make cards from</legend>
          {(["document", "topic", "text", ...(preset?.chunk_ids ? ["passage"] : [])] as From[]).map((value) => (
            <label key={value}>
              <input type="radio" name="from" value={value} checked={from === value} onChange={() => setFrom(value)} /> {value === "text" ? "pasted text" : `a ${value}`}
            </label>
          ))}
        </fieldset>
        {from === "document" && (
          <Field label="Document" id="gen-document">
            <select id="gen-document" value={documentId} onChange={(e) => setDocumentId(e.currentTarget.value)}>
              {docs.length === 0 && <option value="">No completed documents yet</option>}
              {docs.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.file_name}
                  {d.title ? ` — ${d.title}` : ""}
                </option>
              ))}
            </select>
          </Field>
        )}
        {from === "topic" && (
          <Field label="Topic" id="gen-topic" hint="Cards from the chat's passages most relevant to it">
            <input id="gen-topic" maxLength={500} value={topic} onInput={(e) => setTopic(e.currentTarget.value)} />
          </Field>
        )}
        {from === "text" && (
          <Field label="Text" id="gen-text">
            <textarea id="gen-text" rows={6} maxLength={20000} value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </Field>
        )}
        <Field label="How many cards" id="gen-count">
          <input id="gen-count" type="number" min={1} max={200} value={count} onInput={(e) => setCount(Number(e.currentTarget.value) || 1)} />
        </Field>
        <div class="row end">
          <button type="submit" disabled={progress !== undefined}>
            Preview cards
          </button>
        </div>
      </form>
      <ProblemNote problem={problem} />
      {progress && <Spinner label={`Generating… ${progress}`} />}
      {saved !== undefined && <p role="status">Saved {saved} cards.</p>}
      {drafts && (
        <>
          <h3>Preview: keep or drop each card</h3>
          {drafts.length === 0 && <p class="empty">No new cards: the material gave none that the chat does not already have.</p>}
          <ul class="list drafts" aria-label="Generated cards">
            {drafts.map((d, i) => (
              <li key={i} class={`item${d.keep ? "" : " dropped"}`}>
                <div class="grow">
                  <div class="md" dangerouslySetInnerHTML={{ __html: renderMarkdown(showCloze(d.draft.question)) }} />
                  <div class="md muted" dangerouslySetInnerHTML={{ __html: renderMarkdown(d.draft.answer) }} />
                  {d.draft.source?.quote && <small class="muted">from “{d.draft.source.quote.slice(0, 120)}…”</small>}
                </div>
                <label class="check">
                  <input type="checkbox" checked={d.keep} onChange={(e) => setDrafts(drafts.map((x, j) => (j === i ? { ...x, keep: e.currentTarget.checked } : x)))} /> Keep
                </label>
              </li>
            ))}
          </ul>
          <div class="row end">
            <button type="button" disabled={keptCount === 0} onClick={() => void save()}>
              Save {keptCount} cards
            </button>
          </div>
        </>
      )}
    </Dialog>
  );
}

/** Export as CSV or an Anki package; import either. */
export function DeckFiles({ chatId, onImported }: { chatId: string; onImported: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [problem, setProblem] = useState<Problem | undefined>();
  const [report, setReport] = useState<string | undefined>();
  const exportAs = (format: "csv" | "apkg") =>
    saveDownload(`/api/v1/chats/${chatId}/flashcards/export?format=${format}`, `flashcards.${format}`).catch((e: unknown) => setProblem(problemOf(e)));

  const importFile = async (file: File) => {
    setProblem(undefined);
    setReport("Importing…");
    const csv = /\.csv$/i.test(file.name) || file.type === "text/csv";
    try {
      const response = await authorizedFetch(`/api/v1/chats/${chatId}/flashcards/import`, {
        method: "POST",
        headers: { "Content-Type": csv ? "text/csv" : "application/vnd.anki" },
        body: file,
      });
      const body: unknown = await response.json().catch(() => undefined);
      if (!response.ok) throw new ApiFailure(toProblem(body, response));
      let result: Schemas["ImportBody"];
      if (response.status === 202) {
        let job = body as Schemas["DeckImportBody"];
        while (job.status !== "completed" && job.status !== "failed") {
          await sleep(500);
          job = await call(api.GET("/api/v1/flashcards/imports/{import_id}", { params: { path: { import_id: job.id } } }));
        }
        if (job.status === "failed") throw new ApiFailure(toProblem({ ...problemShape, title: "Import failed", detail: job.error ?? "The import failed." }));
        result = job.report;
      } else {
        result = body as Schemas["ImportBody"];
      }
      const skipped = result.errors.length ? `; ${result.errors.length} left out (${result.errors.slice(0, 3).map((e) => `row ${e.row}: ${e.message}`).join("; ")})` : "";
      setReport(`Imported ${result.imported} ${result.imported === 1 ? "card" : "cards"}${skipped}.`);
      onImported();
    } catch (error) {
      setReport(undefined);
      setProblem(problemOf(error));
    }
  };

  return (
    <>
      <button type="button" class="secondary" onClick={() => void exportAs("csv")}>
        Export CSV
      </button>
      <button type="button" class="secondary" onClick={() => void exportAs("apkg")}>
        Export Anki
      </button>
      <button type="button" class="secondary" onClick={() => input.current?.click()}>
        Import CSV or Anki…
      </button>
      <input
        ref={input}
        type="file"
        class="sr-only"
        accept=".csv,.apkg,.colpkg,text/csv"
        aria-label="Import a deck"
        onChange={(e) => {
          const file = e.currentTarget.files?.[0];
          if (file) void importFile(file);
          e.currentTarget.value = "";
        }}
      />
      {report && <p role="status">{report}</p>}
      <ProblemNote problem={problem} onClose={() => setProblem(undefined)} />
    </>
  );
}
