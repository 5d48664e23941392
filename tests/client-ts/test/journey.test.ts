// The main user journey through the generated client, against a real `flashforge serve`:
// register, refresh, a chat, a PDF upload watched until completed, search, a streamed answer
// (and its resumption), flashcards generated, one reviewed, the deck exported as CSV and .apkg,
// and sign-out. Each step is a subtest; after a failure the remaining steps are skipped and the
// server's log is printed.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test, type TestContext } from "node:test";

import { createApi, describeFailure, type Api, type Schemas } from "../src/client.js";
import { repoRoot, sleep, startServer, type RunningServer } from "../src/server.js";
import { readAnswerEvents, type AnswerEvent } from "../src/sse.js";

const STEP_TIMEOUT_MS = 60_000;
const POLL_TIMEOUT_MS = 60_000;
const STREAM_TIMEOUT_MS = 30_000;
const PDF = "single-column.pdf"; // 3 pages, page markers pagetagsc001…003 (tests/fixtures/pdf/manifest.json)

let server: RunningServer | undefined;

before(async () => {
  const started = Date.now();
  server = await startServer();
  console.log(`# flashforge serve is live on ${server.baseUrl} after ${Date.now() - started} ms`);
});

after(async () => {
  const stopping = Date.now();
  await server?.stop();
  if (server) console.log(`# flashforge serve stopped in ${Date.now() - stopping} ms`);
});

/** What the journey learned so far. */
interface Journey {
  api: Api;
  username: string;
  chat?: Schemas["ChatBody"];
  document?: Schemas["DocumentBody"];
  stream?: AnswerEvent[];
  cards?: string[];
}

/** The value of a step's earlier finding, or a clear failure when that step did not provide it. */
function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) assert.fail(`${what} is missing: an earlier step did not provide it`);
  return value;
}

/** The data of a typed call, or a failure naming the call, its status and problem. */
function ok<D>(what: string, result: { data?: D; error?: unknown; response: Response }, status?: number): D {
  if (result.data === undefined || (status !== undefined && result.response.status !== status)) {
    assert.fail(`${what}: expected ${status ?? "success"}, got ${describeFailure(result.response, result.error)}`);
  }
  return result.data;
}

/** Calls `probe` every `everyMs` until it returns a value, failing with `waiting()` after the timeout. */
async function poll<T>(what: string, probe: () => Promise<T | undefined>, waiting: () => string, timeoutMs = POLL_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let everyMs = 50;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`${what}: still not done after ${timeoutMs} ms (${waiting()})`);
    await sleep(everyMs);
    everyMs = Math.min(everyMs * 2, 500);
  }
}

/** RFC 4180 records: quoted fields may hold commas, quotes ("") and line breaks. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      record.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      record.push(field);
      records.push(record);
      record = [];
      field = "";
    } else field += c;
  }
  if (field !== "" || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

/**
 * The answer events of `body` up to `done` or `error` (or the end of the stream). The request's
 * `AbortSignal.timeout` bounds the wait: a stalled stream fails with the events read so far.
 */
async function collect(body: ReadableStream<Uint8Array> | null | undefined): Promise<AnswerEvent[]> {
  assert.ok(body, "the event stream has no body");
  const events: AnswerEvent[] = [];
  try {
    for await (const event of readAnswerEvents(body)) {
      events.push(event);
      if (event.event === "done" || event.event === "error") break;
    }
  } catch (error) {
    assert.fail(`reading the event stream failed after ${events.length} events (${JSON.stringify(events.map((e) => e.event))}): ${String(error)}`);
  } finally {
    await body.cancel().catch(() => undefined);
  }
  return events;
}

