// A chat's cards: the list with filters, create/edit/delete, each card's source passage,
// generation with a preview, and CSV / Anki export and import.
import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, call, saveDownload, type Problem, type Schemas } from "../api";
import { renderMarkdown } from "../markdown";
import { Dialog, Field, formatInterval, place, ProblemNote, problemOf, Spinner } from "../ui";
import { DeckFiles, GenerateDialog } from "./Generate";

type Card = Schemas["CardBody"];
type State = Schemas["CardState"];

interface Filters {
  text: string;
  tag: string;
  state: State | "";
  due: boolean;
}

export function CardsTab({ chatId }: { chatId: string }) {
  const { query } = useLocation();
  const [filters, setFilters] = useState<Filters>({ text: "", tag: "", state: "", due: false });
  const [applied, setApplied] = useState<Filters>(filters);
  const [cards, setCards] = useState<Card[] | undefined>();
  const [cursor, setCursor] = useState<string | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();
  const [editing, setEditing] = useState<Card | "new" | undefined>();
  const [generating, setGenerating] = useState<{ document_id?: string; chunk_ids?: string[]; text?: string } | undefined>(
    query["generate"]
      ? { document_id: query["generate"] }
      : query["chunk"]
        ? { chunk_ids: [query["chunk"]] }
        : query["text"]
          ? { text: query["text"].slice(0, 20_000) }
          : undefined,
  );
  const [tick, setTick] = useState(0);
  const reload = () => setTick((t) => t + 1);

  const load = async (after?: string) => {
    setProblem(undefined);
    try {
      const page = await call(
        api.GET("/api/v1/chats/{chat_id}/flashcards", {
          params: {
            path: { chat_id: chatId },
            query: {
              limit: 50,
              ...(after ? { cursor: after } : {}),
              ...(applied.text.trim() ? { text: applied.text.trim() } : {}),
              ...(applied.tag.trim() ? { tag: applied.tag.trim() } : {}),
              ...(applied.state ? { state: applied.state } : {}),
              ...(applied.due ? { due: true } : {}),
            },
          },
        }),
      );
      setCards((previous) => (after ? [...(previous ?? []), ...page.items] : page.items));
      setCursor(page.next_cursor ?? undefined);
    } catch (error) {
      setProblem(problemOf(error));
    }
  };
  useEffect(() => {
    void load();
  }, [chatId, applied, tick]);

  return (
    <div>
      <div class="row wrap">
        <button type="button" onClick={() => setEditing("new")}>
          New card
        </button>
        <button type="button" class="secondary" onClick={() => setGenerating({})}>
          Generate cards…
        </button>
        <DeckFiles chatId={chatId} onImported={reload} />
      </div>
      <form
        class="row wrap filters"
        aria-label="Filter cards"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filters);
        }}
      >
        <input type="search" aria-label="Text" placeholder="Text" maxLength={200} value={filters.text} onInput={(e) => setFilters({ ...filters, text: e.currentTarget.value })} />
        <input aria-label="Tag" placeholder="Tag" maxLength={100} value={filters.tag} onInput={(e) => setFilters({ ...filters, tag: e.currentTarget.value })} />
        <select aria-label="State" value={filters.state} onChange={(e) => setFilters({ ...filters, state: e.currentTarget.value as State | "" })}>
          <option value="">Any state</option>
          <option value="new">New</option>
          <option value="learning">Learning</option>
          <option value="review">Review</option>
          <option value="relearning">Relearning</option>
        </select>
        <label class="check">
          <input type="checkbox" checked={filters.due} onChange={(e) => setFilters({ ...filters, due: e.currentTarget.checked })} /> Due now
        </label>
        <button type="submit" class="secondary">
          Filter
        </button>
      </form>
      <ProblemNote problem={problem} />
      {!cards ? (
        <Spinner />
      ) : cards.length === 0 ? (
        <p class="empty">No cards here yet. Create one, or generate them from your material.</p>
      ) : (
        <ul class="list cards" aria-label="Cards">
          {cards.map((card) => (
            <CardRow key={card.id} card={card} chatId={chatId} onEdit={() => setEditing(card)} onChange={reload} />
          ))}
        </ul>
      )}
      {cursor && (
        <button type="button" class="secondary" onClick={() => void load(cursor)}>
          Load more
        </button>
      )}
      <CardEditor chatId={chatId} card={editing} onClose={() => setEditing(undefined)} onSaved={reload} />
      <GenerateDialog chatId={chatId} preset={generating} onClose={() => setGenerating(undefined)} onSaved={reload} />
    </div>
  );
}

function CardRow({ card, chatId, onEdit, onChange }: { card: Card; chatId: string; onEdit: () => void; onChange: () => void }) {
  const [problem, setProblem] = useState<Problem | undefined>();
  const [source, setSource] = useState(false);
  const remove = async () => {
    if (!confirm("Delete this card and its review history?")) return;
    try {
      await call(api.DELETE("/api/v1/flashcards/{card_id}", { params: { path: { card_id: card.id } } }));
      onChange();
    } catch (error) {
      setProblem(problemOf(error));
    }
  };
  return (
    <li class="item card-row">
      <div class="grow">
        <div class="md" dangerouslySetInnerHTML={{ __html: renderMarkdown(card.front) }} />
        <div class="md muted" dangerouslySetInnerHTML={{ __html: renderMarkdown(card.back) }} />
        <small class="muted">
          {card.kind} · {card.state}
          {card.suspended && " · suspended"}
          {card.state !== "new" && ` · due ${new Date(card.due).toLocaleDateString()}`}
          {card.tags.length > 0 && ` · ${card.tags.join(" ")}`}
        </small>
        <ProblemNote problem={problem} onClose={() => setProblem(undefined)} />
      </div>
      {card.source && (
        <button type="button" class="secondary" onClick={() => setSource(true)}>
          Source
        </button>
      )}
      <button type="button" class="secondary" onClick={onEdit}>
        Edit
      </button>
      <button type="button" class="danger" onClick={() => void remove()}>
        Delete
      </button>
      {card.source && (
        <Dialog title="Where this card comes from" open={source} onClose={() => setSource(false)}>
          <SourceView chatId={chatId} source={card.source} status={card.source_status ?? undefined} />
        </Dialog>
      )}
    </li>
  );
}

