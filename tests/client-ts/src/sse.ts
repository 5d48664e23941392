// Server-sent events over fetch: a browser's EventSource cannot send `Authorization`, so the
// stream is read from the response body with a ReadableStream reader and parsed here
// (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).
import type { Schemas } from "./client.js";

/** One event as it came: its `id:` (the last one seen), `event:` name and `data:` lines. */
export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/** The events of `body` as they arrive; comment lines (`: keep-alive`) are skipped. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let lastId: string | undefined;
  let event = "";
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        // A CR ending this chunk may be the first half of a CRLF: wait for the next one.
        if (newline === buffer.length - 1 && buffer.endsWith("\r")) break;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
        if (line === "") {
          if (data.length > 0) yield { id: lastId, event: event || "message", data: data.join("\n") };
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
        else if (field === "id" && !value.includes("\0")) lastId = value;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * The events of a streamed answer (`POST …/messages` with `Accept: text/event-stream`, and
 * `GET …/messages/{message_id}/stream`), their payloads typed from the generated schemas.
 */
export type AnswerEvent =
  | { id: number; event: "question"; data: { question: Schemas["MessageBody"]; answer_id: string } }
  | { id: number; event: "delta"; data: { text: string } }
  | { id: number; event: "done"; data: { answer: Schemas["MessageBody"] } }
  | { id: number; event: "error"; data: Schemas["Problem"] };

/** The answer events of `body`; anything else (an unknown event, a malformed payload) throws. */
export async function* readAnswerEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<AnswerEvent> {
  for await (const raw of readSse(body)) {
    yield toAnswerEvent(raw);
  }
}

function toAnswerEvent(raw: SseEvent): AnswerEvent {
  const id = Number(raw.id);
  if (raw.id === undefined || !Number.isInteger(id) || id < 0) {
    throw new Error(`an answer event without a numeric id: ${JSON.stringify(raw)}`);
  }
  const data: unknown = JSON.parse(raw.data);
  const object = (keys: string[]): Record<string, unknown> => {
    if (typeof data !== "object" || data === null || keys.some((k) => !(k in data))) {
      throw new Error(`a "${raw.event}" event without ${keys.join(", ")}: ${raw.data}`);
    }
    return data as Record<string, unknown>;
  };
  switch (raw.event) {
    case "question": {
      const d = object(["question", "answer_id"]);
      return { id, event: "question", data: d as { question: Schemas["MessageBody"]; answer_id: string } };
    }
    case "delta": {
      const d = object(["text"]);
      if (typeof d["text"] !== "string") throw new Error(`a delta without text: ${raw.data}`);
      return { id, event: "delta", data: { text: d["text"] } };
    }
    case "done":
      return { id, event: "done", data: object(["answer"]) as { answer: Schemas["MessageBody"] } };
    case "error":
      return { id, event: "error", data: object(["code", "status", "detail"]) as Schemas["Problem"] };
    default:
      throw new Error(`an unknown answer event "${raw.event}": ${raw.data}`);
  }
}
