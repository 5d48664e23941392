// Study: one card at a time — the question, space to reveal, 1–4 to rate (each button shows when
// the card would come back), u to undo. The next card is already here when a rating is given:
// the due cards are fetched ahead, the rating is sent in the background, and the server's own
// choice of next card (GET /study/next, with its daily limits and learning steps) is folded into
// what comes after the card on screen.
import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, call, type Problem, type Schemas } from "../api";
import { renderMarkdown } from "../markdown";
import { Dialog, formatInterval, ProblemNote, problemOf, Spinner, useTitle } from "../ui";
import { SourceView } from "./Cards";

type Card = Schemas["CardBody"];
type Counts = Schemas["StudyCountsBody"];
type Rating = Schemas["Rating"];

const RATINGS: [Rating, string, string][] = [
  ["again", "Again", "1"],
  ["hard", "Hard", "2"],
  ["good", "Good", "3"],
  ["easy", "Easy", "4"],
];

/** What the screen shows; everything else lives in `Session` and does not re-render. */
interface View {
  card: Card | null;
  revealed: boolean;
  counts: Counts | undefined;
  nextDue: string | null;
  loading: boolean;
  canUndo: boolean;
}

class Session {
  queue: Card[] = [];
  rated = new Set<string>();
  history: string[] = [];
  newLeft = 0;
  reviewLeft = 0;
  chain: Promise<void> = Promise.resolve();
  pending = 0;
  shownAt = performance.now();

  constructor(readonly chatId: string | undefined) {}

  /** The first queued card not yet rated and within today's limits. */
  take(): Card | null {
    while (this.queue.length > 0) {
      const card = this.queue.shift() as Card;
      if (this.rated.has(card.id)) continue;
      if (card.state === "new" && this.newLeft <= 0) continue;
      if (card.state === "review" && this.reviewLeft <= 0) continue;
      return card;
    }
    return null;
  }

  merge(cards: Card[], current: Card | null): void {
    const known = new Set(this.queue.map((c) => c.id));
    for (const card of cards) {
      if (card.id !== current?.id && !known.has(card.id) && !this.rated.has(card.id)) this.queue.push(card);
    }
  }
}

const decrement = (counts: Counts | undefined, card: Card): Counts | undefined => {
  if (!counts) return counts;
  const key = card.state === "new" ? "new" : card.state === "review" ? "review" : "learning";
  return { ...counts, [key]: Math.max(0, counts[key] - 1) };
};

