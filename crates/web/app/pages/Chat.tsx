// Chats: the list (newest activity first), and one chat's page with its tabs.
import { useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { allPages, api, call, type Problem, type Schemas } from "../api";
import { ago, Dialog, Field, NotFound, ProblemNote, problemOf, Spinner, type Submit, useLoad, useTitle } from "../ui";
import { AskTab } from "./Ask";
import { MaterialTab } from "./Material";
import { CardsTab } from "./Cards";
import { SearchPanel } from "./Search";

type Chat = Schemas["ChatBody"];

const allChats = (archived: boolean): Promise<Chat[]> =>
  allPages((cursor) => api.GET("/api/v1/chats", { params: { query: { limit: 100, archived, ...cursor } } }), 1000);

export function ChatsHome() {
  useTitle("Chats");
  const { route } = useLocation();
  const [archived, setArchived] = useState(false);
  const chats = useLoad(() => allChats(archived), [archived]);
  const [name, setName] = useState("");
  const [problem, setProblem] = useState<Problem | undefined>();

  const create = async (event: Submit) => {
    event.preventDefault();
    setProblem(undefined);
    try {
      const chat = await call(api.POST("/api/v1/chats", { body: { name: name.trim() || "New chat" } }));
      route(`/chats/${chat.id}/material`);
    } catch (error) {
      setProblem(problemOf(error));
    }
  };

  return (
    <section>
      <h1>Your chats</h1>
      <p class="muted">A chat holds one course's material, your questions about it, and its flashcards.</p>
      <form class="row" onSubmit={create} aria-label="New chat">
        <label class="sr-only" for="new-chat">
          New chat name
        </label>
        <input id="new-chat" placeholder="e.g. Biology 101" maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <button type="submit">Create chat</button>
      </form>
      <ProblemNote problem={problem} />
      <div class="tabs" role="group" aria-label="Which chats">
        <button type="button" aria-pressed={!archived} onClick={() => setArchived(false)}>
          Active
        </button>
        <button type="button" aria-pressed={archived} onClick={() => setArchived(true)}>
          Archived
        </button>
      </div>
      <ProblemNote problem={chats.problem} />
      {chats.loading && !chats.data ? (
        <Spinner />
      ) : chats.data && chats.data.length > 0 ? (
        <ul class="list" aria-label="Chats">
          {chats.data.map((chat) => (
            <ChatRow key={chat.id} chat={chat} onChange={chats.reload} />
          ))}
        </ul>
      ) : (
        <p class="empty">{archived ? "No archived chats." : "No chats yet: create one above, then upload your material into it."}</p>
      )}
    </section>
  );
}

function ChatRow({ chat, onChange }: { chat: Chat; onChange: () => void }) {
  const [renaming, setRenaming] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [problem, setProblem] = useState<Problem | undefined>();
  const patch = async (body: Schemas["ChatPatch"]) => {
    try {
      await call(api.PATCH("/api/v1/chats/{chat_id}", { params: { path: { chat_id: chat.id } }, body }));
      setRenaming(false);
      onChange();
    } catch (error) {
      setProblem(problemOf(error));
    }
  };
  const remove = async () => {
    try {
      await call(api.DELETE("/api/v1/chats/{chat_id}", { params: { path: { chat_id: chat.id } } }));
      setConfirming(false);
      onChange();
    } catch (error) {
      setProblem(problemOf(error));
    }
  };
  return (
    <li class="item">
      <div class="grow">
        <a href={`/chats/${chat.id}/ask`} class="title">
          {chat.name}
        </a>
        <small class="muted"> · active {ago(chat.last_activity_at)}</small>
        <ProblemNote problem={problem} onClose={() => setProblem(undefined)} />
      </div>
      <button type="button" class="secondary" onClick={() => setRenaming(true)} aria-label={`Rename ${chat.name}`}>
        Rename
      </button>
      <button type="button" class="secondary" onClick={() => void patch({ archived: !chat.archived })} aria-label={`${chat.archived ? "Unarchive" : "Archive"} ${chat.name}`}>
        {chat.archived ? "Unarchive" : "Archive"}
      </button>
      <button type="button" class="danger" onClick={() => setConfirming(true)} aria-label={`Delete ${chat.name}`}>
        Delete
      </button>
      <RenameDialog open={renaming} name={chat.name} onClose={() => setRenaming(false)} onSave={(name) => patch({ name })} />
      <Dialog title={`Delete “${chat.name}”?`} open={confirming} onClose={() => setConfirming(false)}>
        <p>Its material, messages and flashcards are deleted with it. This cannot be undone.</p>
        <div class="row end">
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
          <button type="button" class="danger" onClick={() => void remove()}>
            Delete chat
          </button>
        </div>
      </Dialog>
    </li>
  );
}

function RenameDialog(props: { open: boolean; name: string; onClose: () => void; onSave: (name: string) => Promise<void> }) {
  const [name, setName] = useState(props.name);
  return (
    <Dialog title="Rename chat" open={props.open} onClose={props.onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void props.onSave(name.trim());
        }}
      >
        <Field label="Name" id="rename-chat">
          <input id="rename-chat" maxLength={200} required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <div class="row end">
          <button type="submit">Save</button>
        </div>
      </form>
    </Dialog>
  );
}

const TABS: [string, string][] = [
  ["ask", "Ask"],
  ["material", "Material"],
  ["cards", "Cards"],
  ["search", "Search"],
];

export function ChatPage() {
  const { params } = useRoute();
  const id = params["id"] ?? "";
  const tab = params["tab"] ?? "ask";
  const chat = useLoad(() => call(api.GET("/api/v1/chats/{chat_id}", { params: { path: { chat_id: id } } })), [id]);
  const known = TABS.some(([key]) => key === tab);
  useTitle(known ? chat.data?.name : "Not found");
  if (!known) return <NotFound />;
  if (chat.problem) return <ProblemNote problem={chat.problem} />;
  if (!chat.data) return <Spinner />;
  return (
    <section class="chat">
      <p class="crumbs">
        <a href="/chats">Chats</a> /
      </p>
      <h1>{chat.data.name}</h1>
      <nav class="tabs" aria-label="Chat">
        {TABS.map(([key, label]) => (
          <a key={key} href={`/chats/${id}/${key}`} aria-current={tab === key ? "page" : undefined}>
            {label}
          </a>
        ))}
        <a href={`/study?chat=${id}`}>Study this chat</a>
      </nav>
      {tab === "ask" && <AskTab chatId={id} />}
      {tab === "material" && <MaterialTab chatId={id} />}
      {tab === "cards" && <CardsTab chatId={id} />}
      {tab === "search" && <SearchPanel chatId={id} />}
    </section>
  );
}
