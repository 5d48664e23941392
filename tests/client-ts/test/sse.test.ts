// The SSE parser on its own: events split anywhere across chunks, CRLF, comments, multi-line data.
import assert from "node:assert/strict";
import { test } from "node:test";

import { readAnswerEvents, readSse, type SseEvent } from "../src/sse.js";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function all(body: ReadableStream<Uint8Array>): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  for await (const event of readSse(body)) events.push(event);
  return events;
}

const WIRE = 'id: 0\nevent: question\ndata: {"a":1}\n\n: keep-alive\n\nid: 1\nevent: delta\ndata: {"text":"é"}\n\n';

test("events come out whole wherever the chunks split them", async () => {
  const expected = [
    { id: "0", event: "question", data: '{"a":1}' },
    { id: "1", event: "delta", data: '{"text":"é"}' },
  ];
  const bytes = new TextEncoder().encode(WIRE);
  for (let cut = 1; cut < bytes.length; cut++) {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        // Splitting bytes, not characters: "é" is two bytes and may be cut in half.
        controller.enqueue(bytes.slice(0, cut));
        controller.enqueue(bytes.slice(cut));
        controller.close();
      },
    });
    assert.deepEqual(await all(body), expected, `split at byte ${cut}`);
  }
});

test("CRLF and CR line ends, multi-line data, a default event name, the last id kept", async () => {
  const events = await all(streamOf("id: 7\r\ndata: one\r\ndata: two\r\n\r", "\ndata:three\r\rretry: 10\n\n"));
  assert.deepEqual(events, [
    { id: "7", event: "message", data: "one\ntwo" },
    { id: "7", event: "message", data: "three" },
  ]);
});

test("an event without its blank line at the end of the stream is not dispatched", async () => {
  assert.deepEqual(await all(streamOf("data: half")), []);
});

test("answer events are typed, and anything unexpected is an error", async () => {
  const events = [];
  for await (const e of readAnswerEvents(streamOf('id: 1\nevent: delta\ndata: {"text":"hi"}\n\n'))) events.push(e);
  assert.deepEqual(events, [{ id: 1, event: "delta", data: { text: "hi" } }]);

  await assert.rejects(async () => {
    for await (const _ of readAnswerEvents(streamOf('id: 1\nevent: surprise\ndata: {}\n\n'))) void _;
  }, /unknown answer event "surprise"/);
  await assert.rejects(async () => {
    for await (const _ of readAnswerEvents(streamOf('event: delta\ndata: {"text":"x"}\n\n'))) void _;
  }, /without a numeric id/);
});