export function StudyPage() {
  useTitle("Study");
  const { query } = useLocation();
  const chatId = query["chat"] || undefined;
  const session = useRef(new Session(chatId));
  const [view, setView] = useState<View>({ card: null, revealed: false, counts: undefined, nextDue: null, loading: true, canUndo: false });
  const viewRef = useRef(view);
  viewRef.current = view;
  const [problem, setProblem] = useState<Problem | undefined>();
  const [source, setSource] = useState(false);
  const params = chatId ? { query: { chat_id: chatId } } : {};

  const fetchNext = () => call(api.GET("/api/v1/study/next", { params }));
  const fetchDue = () => call(api.GET("/api/v1/study/due", { params: { query: { limit: 100, ...(chatId ? { chat_id: chatId } : {}) } } })).then((page) => page.items);

  useEffect(() => {
    const s = new Session(chatId);
    session.current = s;
    setView((v) => ({ ...v, loading: true }));
    Promise.all([fetchNext(), fetchDue()]).then(
      ([next, due]) => {
        s.newLeft = next.counts.new;
        s.reviewLeft = next.counts.review;
        s.merge(due, next.card ?? null);
        s.shownAt = performance.now();
        setView({ card: next.card ?? null, revealed: false, counts: next.counts, nextDue: next.next_due_at ?? null, loading: false, canUndo: false });
      },
      (error: unknown) => {
        setProblem(problemOf(error));
        setView((v) => ({ ...v, loading: false }));
      },
    );
  }, [chatId]);

  /** After the background work: the server's next card goes right after the one on screen. */
  const reconcile = async (s: Session) => {
    const next = await fetchNext();
    if (s !== session.current || s.pending > 0) return;
    const shown = viewRef.current.card;
    const chosen = next.card ?? null;
    if (chosen && chosen.id !== shown?.id) {
      s.rated.delete(chosen.id);
      s.queue = [chosen, ...s.queue.filter((c) => c.id !== chosen.id)];
    }
    if (s.queue.length < 5) s.merge(await fetchDue(), shown);
    setView((v) => {
      if (v.card === null && chosen) {
        s.queue = s.queue.filter((c) => c.id !== chosen.id);
        s.shownAt = performance.now();
        return { ...v, card: chosen, revealed: false, counts: next.counts, nextDue: next.next_due_at ?? null };
      }
      return { ...v, counts: next.counts, nextDue: next.next_due_at ?? null };
    });
  };

  const rate = (rating: Rating) => {
    const s = session.current;
    const card = viewRef.current.card;
    if (!card || !viewRef.current.revealed) return;
    const duration_ms = Math.round(performance.now() - s.shownAt);
    s.rated.add(card.id);
    s.history.push(card.id);
    if (card.state === "new") s.newLeft -= 1;
    if (card.state === "review") s.reviewLeft -= 1;
    const following = s.take();
    s.shownAt = performance.now();
    setView((v) => ({ ...v, card: following, revealed: false, counts: decrement(v.counts, card), canUndo: true }));
    s.pending += 1;
    s.chain = s.chain
      .then(() => call(api.POST("/api/v1/flashcards/{card_id}/reviews", { params: { path: { card_id: card.id } }, body: { rating, duration_ms } })))
      .then(
        () => undefined,
        (error: unknown) => setProblem(problemOf(error)),
      )
      .finally(() => {
        s.pending -= 1;
      })
      .then(() => reconcile(s))
      .catch((error: unknown) => setProblem(problemOf(error)));
  };

  const undo = () => {
    const s = session.current;
    if (s.history.length === 0) return;
    s.pending += 1;
    s.chain = s.chain
      .then(async () => {
        const restored = await call(api.POST("/api/v1/study/undo"));
        s.history.pop();
        s.rated.delete(restored.id);
        const shown = viewRef.current.card;
        if (shown) s.queue.unshift(shown);
        if (restored.state === "new") s.newLeft += 1;
        if (restored.state === "review") s.reviewLeft += 1;
        s.shownAt = performance.now();
        setView((v) => ({ ...v, card: restored, revealed: false, canUndo: s.history.length > 0 }));
      })
      .catch((error: unknown) => setProblem(problemOf(error)))
      .finally(() => {
        s.pending -= 1;
      })
      .then(() => reconcile(s))
      .catch(() => undefined);
  };

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target as HTMLElement | null;
      if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
      if (document.querySelector("dialog[open]")) return;
      const v = viewRef.current;
      // Space and Enter on a focused link or button keep their own meaning.
      const onControl = target !== null && ["A", "BUTTON"].includes(target.tagName);
      if ((event.key === " " || event.key === "Enter") && !onControl && v.card && !v.revealed) {
        event.preventDefault();
        setView({ ...v, revealed: true });
      } else if (v.revealed && ["1", "2", "3", "4"].includes(event.key)) {
        event.preventDefault();
        const choice = RATINGS[Number(event.key) - 1];
        if (choice) rate(choice[0]);
      } else if (event.key === "u" || event.key === "U") {
        event.preventDefault();
        undo();
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
    // Again per chat: `rate` and `undo` ask for that chat's next card.
  }, [chatId]);

  const { card, revealed, counts } = view;
  return (
    <section class="study">
      <h1>Study{chatId ? " this chat" : ""}</h1>
      {counts && (
        <p class="counts" aria-label="Left today">
          <span class="new">{counts.new} new</span> · <span class="learning">{counts.learning} learning</span> ·{" "}
          <span class="review">{counts.review} to review</span>
        </p>
      )}
      <ProblemNote problem={problem} onClose={() => setProblem(undefined)} />
      {view.loading ? (
        <Spinner />
      ) : card ? (
        <article class="flashcard" aria-live="polite" data-card={card.id}>
          <div class="md front" dangerouslySetInnerHTML={{ __html: renderMarkdown(card.front) }} />
          {revealed ? (
            <>
              <hr />
              <div class="md back" dangerouslySetInnerHTML={{ __html: renderMarkdown(card.back) }} />
              <div class="ratings" role="group" aria-label="How well did you remember?">
                {RATINGS.map(([rating, label, key]) => (
                  <button key={rating} type="button" class={`rate ${rating}`} onClick={() => rate(rating)} aria-keyshortcuts={key}>
                    <span>{label}</span>
                    <small>{formatInterval(card.next_intervals[rating])}</small>
                    <kbd>{key}</kbd>
                  </button>
                ))}
              </div>
              {card.source && (
                <button type="button" class="link" onClick={() => setSource(true)}>
                  Where is this from?
                </button>
              )}
            </>
          ) : (
            <button type="button" class="reveal" onClick={() => setView({ ...view, revealed: true })} aria-keyshortcuts="Space">
              Show answer <kbd>space</kbd>
            </button>
          )}
          {card.source && (
            <Dialog title="Where this card comes from" open={source} onClose={() => setSource(false)}>
              <SourceView chatId={card.chat_id} source={card.source} status={card.source_status ?? undefined} />
            </Dialog>
          )}
        </article>
      ) : (
        <div class="finished" role="status">
          <h2>All done for now</h2>
          <p>
            {view.nextDue ? `The next card is due ${new Date(view.nextDue).toLocaleString()}.` : "No cards are waiting."} See your <a href="/stats">stats</a>,
            or add material and cards in your <a href="/chats">chats</a>.
          </p>
        </div>
      )}
      <p class="muted keys">
        Keys: <kbd>space</kbd> show answer · <kbd>1</kbd>–<kbd>4</kbd> rate · <kbd>u</kbd> undo
        {view.canUndo && (
          <>
            {" "}
            ·{" "}
            <button type="button" class="link" onClick={undo}>
              Undo last rating
            </button>
          </>
        )}
      </p>
    </section>
  );
}