test("the main user journey through the generated client", { timeout: 10 * 60_000 }, async (t) => {
  const live = need(server, "the server");
  const journey: Journey = {
    api: createApi(live.baseUrl),
    username: `journey_${Date.now().toString(36)}`,
  };
  const { client, anonymous, session } = journey.api;
  let failed: string | undefined;

  const step = async (name: string, body: (t: TestContext) => Promise<void>) => {
    await t.test(name, { timeout: STEP_TIMEOUT_MS, skip: failed ? `after the failed step "${failed}"` : false }, async (st) => {
      try {
        await body(st);
      } catch (error) {
        failed = name;
        console.error(`\n--- "${name}" failed; the server's log (last lines) ---\n${live.log()}\n--- end of the server's log ---`);
        throw error;
      }
    });
  };

  await step("register", async () => {
    const created = ok(
      "POST /api/v1/auth/register",
      await anonymous.POST("/api/v1/auth/register", {
        body: { username: journey.username, password: "correct horse battery staple", email: `${journey.username}@example.com` },
      }),
      201,
    );
    assert.equal(created.user.username, journey.username);
    assert.equal(created.token_type, "Bearer");
    assert.ok(created.access_token.length > 0 && created.refresh_token.length > 0, "a token pair");
    assert.ok(created.expires_in > 0);
    session.set(created);

    const me = ok("GET /api/v1/me", await client.GET("/api/v1/me"), 200);
    assert.equal(me.id, created.user.id);
  });

  await step("refresh the token, explicitly and on a 401", async () => {
    const before = { access: need(session.accessToken, "access token"), refresh: need(session.refreshToken, "refresh token") };
    assert.equal(await session.refresh(), true, "the refresh token is exchanged");
    assert.notEqual(session.refreshToken, before.refresh, "a new refresh token (rotation)");
    assert.notEqual(session.accessToken, before.access, "a new access token");

    // An access token the server refuses (as when it expires): the client refreshes once and retries.
    const refreshes = session.refreshes;
    session.spoilAccessToken();
    const me = ok("GET /api/v1/me after the access token went bad", await client.GET("/api/v1/me"), 200);
    assert.equal(me.username, journey.username);
    assert.equal(session.refreshes, refreshes + 1, "exactly one transparent refresh");
  });

  await step("create a chat", async () => {
    const chat = ok("POST /api/v1/chats", await client.POST("/api/v1/chats", { body: { name: "Memory and review" } }), 201);
    assert.equal(chat.name, "Memory and review");
    assert.equal(chat.archived, false);
    const listed = ok("GET /api/v1/chats", await client.GET("/api/v1/chats", { params: { query: { limit: 10 } } }), 200);
    assert.deepEqual(listed.items.map((c) => c.id), [chat.id]);
    journey.chat = chat;
  });

  await step("upload a PDF (multipart) and wait until it is completed", async () => {
    const chat = need(journey.chat, "the chat");
    const bytes = await readFile(path.join(repoRoot(), "tests/fixtures/pdf", PDF));
    const uploaded = ok(
      "POST …/documents",
      await client.POST("/api/v1/chats/{chat_id}/documents", {
        params: { path: { chat_id: chat.id } },
        body: { file: new File([bytes], PDF, { type: "application/pdf" }) },
        bodySerializer: (body) => {
          const form = new FormData();
          form.append("file", body.file, PDF);
          return form;
        },
      }),
      202,
    );
    assert.equal(uploaded.file_name, PDF);
    assert.equal(uploaded.media_type, "pdf");
    assert.equal(uploaded.size_bytes, bytes.length);
    assert.ok(["pending", "processing", "completed"].includes(uploaded.status), `status ${uploaded.status}`);

    let last = uploaded;
    const done = await poll(
      `document ${uploaded.id}`,
      async () => {
        last = ok(
          "GET …/documents/{document_id}",
          await client.GET("/api/v1/chats/{chat_id}/documents/{document_id}", { params: { path: { chat_id: chat.id, document_id: uploaded.id } } }),
          200,
        );
        if (last.status === "failed") assert.fail(`the document failed: ${last.error ?? "(no reason given)"}`);
        return last.status === "completed" ? last : undefined;
      },
      () => `status ${last.status}, pages ${last.progress.pages_done}/${last.progress.pages_total ?? "?"}`,
    );
    assert.equal(done.progress.pages_total, 3);
    assert.equal(done.progress.pages_done, 3);
    assert.ok(done.chunk_count > 0, "chunks were made");
    assert.equal(done.error ?? null, null);
    journey.document = done;
  });

  await step("search in the chat", async () => {
    const chat = need(journey.chat, "the chat");
    const document = need(journey.document, "the document");
    const keyword = ok(
      "GET …/search (keyword)",
      await client.GET("/api/v1/chats/{chat_id}/search", { params: { path: { chat_id: chat.id }, query: { q: "pagetagsc002", mode: "keyword", limit: 5 } } }),
      200,
    );
    assert.equal(keyword.mode, "keyword");
    const top = keyword.hits[0];
    assert.ok(top, "a hit for the page-2 marker");
    assert.equal(top.document_id, document.id);
    assert.equal(top.file_name, PDF);
    assert.equal(top.page, 2);
    assert.match(top.text, /pagetagsc002/);

    const hybrid = ok(
      "GET …/search (hybrid)",
      await client.GET("/api/v1/chats/{chat_id}/search", { params: { path: { chat_id: chat.id }, query: { q: "violinist ocean currents" } } }),
      200,
    );
    assert.equal(hybrid.mode, "hybrid");
    assert.ok(hybrid.hits.length > 0, "hybrid search finds the material");
    assert.ok(hybrid.hits.every((h) => h.chat_id === chat.id && h.document_id === document.id));
  });

  await step("ask a question; the answer streams as server-sent events", async () => {
    const chat = need(journey.chat, "the chat");
    const document = need(journey.document, "the document");
    const question = "Why does repetition make memories durable?";
    const { response, data, error } = await client.POST("/api/v1/chats/{chat_id}/messages", {
      params: { path: { chat_id: chat.id } },
      body: { content: question },
      headers: { Accept: "text/event-stream" },
      parseAs: "stream",
      signal: AbortSignal.timeout(STREAM_TIMEOUT_MS),
    });
    if (error !== undefined || response.status !== 200) assert.fail(`POST …/messages (stream): ${describeFailure(response, error)}`);
    assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
    const events = await collect(data);

    const first = events[0];
    assert.ok(first?.event === "question", `the first event is "question", got ${JSON.stringify(first)}`);
    assert.equal(first.id, 0);
    assert.equal(first.data.question.content, question);
    assert.equal(first.data.question.role, "user");
    assert.equal(response.headers.get("x-answer-id"), first.data.answer_id);

    const last = events.at(-1);
    if (last?.event === "error") assert.fail(`the stream ended in an error: ${last.data.code}: ${last.data.detail}`);
    assert.ok(last?.event === "done", `the stream ends with "done", got ${JSON.stringify(last)}`);
    const deltas = events.filter((e): e is Extract<AnswerEvent, { event: "delta" }> => e.event === "delta");
    assert.ok(deltas.length > 0, "at least one delta");
    assert.deepEqual(events.slice(1, -1).map((e) => e.event), deltas.map(() => "delta"), "only deltas between question and done");
    const ids = events.map((e) => e.id);
    assert.deepEqual(ids, ids.map((_, i) => i), "event ids count up from 0");

    const answer = last.data.answer;
    assert.equal(answer.id, first.data.answer_id);
    assert.equal(answer.role, "assistant");
    assert.equal(answer.status, "complete");
    assert.equal(answer.content, deltas.map((d) => d.data.text).join(""), "the deltas make up the answer");
    assert.ok(answer.citations.length > 0, "the answer cites the material");
    assert.ok(answer.citations.every((c) => c.document_id === document.id && c.file_name === PDF));

    const messages = ok("GET …/messages", await client.GET("/api/v1/chats/{chat_id}/messages", { params: { path: { chat_id: chat.id } } }), 200);
    assert.deepEqual(messages.items.map((m) => [m.role, m.id]), [["user", first.data.question.id], ["assistant", answer.id]]);
    journey.stream = events;
  });

  await step("resume the stream after Last-Event-ID", async () => {
    const chat = need(journey.chat, "the chat");
    const original = need(journey.stream, "the streamed answer");
    const first = original[0];
    assert.ok(first?.event === "question");
    const lastSeen = 1; // as if the connection dropped after the first delta
    const { response, data, error } = await client.GET("/api/v1/chats/{chat_id}/messages/{message_id}/stream", {
      params: { path: { chat_id: chat.id, message_id: first.data.answer_id }, header: { "Last-Event-ID": lastSeen } },
      parseAs: "stream",
      signal: AbortSignal.timeout(STREAM_TIMEOUT_MS),
    });
    if (error !== undefined || response.status !== 200) assert.fail(`GET …/stream: ${describeFailure(response, error)}`);
    const resumed = await collect(data);
    const expected = original.filter((e) => e.id > lastSeen);
    assert.deepEqual(
      resumed.map((e) => [e.id, e.event]),
      expected.map((e) => [e.id, e.event]),
      "the events after Last-Event-ID, replayed with their ids",
    );
    assert.deepEqual(resumed.at(-1), expected.at(-1));
  });

  await step("generate flashcards from the document", async () => {
    const chat = need(journey.chat, "the chat");
    const document = need(journey.document, "the document");
    const { data, error, response } = await client.POST("/api/v1/chats/{chat_id}/flashcards/generate", {
      params: { path: { chat_id: chat.id } },
      body: { document_id: document.id, count: 5, save: true },
    });
    if (data === undefined) assert.fail(`POST …/flashcards/generate: ${describeFailure(response, error)}`);

    let cards: {
      card_id?: string | null;
      kind: string;
      question: string;
      answer: string;
      source?: Schemas["SourceBody"] | null;
    }[];
    if (response.status === 202) {
      // A long document or many cards: a background generation to poll (`Location` names it).
      const queued = data as Schemas["GenerationBody"];
      assert.equal(response.headers.get("location"), `/api/v1/flashcards/generations/${queued.id}`);
      let last = queued;
      const done = await poll(
        `generation ${queued.id}`,
        async () => {
          last = ok(
            "GET /api/v1/flashcards/generations/{generation_id}",
            await client.GET("/api/v1/flashcards/generations/{generation_id}", { params: { path: { generation_id: queued.id } } }),
            200,
          );
          if (last.status === "failed") assert.fail(`the generation failed: ${last.error ?? "(no reason)"}`);
          return last.status === "completed" ? last : undefined;
        },
        () => `status ${last.status}, batches ${last.progress.batches_done}/${last.progress.batches_total}`,
      );
      cards = done.cards;
    } else {
      assert.equal(response.status, 200);
      const generated = data as Schemas["GeneratedBody"];
      assert.equal(generated.generator, "offline", "no language model is configured: the offline generator");
      const saved = need(generated.cards ?? undefined, "the saved cards (save: true)");
      assert.equal(saved.length, generated.drafts.length, "every draft saved");
      cards = saved.map((c) => ({ card_id: c.id, kind: c.kind, question: c.question, answer: c.answer, source: c.source ?? null }));
    }
    assert.ok(cards.length > 0 && cards.length <= 5, `1–5 cards, got ${cards.length}`);
    for (const card of cards) {
      if (card.kind === "cloze") {
        // A cloze card is its sentence with one gap; its answer is optional extra text.
        assert.ok(card.question.includes("{{c1::"), `a cloze card has a gap: ${card.question}`);
      } else {
        assert.ok(card.question.trim() && card.answer.trim(), "a card has a question and an answer");
      }
      assert.equal(card.source?.document_id, document.id, "a card links to the document it came from");
    }
    journey.cards = cards.map((c) => need(c.card_id ?? undefined, "a saved card's id"));

    const listed = ok(
      "GET …/flashcards",
      await client.GET("/api/v1/chats/{chat_id}/flashcards", { params: { path: { chat_id: chat.id } } }),
      200,
    );
    assert.deepEqual(listed.items.map((c) => c.id).sort(), [...journey.cards].sort());
  });

  await step("review a card", async () => {
    const id = need(journey.cards?.[0], "a card");
    const before = ok("GET /api/v1/flashcards/{card_id}", await client.GET("/api/v1/flashcards/{card_id}", { params: { path: { card_id: id } } }), 200);
    assert.equal(before.state, "new");
    assert.equal(before.reps, 0);

    const reviewed = ok(
      "POST /api/v1/flashcards/{card_id}/reviews",
      await client.POST("/api/v1/flashcards/{card_id}/reviews", { params: { path: { card_id: id } }, body: { rating: "good", duration_ms: 4200 } }),
      200,
    );
    assert.equal(reviewed.id, id);
    assert.equal(reviewed.reps, 1);
    assert.notEqual(reviewed.state, "new");
    assert.ok(reviewed.last_reviewed_at, "the review is recorded");
    assert.ok(Date.parse(reviewed.due) > Date.now(), "the card is due later");
    assert.ok(typeof reviewed.stability === "number" && reviewed.stability > 0, "FSRS stability after the first review");
  });

  await step("export the deck as CSV", async () => {
    const chat = need(journey.chat, "the chat");
    const cards = need(journey.cards, "the cards");
    const { data, error, response } = await client.GET("/api/v1/chats/{chat_id}/flashcards/export", {
      params: { path: { chat_id: chat.id }, query: { format: "csv" } },
      parseAs: "text",
    });
    if (typeof data !== "string") assert.fail(`GET …/export?format=csv: ${describeFailure(response, error)}`);
    assert.match(response.headers.get("content-type") ?? "", /^text\/csv/);
    assert.match(response.headers.get("content-disposition") ?? "", /^attachment; filename="[^"]+\.csv"$/);
    const [header, ...rows] = parseCsv(data);
    assert.deepEqual(header, ["question", "answer", "tags", "type"]);
    const listed = ok(
      "GET …/flashcards",
      await client.GET("/api/v1/chats/{chat_id}/flashcards", { params: { path: { chat_id: chat.id } } }),
      200,
    );
    assert.equal(listed.items.length, cards.length);
    assert.deepEqual(
      rows.map(([question, answer]) => [question, answer]).sort(),
      listed.items.map((c) => [c.question, c.answer]).sort(),
      "one row per note (each generated card is a note of its own), with its question and answer",
    );
  });

  await step("export the deck as an Anki package (.apkg, binary)", async () => {
    const chat = need(journey.chat, "the chat");
    const { data, error, response } = await client.GET("/api/v1/chats/{chat_id}/flashcards/export", {
      params: { path: { chat_id: chat.id }, query: { format: "apkg" } },
      parseAs: "arrayBuffer",
    });
    if (!(data instanceof ArrayBuffer)) assert.fail(`GET …/export?format=apkg: ${describeFailure(response, error)}`);
    assert.equal(response.headers.get("content-type"), "application/vnd.anki");
    assert.match(response.headers.get("content-disposition") ?? "", /^attachment; filename="[^"]+\.apkg"$/);
    const bytes = Buffer.from(data);
    assert.ok(bytes.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04])), "a zip archive");
    assert.ok(bytes.includes("collection.anki2"), "holding an Anki collection");
  });

  await step("sign out", async () => {
    const refreshToken = need(session.refreshToken, "the refresh token");
    const out = await client.POST("/api/v1/auth/logout");
    assert.equal(out.response.status, 204, `POST /api/v1/auth/logout: ${describeFailure(out.response, out.error)}`);

    // The session is over: the access token is refused, and so is the refresh token, so the
    // client's transparent refresh cannot bring it back.
    const refreshes = session.refreshes;
    const me = await client.GET("/api/v1/me");
    assert.equal(me.response.status, 401, "the signed-out session's token is refused");
    assert.equal(me.error?.code, "invalid_token");
    assert.equal(session.refreshes, refreshes, "no refresh succeeded");
    const again = await anonymous.POST("/api/v1/auth/refresh", { body: { refresh_token: refreshToken } });
    assert.equal(again.response.status, 401, "the refresh token is refused after sign-out");
    assert.equal(again.error?.code, "invalid_refresh_token");
    session.clear();
  });

  assert.equal(failed, undefined, `the journey stopped at "${failed}"`);
});
