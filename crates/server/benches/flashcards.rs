//! Flashcards benchmark (`make bench-flashcards`): one user with 100k cards in one chat on
//! Postgres; the list's first page against a page 90 % deep (keyset pagination: the goal is
//! deep ≤ 1.2× first), and the due queue — p50/p99 through HTTP — with the query plans.
//! Needs Postgres at FLASHFORGE_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1/postgres).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod deck;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::{ms, percentile, start_server};
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::pagination::Cursor;
use flashforge_sql::SqlFlashcardRepository;
use flashforge_sql::sea_orm::{ConnectionTrait, Statement};
use flashforge_tests::client::Api;
use flashforge_tests::database::TestDatabase;

const CARDS: usize = 100_000;

async fn timed(client: &reqwest::Client, url: &str, token: &str, runs: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let response = client.get(url).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        response.bytes().await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    times
}

async fn plan(db: &flashforge_sql::DatabaseConnection, sql: String) -> String {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!("EXPLAIN {sql}"),
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| format!("    {}", r.try_get_by_index::<String>(0).unwrap()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let database = TestDatabase::create_prefixed("ff_bench_cards").await;
    let url = database.url.clone();
    let address = start_server(&[("FLASHFORGE__DATABASE__URL", &url)]).await;
    let client = reqwest::Client::new();
    let api = Api::at(client.clone(), &address);
    let registered = api.register("student").await;
    let token = registered["access_token"].as_str().unwrap().to_string();
    let user = registered["user"]["id"].as_str().unwrap().to_string();
    let chat_id = api.chat(&token, "everything").await;

    // 100k cards, due over the next 100 days (1 % due now), straight into the repository.
    let db = flashforge_sql::connect(&url, &Default::default())
        .await
        .unwrap();
    let cards = SqlFlashcardRepository::new(db.clone());
    let owner = UserId::from_uuid(user.parse().unwrap());
    let chat = ChatId::from_uuid(chat_id.parse().unwrap());
    let now = Utc::now();
    let started = Instant::now();
    let deep_after = deck::seed(&cards, owner, chat, now, CARDS).await.as_uuid();
    let loaded = started.elapsed();
    db.execute_unprepared("ANALYZE flashcards").await.unwrap();

    // The list is newest first: the page 90 % deep starts after the card at that position.
    let cursor = Cursor::encode(&deep_after);
    let list = format!("{address}/api/v1/chats/{chat_id}/flashcards?limit=50");
    let deep = format!("{list}&cursor={}", cursor.as_str());
    let due = format!("{address}/api/v1/study/due?limit=50");
    timed(&client, &list, &token, 20).await;
    timed(&client, &deep, &token, 20).await;
    let first_page = timed(&client, &list, &token, 300).await;
    let deep_page = timed(&client, &deep, &token, 300).await;
    let due_queue = timed(&client, &due, &token, 300).await;

    println!(
        "Flashcards, {CARDS} cards of one user in one chat, Postgres, through HTTP (50 per page)"
    );
    println!("  loaded in {:.1} s", loaded.as_secs_f64());
    println!(
        "  list, first page:     p50 {}  p99 {}",
        ms(percentile(&first_page, 0.5)),
        ms(percentile(&first_page, 0.99))
    );
    println!(
        "  list, page 90% deep:  p50 {}  p99 {}",
        ms(percentile(&deep_page, 0.5)),
        ms(percentile(&deep_page, 0.99))
    );
    println!(
        "  deep / first (p50):   {:.2} (goal <= 1.2)",
        percentile(&deep_page, 0.5).as_secs_f64() / percentile(&first_page, 0.5).as_secs_f64()
    );
    println!(
        "  due queue:            p50 {}  p99 {}",
        ms(percentile(&due_queue, 0.5)),
        ms(percentile(&due_queue, 0.99))
    );
    let list_plan = plan(
        &db,
        format!(
            "SELECT * FROM flashcards WHERE chat_id = '{chat_id}' AND user_id = '{user}' AND id < '{deep_after}' ORDER BY id DESC LIMIT 51"
        ),
    )
    .await;
    let due_plan = plan(
        &db,
        format!(
            "SELECT * FROM flashcards WHERE user_id = '{user}' AND suspended = false AND due <= now() ORDER BY due, id LIMIT 50"
        ),
    )
    .await;
    println!("  plan, deep page:\n{list_plan}");
    println!("  plan, due queue:\n{due_plan}");
    let _ = db.close().await;
    drop(database);
}
