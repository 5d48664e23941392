// Stats: what is due (the forecast), reviews per day, retention — drawn as plain bar charts.
import { api, call, type Schemas } from "../api";
import { formatInterval, ProblemNote, Spinner, useLoad, useTitle } from "../ui";

function Bars({ label, rows }: { label: string; rows: { key: string; label: string; value: number; title: string }[] }) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  return (
    <figure class="bars">
      <figcaption>{label}</figcaption>
      <div class="columns" aria-hidden="true">
        {rows.map((r) => (
          <span key={r.key} class="column" title={`${r.label}: ${r.title}`}>
            <span class="fill" style={{ height: `${(100 * r.value) / max}%` }} />
          </span>
        ))}
      </div>
      <div class="axis" aria-hidden="true">
        <span>{rows[0]?.label}</span>
        <span>{rows.at(-1)?.label}</span>
      </div>
      <table class="sr-only">
        <caption>{label}</caption>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key}>
              <th scope="row">{r.label}</th>
              <td>{r.title}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

const day = (iso: string) => new Date(`${iso}T12:00:00`).toLocaleDateString(undefined, { weekday: "short", month: "short", day: "numeric" });
const percent = (x: number | null | undefined) => (x === null || x === undefined ? "–" : `${(x * 100).toFixed(1)}%`);

export function StatsPage() {
  useTitle("Stats");
  const stats = useLoad(() => call(api.GET("/api/v1/study/stats")), []);
  const s: Schemas["StudyStatsBody"] | undefined = stats.data;
  return (
    <section>
      <h1>Stats</h1>
      <ProblemNote problem={stats.problem} />
      {!s ? (
        stats.problem ? null : <Spinner />
      ) : (
        <>
          <dl class="tiles">
            <div>
              <dt>Due now</dt>
              <dd>{s.due_now}</dd>
            </div>
            <div>
              <dt>Due today</dt>
              <dd>{s.due_today}</dd>
            </div>
            <div>
              <dt>Reviewed today</dt>
              <dd>{s.reviews_today}</dd>
            </div>
            <div>
              <dt>Time today</dt>
              <dd>{formatInterval(s.time_today_ms / 1000)}</dd>
            </div>
            <div>
              <dt>Cards</dt>
              <dd>
                {s.total_cards} <small>({s.new_cards} new)</small>
              </dd>
            </div>
            <div>
              <dt>True retention</dt>
              <dd>
                {percent(s.true_retention)} <small>aim {percent(s.desired_retention)}</small>
              </dd>
            </div>
          </dl>
          <div class="charts">
            <Bars
              label="Due in the days ahead"
              rows={s.forecast.map((f) => ({
                key: f.date,
                label: day(f.date),
                value: f.new + f.learning + f.review,
                title: `${f.review} review, ${f.learning} learning, ${f.new} new`,
              }))}
            />
            <Bars label="Reviews per day" rows={s.reviews_per_day.map((d) => ({ key: d.date, label: day(d.date), value: d.reviews, title: `${d.reviews} reviews` }))} />
            <figure class="bars">
              <figcaption>Retention by interval ({s.retention_reviews} reviews)</figcaption>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Interval</th>
                    <th scope="col">Reviews</th>
                    <th scope="col">Remembered</th>
                  </tr>
                </thead>
                <tbody>
                  {s.retention_by_interval.map((b) => (
                    <tr key={b.min_days}>
                      <th scope="row">{b.max_days === null || b.max_days === undefined ? `${b.min_days}+ d` : `${b.min_days}–${b.max_days} d`}</th>
                      <td class="num">{b.reviews}</td>
                      <td class="num">{percent(b.retention)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </figure>
          </div>
        </>
      )}
    </section>
  );
}