export function SourceView({ chatId, source, status }: { chatId: string; source: Schemas["SourceBody"]; status?: Schemas["SourceStatus"] | undefined }) {
  const [doc, setDoc] = useState<Schemas["DocumentBody"] | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();
  useEffect(() => {
    void call(api.GET("/api/v1/chats/{chat_id}/documents/{document_id}", { params: { path: { chat_id: chatId, document_id: source.document_id } } })).then(
      setDoc,
      () => undefined,
    );
  }, [chatId, source.document_id]);
  return (
    <div>
      <p>
        <strong>{doc ? doc.title || doc.file_name : "A document of this chat"}</strong>
        {doc?.title && ` (${doc.file_name})`}
        {place(source) && `, ${place(source)}`}
      </p>
      {source.quote && <blockquote class="quote">{source.quote}</blockquote>}
      {status === "missing" && <p class="muted">The document was deleted or replaced since.</p>}
      {status === "changed" && <p class="muted">The document was read again since; the passage may have moved.</p>}
      <ProblemNote problem={problem} />
      {doc && (
        <div class="row end">
          <a href={`/chats/${chatId}/material`}>The chat's material</a>
          <button
            type="button"
            class="secondary"
            onClick={() => void saveDownload(`/api/v1/chats/${chatId}/documents/${doc.id}/file`, doc.file_name).catch((e: unknown) => setProblem(problemOf(e)))}
          >
            Download the document
          </button>
        </div>
      )}
    </div>
  );
}

function CardEditor({ chatId, card, onClose, onSaved }: { chatId: string; card: Card | "new" | undefined; onClose: () => void; onSaved: () => void }) {
  const existing = card && card !== "new" ? card : undefined;
  const [question, setQuestion] = useState("");
  const [answer, setAnswer] = useState("");
  const [tags, setTags] = useState("");
  const [kind, setKind] = useState<Schemas["CardKind"]>("basic");
  const [problem, setProblem] = useState<Problem | undefined>();
  const [fields, setFields] = useState<Record<string, string>>({});
  useEffect(() => {
    setQuestion(existing?.question ?? "");
    setAnswer(existing?.answer ?? "");
    setTags(existing?.tags.join(" ") ?? "");
    setKind(existing?.kind ?? "basic");
    setProblem(undefined);
    setFields({});
  }, [card]);

  const save = async (event: Event) => {
    event.preventDefault();
    const tagList = tags.split(/\s+/).filter(Boolean);
    try {
      if (existing) {
        await call(api.PATCH("/api/v1/flashcards/{card_id}", { params: { path: { card_id: existing.id } }, body: { question, answer, tags: tagList } }));
      } else {
        await call(api.POST("/api/v1/chats/{chat_id}/flashcards", { params: { path: { chat_id: chatId } }, body: { question, answer, tags: tagList, kind } }));
      }
      onSaved();
      onClose();
    } catch (error) {
      const p = problemOf(error);
      setProblem(p);
      setFields(Object.fromEntries((p.errors ?? []).map((e) => [e.field, e.message])));
    }
  };

  return (
    <Dialog title={existing ? "Edit card" : "New card"} open={card !== undefined} onClose={onClose} wide>
      <form onSubmit={save}>
        <ProblemNote problem={problem} />
        {!existing && (
          <Field label="Kind" id="card-kind">
            <select id="card-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as Schemas["CardKind"])}>
              <option value="basic">Basic</option>
              <option value="reversed">Basic and reversed (two cards)</option>
              <option value="cloze">Cloze ({"{{c1::…}}"} gaps)</option>
            </select>
          </Field>
        )}
        <Field label={kind === "cloze" ? "Text with gaps" : "Question"} id="card-question" error={fields["question"]} hint="Markdown">
          <textarea id="card-question" rows={3} maxLength={2000} required value={question} onInput={(e) => setQuestion(e.currentTarget.value)} />
        </Field>
        <Field label={kind === "cloze" ? "Extra (optional)" : "Answer"} id="card-answer" error={fields["answer"]}>
          <textarea id="card-answer" rows={3} maxLength={5000} value={answer} onInput={(e) => setAnswer(e.currentTarget.value)} />
        </Field>
        <Field label="Tags (separated by spaces)" id="card-tags" error={fields["tags"]}>
          <input id="card-tags" maxLength={1000} value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
        </Field>
        {existing && existing.state !== "new" && (
          <p class="muted">
            Next intervals: again {formatInterval(existing.next_intervals.again)}, good {formatInterval(existing.next_intervals.good)}.
          </p>
        )}
        <div class="row end">
          <button type="button" class="secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit">Save card</button>
        </div>
      </form>
    </Dialog>
  );
}
