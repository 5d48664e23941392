// A chat's material: drag-and-drop upload with progress, then the document's status until it is
// completed or failed; the list with download and delete.
import { useEffect, useRef, useState } from "preact/hooks";
import { allPages, api, call, saveDownload, type Problem, type Schemas, toProblem, uploadWithProgress } from "../api";
import { ago, Dialog, formatBytes, ProblemNote, problemOf, Spinner, useLoad } from "../ui";

type Doc = Schemas["DocumentBody"];

export const ACCEPTED = ".pdf,.docx,.pptx,.odt,.odp,.rtf,.epub,.html,.htm,.txt,.md,.markdown,.png,.jpg,.jpeg,.tif,.tiff";

interface Upload {
  key: string;
  name: string;
  sent: number;
  documentId?: string;
  duplicate?: boolean;
  problem?: Problem;
}

const allDocuments = (chatId: string): Promise<Doc[]> =>
  allPages((cursor) => api.GET("/api/v1/chats/{chat_id}/documents", { params: { path: { chat_id: chatId }, query: { limit: 100, ...cursor } } }), 2000);

const busy = (d: Doc) => d.status === "pending" || d.status === "processing";

export function MaterialTab({ chatId }: { chatId: string }) {
  const docs = useLoad(() => allDocuments(chatId), [chatId]);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [dragging, setDragging] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  // Poll while anything is still being read.
  const working = (docs.data ?? []).some(busy);
  useEffect(() => {
    if (!working) return;
    const timer = setInterval(docs.reload, 1000);
    return () => clearInterval(timer);
  }, [working, docs.reload]);

  const update = (key: string, change: Partial<Upload>) =>
    setUploads((list) => list.map((u) => (u.key === key ? { ...u, ...change } : u)));

  const send = async (files: FileList | File[]) => {
    const batch = [...files].map((file) => ({ file, upload: { key: crypto.randomUUID(), name: file.name, sent: 0 } as Upload }));
    setUploads((list) => [...batch.map((b) => b.upload), ...list]);
    for (const { file, upload } of batch) {
      try {
        const result = await uploadWithProgress(chatId, file, (sent) => update(upload.key, { sent }));
        if (result.status === 200 || result.status === 202) {
          const doc = result.body as Doc;
          update(upload.key, { sent: 1, documentId: doc.id, duplicate: result.status === 200 });
        } else {
          update(upload.key, { problem: toProblem(result.body, new Response(null, { status: result.status })) });
        }
      } catch (error) {
        update(upload.key, { problem: problemOf(error) });
      }
      docs.reload();
    }
  };

  const byId = new Map((docs.data ?? []).map((d) => [d.id, d]));
  return (
    <div>
      <div
        class={`drop${dragging ? " over" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          if (e.dataTransfer?.files.length) void send(e.dataTransfer.files);
        }}
      >
        <p>
          <strong>Drop files here</strong> or{" "}
          <button type="button" onClick={() => input.current?.click()}>
            choose files
          </button>
        </p>
        <p class="muted">PDF, Word, PowerPoint, OpenDocument, RTF, EPUB, HTML, text, Markdown, and photos or scans (PNG, JPEG, TIFF).</p>
        <input
          ref={input}
          type="file"
          multiple
          accept={ACCEPTED}
          class="sr-only"
          aria-label="Upload files"
          onChange={(e) => {
            const files = e.currentTarget.files;
            if (files?.length) void send([...files]);
            e.currentTarget.value = "";
          }}
        />
      </div>
      {uploads.length > 0 && (
        <ul class="list uploads" aria-label="Uploads">
          {uploads.map((u) => (
            <UploadRow key={u.key} upload={u} doc={u.documentId ? byId.get(u.documentId) : undefined} />
          ))}
        </ul>
      )}
      <h2>Documents</h2>
      <ProblemNote problem={docs.problem} />
      {docs.loading && !docs.data ? (
        <Spinner />
      ) : docs.data && docs.data.length > 0 ? (
        <ul class="list" aria-label="Documents">
          {docs.data.map((d) => (
            <DocumentRow key={d.id} chatId={chatId} doc={d} onChange={docs.reload} />
          ))}
        </ul>
      ) : (
        <p class="empty">No material yet. Upload your slides, notes or book chapters to ask about them and make cards.</p>
      )}
    </div>
  );
}

function statusText(doc: Doc): string {
  if (doc.status === "processing") {
    const total = doc.progress.pages_total;
    return total ? `reading page ${doc.progress.pages_done} of ${total}` : "reading";
  }
  if (doc.status === "pending") return "waiting to be read";
  if (doc.status === "failed") return `failed: ${doc.error ?? "no reason given"}`;
  return `ready · ${doc.chunk_count} passages`;
}

function UploadRow({ upload, doc }: { upload: Upload; doc: Doc | undefined }) {
  let value = upload.sent * 0.5;
  if (doc) {
    const total = doc.progress.pages_total;
    value = doc.status === "completed" || doc.status === "failed" ? 1 : 0.5 + (total ? (0.5 * doc.progress.pages_done) / total : 0);
  }
  const label = upload.problem
    ? "not uploaded"
    : upload.duplicate
      ? "already uploaded: this is the same file as an existing document"
      : doc
        ? statusText(doc)
        : upload.sent < 1
          ? `uploading ${Math.round(upload.sent * 100)}%`
          : "uploaded";
  return (
    <li class="item" data-status={doc?.status ?? (upload.problem ? "rejected" : "uploading")}>
      <div class="grow">
        <span class="title">{upload.name}</span> <small class="muted">{label}</small>
        {!upload.problem && <progress max={1} value={value} aria-label={`Progress of ${upload.name}`} />}
        <ProblemNote problem={upload.problem} />
      </div>
    </li>
  );
}

function DocumentRow({ chatId, doc, onChange }: { chatId: string; doc: Doc; onChange: () => void }) {
  const [problem, setProblem] = useState<Problem | undefined>();
  const [confirming, setConfirming] = useState(false);
  const path = { chat_id: chatId, document_id: doc.id };
  const act = async (work: () => Promise<unknown>) => {
    setProblem(undefined);
    try {
      await work();
      onChange();
    } catch (error) {
      setProblem(problemOf(error));
    }
  };
  return (
    <li class="item" data-status={doc.status}>
      <div class="grow">
        <span class="title">{doc.title || doc.file_name}</span>
        <small class="muted">
          {" "}
          {doc.file_name} · {doc.media_type} · {formatBytes(doc.size_bytes)} · {ago(doc.created_at)}
        </small>
        <div>
          <span class={`badge ${doc.status}`}>{statusText(doc)}</span>
        </div>
        <ProblemNote problem={problem} onClose={() => setProblem(undefined)} />
      </div>
      <button
        type="button"
        class="secondary"
        onClick={() => void act(() => saveDownload(`/api/v1/chats/${chatId}/documents/${doc.id}/file`, doc.file_name))}
        aria-label={`Download ${doc.file_name}`}
      >
        Download
      </button>
      {doc.status === "failed" && (
        <button type="button" class="secondary" onClick={() => void act(() => call(api.POST("/api/v1/chats/{chat_id}/documents/{document_id}/retry", { params: { path } })))}>
          Retry
        </button>
      )}
      {doc.status === "completed" && (
        <a class="button secondary" href={`/chats/${chatId}/cards?generate=${doc.id}`}>
          Make cards
        </a>
      )}
      <button type="button" class="danger" onClick={() => setConfirming(true)} aria-label={`Delete ${doc.file_name}`}>
        Delete
      </button>
      <Dialog title={`Delete ${doc.file_name}?`} open={confirming} onClose={() => setConfirming(false)}>
        <p>Its passages leave search and the assistant. Cards made from it are kept.</p>
        <div class="row end">
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
          <button
            type="button"
            class="danger"
            onClick={() => void act(() => call(api.DELETE("/api/v1/chats/{chat_id}/documents/{document_id}", { params: { path } }))).then(() => setConfirming(false))}
          >
            Delete document
          </button>
        </div>
      </Dialog>
    </li>
  );
}
