// Ask: the chat's conversation. Answers stream in as server-sent events read from `fetch` (an
// EventSource cannot send the token) and are rendered as Markdown as they arrive; citations are
// chips that open the quoted passage.
import { useEffect, useRef, useState } from "preact/hooks";
import { readAnswerEvents } from "../../../../tests/client-ts/src/sse";
import { allPages, api, ApiFailure, authorizedFetch, call, failureOf, saveDownload, type Problem, type Schemas, toProblem } from "../api";
import { renderMarkdown } from "../markdown";
import { Dialog, place, ProblemNote, problemOf, Spinner, useLoad } from "../ui";

type Message = Schemas["MessageBody"];
type Citation = Schemas["CitationBody"];

const allMessages = (chatId: string): Promise<Message[]> =>
  allPages((cursor) => api.GET("/api/v1/chats/{chat_id}/messages", { params: { path: { chat_id: chatId }, query: { limit: 200, ...cursor } } }), 2000);

/** Sends a streaming request and feeds its events to the callbacks; resolves at `done`/`error`. */
async function streamAnswer(
  path: string,
  method: "POST" | "PATCH",
  body: unknown,
  on: { question?: (m: Message) => void; delta: (text: string) => void },
  signal: AbortSignal,
): Promise<Message> {
  const response = await authorizedFetch(path, {
    method,
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok || !response.body) throw await failureOf(response);
  for await (const event of readAnswerEvents(response.body)) {
    if (event.event === "question") on.question?.(event.data.question);
    else if (event.event === "delta") on.delta(event.data.text);
    else if (event.event === "done") return event.data.answer;
    else throw new ApiFailure(event.data);
  }
  throw new ApiFailure(toProblem(undefined));
}

export function AskTab({ chatId }: { chatId: string }) {
  const history = useLoad(() => allMessages(chatId), [chatId]);
  const models = useLoad(() => call(api.GET("/api/v1/models")), []);
  const [model, setModel] = useState<string>("");
  const [draft, setDraft] = useState("");
  const [pending, setPending] = useState<{ question: string; answer: string } | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();
  const [cited, setCited] = useState<Citation | undefined>();
  const abort = useRef<AbortController | undefined>(undefined);
  const end = useRef<HTMLDivElement>(null);
  const [selected, setSelected] = useState("");
  const noteSelection = () => setSelected((getSelection()?.toString() ?? "").trim());

  useEffect(() => () => abort.current?.abort(), []);
  useEffect(() => end.current?.scrollIntoView({ block: "end" }), [pending?.answer, history.data?.length]);

  const run = async (question: string, path: string, method: "POST" | "PATCH", body: Record<string, unknown>) => {
    setProblem(undefined);
    abort.current = new AbortController();
    setPending({ question, answer: "" });
    let text = "";
    try {
      await streamAnswer(path, method, model ? { ...body, model } : body, { delta: (t) => setPending({ question, answer: (text += t) }) }, abort.current.signal);
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setPending(undefined);
      history.reload();
    }
  };

  const ask = (event: Event) => {
    event.preventDefault();
    const content = draft.trim();
    if (!content || pending) return;
    setDraft("");
    void run(content, `/api/v1/chats/${chatId}/messages`, "POST", { content });
  };

  const messages = history.data ?? [];
  const many = (models.data?.models.length ?? 0) > 1;
  return (
    <div class="ask">
      <ProblemNote problem={history.problem} />
      {history.loading && !history.data && <Spinner />}
      {history.data && messages.length === 0 && !pending && (
        <p class="empty">Ask anything about this chat's material. Answers quote it and cite the page they come from.</p>
      )}
      <ol class="messages" aria-label="Conversation" aria-live="polite" onMouseUp={noteSelection} onKeyUp={noteSelection}>
        {messages.map((m) => (
          <MessageView
            key={m.id}
            message={m}
            busy={pending !== undefined}
            onCite={setCited}
            onEdit={(content) => void run(content, `/api/v1/chats/${chatId}/messages/${m.id}`, "PATCH", { content })}
            onRegenerate={() => void run(messages.find((q) => q.role === "user" && q.created_at <= m.created_at)?.content ?? "", `/api/v1/chats/${chatId}/messages/${m.id}/regenerate`, "POST", {})}
          />
        ))}
        {pending && (
          <>
            <li class="message user">
              <p>{pending.question}</p>
            </li>
            <li class="message assistant streaming" aria-busy="true">
              {pending.answer ? <div class="md" dangerouslySetInnerHTML={{ __html: renderMarkdown(pending.answer) }} /> : <Spinner label="Thinking…" />}
            </li>
          </>
        )}
      </ol>
      <div ref={end} />
      {selected.length >= 10 && (
        <p class="row">
          <a class="button secondary" href={`/chats/${chatId}/cards?text=${encodeURIComponent(selected.slice(0, 4000))}`}>
            Make cards from the selected text
          </a>
        </p>
      )}
      <ProblemNote problem={problem} onClose={() => setProblem(undefined)} />
      <form class="composer" onSubmit={ask}>
        <label class="sr-only" for="question">
          Your question
        </label>
        <textarea
          id="question"
          rows={2}
          maxLength={8000}
          placeholder="Ask about your material… (Enter to send, Shift+Enter for a new line)"
          value={draft}
          onInput={(e) => setDraft(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) ask(e);
          }}
        />
        {many && (
          <select aria-label="Model" value={model} onChange={(e) => setModel(e.currentTarget.value)}>
            <option value="">{models.data?.default} (default)</option>
            {models.data?.models
              .filter((m) => m !== models.data?.default)
              .map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
          </select>
        )}
        {pending ? (
          <button type="button" class="secondary" onClick={() => abort.current?.abort()}>
            Stop
          </button>
        ) : (
          <button type="submit" disabled={!draft.trim()}>
            Ask
          </button>
        )}
      </form>
      <CitationDialog chatId={chatId} citation={cited} onClose={() => setCited(undefined)} />
    </div>
  );
}

function MessageView(props: {
  message: Message;
  busy: boolean;
  onCite: (c: Citation) => void;
  onEdit: (content: string) => void;
  onRegenerate: () => void;
}) {
  const { message } = props;
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(message.content);
  if (message.role === "user") {
    return (
      <li class="message user">
        {editing ? (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              setEditing(false);
              props.onEdit(text.trim());
            }}
          >
            <label class="sr-only" for={`edit-${message.id}`}>
              Edit your question
            </label>
            <textarea id={`edit-${message.id}`} rows={2} maxLength={8000} value={text} onInput={(e) => setText(e.currentTarget.value)} />
            <div class="row end">
              <button type="button" class="secondary" onClick={() => setEditing(false)}>
                Cancel
              </button>
              <button type="submit" disabled={!text.trim()}>
                Send edited question
              </button>
            </div>
          </form>
        ) : (
          <>
            <p>{message.content}</p>
            <button type="button" class="link" disabled={props.busy} onClick={() => setEditing(true)}>
              Edit
            </button>
          </>
        )}
      </li>
    );
  }
  return (
    <li class="message assistant">
      <div class="md" dangerouslySetInnerHTML={{ __html: renderMarkdown(message.content) }} />
      {message.status === "incomplete" && <p class="muted">This answer stopped part-way.</p>}
      {message.citations.length > 0 && (
        <div class="chips" aria-label="Sources">
          {message.citations.map((c, i) => (
            <button key={`${c.chunk_id}-${i}`} type="button" class="chip" onClick={() => props.onCite(c)}>
              [{i + 1}] {c.file_name}
              {place(c) && `, ${place(c)}`}
            </button>
          ))}
        </div>
      )}
      <div class="row">
        <button type="button" class="link" disabled={props.busy} onClick={props.onRegenerate}>
          Regenerate
        </button>
        {message.model && <small class="muted">{message.model}</small>}
      </div>
    </li>
  );
}

function CitationDialog({ chatId, citation, onClose }: { chatId: string; citation: Citation | undefined; onClose: () => void }) {
  const [problem, setProblem] = useState<Problem | undefined>();
  return (
    <Dialog title="Source" open={citation !== undefined} onClose={onClose}>
      {citation && (
        <>
          <p>
            <strong>{citation.file_name}</strong>
            {place(citation) && `, ${place(citation)}`}
          </p>
          <blockquote class="quote">{citation.quote}</blockquote>
          <ProblemNote problem={problem} />
          <div class="row end">
            <a class="button secondary" href={`/chats/${chatId}/cards?chunk=${citation.chunk_id}`}>
              Make cards from this passage
            </a>
            <button
              type="button"
              class="secondary"
              onClick={() =>
                void saveDownload(`/api/v1/chats/${chatId}/documents/${citation.document_id}/file`, citation.file_name).catch((e: unknown) =>
                  setProblem(problemOf(e)),
                )
              }
            >
              Download the document
            </button>
          </div>
        </>
      )}
    </Dialog>
  );
}
