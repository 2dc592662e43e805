#include "store/postgres/pg_track_writes.h"
#include "store/track_committer.h"

#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "common/json_text.h"
#include "common/random.h"
#include "store/postgres/pg_training_records.h"

namespace embedrec::store {

namespace {


Status WriteGroup(const PgTenantSpace& t, PgConn& c, const Clock* clock, const std::vector<TrackBatch*>& batches) {
  const int64_t now = clock->NowMillis();
  const std::string now_text = std::to_string(now);
  std::vector<std::pair<const TrackEvent*, TrackResult*>> all;
  for (TrackBatch* b : batches) {
    b->results.assign(b->events.size(), TrackResult{});
    for (size_t i = 0; i < b->events.size(); ++i) {
      b->results[i].processed_at_ms = now;
      all.emplace_back(&b->events[i], &b->results[i]);
    }
  }

  // 1. One round trip (BEGIN goes with it): the tenant's write lock, the
  // idempotency keys seen before, the items named, the users known and the
  // highest user number (new users take the next ones: the lock holds them).
  std::vector<PgParam> keys, item_ids, user_ids;
  {
    std::set<std::string> distinct_users;
    for (auto& [ev, r] : all) {
      if (!ev->idempotency_key.empty()) keys.emplace_back(ev->idempotency_key);
      if (!ev->item_id.empty()) item_ids.emplace_back(ev->item_id);
      if (distinct_users.insert(ev->user_id).second) user_ids.emplace_back(ev->user_id);
    }
  }
  // The lock waits at most kTrackLockWaitMs (an upload's write holds it for
  // its whole transaction): then the group fails as busy, as SQLite's does.
  // Three statements (each costs the server a start and an end): the lock,
  // waited for a bounded time; the keys and items (tagged); the users and
  // the highest number (its row's id null).
  std::vector<PgStatement> reads = {
      t.LockWritesStatement(TenantStore::kTrackLockWaitMs),
      {t.Sql("SELECT 'k', key, interaction_id FROM {s}.idempotency_keys WHERE key = ANY($1::text[]) "
             "UNION ALL SELECT 'i', item_id, item_idx::text FROM {s}.items "
             "WHERE item_id = ANY($2::text[]) AND deleted=0"),
       {PgArray(keys), PgArray(item_ids)}},
      {t.Sql("SELECT user_id, user_idx FROM {s}.users WHERE user_id = ANY($1::text[]) "
             "UNION ALL SELECT NULL, COALESCE(MAX(user_idx), 0) FROM {s}.users"),
       {PgArray(user_ids)}}};
  ASSIGN_OR_RETURN(auto read, c.Pipeline(reads));
  std::unordered_map<std::string, std::string> replay;  // idempotency key → the stored interaction
  std::unordered_map<std::string, int64_t> items;
  for (int i = 0; i < read[1].size(); ++i) {
    if (read[1].Text(i, 0) == "k") replay[read[1].Text(i, 1)] = read[1].Text(i, 2);
    else items[read[1].Text(i, 1)] = read[1].Int(i, 2);
  }
  std::unordered_map<std::string, int64_t> known_users;
  int64_t last_user = 0;
  for (int i = 0; i < read[2].size(); ++i) {
    if (read[2].IsNull(i, 0)) last_user = read[2].Int(i, 1);
    else known_users[read[2].Text(i, 0)] = read[2].Int(i, 1);
  }
  // Events in order: replayed, rejected, or written (their user wanted).
  std::vector<std::pair<const TrackEvent*, TrackResult*>> writes;
  std::map<std::string, int64_t> users;  // user_id → user_idx (-1: to be made)
  std::unordered_map<std::string, TrackResult*> keyed;  // idempotency key → the first event's result
  for (auto& [ev, r] : all) {
    if (!ev->idempotency_key.empty()) {
      if (auto k = replay.find(ev->idempotency_key); k != replay.end()) {
        r->interaction_id = k->second;
        r->replayed = true;
        continue;
      }
      if (auto k = keyed.find(ev->idempotency_key); k != keyed.end()) {
        r->replayed = true;  // its id is the first one's, known once written
        continue;
      }
    }
    if (!ev->item_id.empty() && !items.count(ev->item_id)) {
      if (!ev->create_missing_item) {
        r->status = Status::NotFound("item '" + ev->item_id +
                                     "' is not in the catalog; upload it first or enable settings.auto_create_items")
                        .WithReason("unknown_item");
        continue;
      }
      ASSIGN_OR_RETURN(auto made, c.Exec(t.Sql("INSERT INTO {s}.items (item_idx, item_id, created_at_ms, "
                                               "updated_at_ms) VALUES ((SELECT COALESCE(MAX(item_idx), 0) + 1 FROM "
                                               "{s}.items), $1, $2, $2) ON CONFLICT (item_id) DO UPDATE SET deleted=0, "
                                               "updated_at_ms=excluded.updated_at_ms RETURNING item_idx"),
                                         {ev->item_id, now_text}));
      items[ev->item_id] = made.Int(0, 0);
      // The catalog changed: serving reads it again (CatalogChangedSince).
      RETURN_IF_ERROR(
          t.AppendEvent(c, TenantStore::kItemCatalogUpdated, "{\"created_item_id\":" + JsonQuote(ev->item_id) + "}", now));
    }
    if (!ev->idempotency_key.empty()) keyed[ev->idempotency_key] = r;
    users.emplace(ev->user_id, -1);
    writes.emplace_back(ev, r);
  }
  // 3. Users: the known ones read (above), the others numbered after the
  // highest, in event order (earlier events' users get lower numbers).
  std::vector<PgParam> fresh_ids, fresh_idx;
  for (auto& [id, idx] : users) {
    if (auto k = known_users.find(id); k != known_users.end()) idx = k->second;
  }
  for (const auto& [ev, r] : writes) {
    if (int64_t& idx = users[ev->user_id]; idx == -1) {
      idx = ++last_user;
      fresh_ids.emplace_back(ev->user_id);
      fresh_idx.emplace_back(std::to_string(idx));
    }
  }
  if (writes.empty()) return Status::Ok();
  // 4. Everything else in one round trip with the COMMIT: the new users, the
  // rows (a pair's repeat of a stored row is not written), an event and a
  // notice for each row written, the idempotency keys kept. A repeat within
  // the group (the same user, item, type and time) is not sent: it answers
  // as the duplicate of its first.
  std::vector<PgParam> col[16];
  std::vector<PgParam> dup_keys, dup_of;  // keys of in-group repeats, and the ordinal of their first
  std::map<std::tuple<int64_t, int64_t, std::string_view, int64_t>, size_t> first_of;  // pair and time → ordinal
  std::vector<std::pair<TrackResult*, size_t>> repeats;  // an in-group repeat's result, its first's ordinal
  std::vector<TrackResult*> sent;  // the results of the events sent, by ordinal − 1
  auto num = [](const std::optional<double>& v) { return v ? PgParam(PgDouble(*v)) : PgParam(); };
  auto text = [](const std::string& v) { return v.empty() ? PgParam() : PgParam(v); };
  for (auto& [ev, r] : writes) {
    const int64_t user = users[ev->user_id], item = ev->item_id.empty() ? -1 : items[ev->item_id];
    auto [at, first] = first_of.try_emplace({user, item, ev->type, ev->ts_ms}, sent.size() + 1);
    if (!first) {
      r->duplicate = true;
      repeats.emplace_back(r, at->second);
      if (!ev->idempotency_key.empty()) {
        dup_keys.emplace_back(ev->idempotency_key);
        dup_of.emplace_back(std::to_string(at->second));
      }
      continue;
    }
    sent.push_back(r);
    r->interaction_id = NewId("int");
    col[0].emplace_back(std::to_string(user));
    col[1].emplace_back(std::to_string(item));
    col[2].emplace_back(ev->type);
    col[3].emplace_back(std::to_string(ev->ts_ms));
    col[4].push_back(num(ev->rating));
    col[5].push_back(std::nullopt);  // duration_seconds: not tracked
    col[6].push_back(num(ev->value));
    col[7].push_back(num(ev->quantity));
    col[8].push_back(text(ev->context_json));
    col[9].push_back(text(ev->metadata_json));
    col[10].push_back(text(ev->recommendation_id));
    col[11].push_back(std::nullopt);
    col[12].emplace_back(r->interaction_id);
    col[13].emplace_back(TrackedEventPayload(r->interaction_id, *ev, user, item, t.node));
    // Other nodes' real-time state follows (an event too large for NOTIFY
    // reaches them when they read the user's history again), unless they
    // read the events from Kafka.
    std::string notice;
    if (t.notify_tracked) {
      std::string event = "{\"user_id\":";
      AppendJsonString(ev->user_id, &event);
      event += ",\"item_id\":";
      AppendJsonString(ev->item_id, &event);
      event += ",\"type\":";
      AppendJsonString(ev->type, &event);
      event += ",\"ts_ms\":" + std::to_string(ev->ts_ms) + ",\"context\":";
      AppendJsonString(ev->context_json, &event);
      event += "}";
      notice = ChangeMessage(t.node, {t.tenant_id, RemoteChange::kTracked, std::move(event)});
      if (notice.size() >= 7900) notice.clear();
    }
    col[14].emplace_back(std::move(notice));
    col[15].emplace_back(ev->idempotency_key);
  }
  std::vector<PgParam> params;
  for (auto& v : col) params.emplace_back(PgArray(v));
  params.emplace_back(now_text);                      // $17
  params.emplace_back(std::string(kChangesChannel));  // $18
  params.emplace_back(PgArray(dup_keys));             // $19
  params.emplace_back(PgArray(dup_of));               // $20
  std::vector<PgStatement> group;
  if (!fresh_ids.empty()) {
    group.push_back({t.Sql("INSERT INTO {s}.users (user_idx, user_id, created_at_ms) "
                           "SELECT * FROM unnest($1::bigint[], $2::text[]), (SELECT $3::bigint) AS now"),
                     {PgArray(fresh_idx), PgArray(fresh_ids), now_text}});
  }
  // `a`: each event sent and whether its row was written; `b`: the id it
  // answers with (a duplicate's: the stored row's, read from the snapshot
  // before this statement, which holds it, since repeats within the group
  // are not sent). Events, keys and notices follow `b`; the notices in
  // event order (the ordered subquery, fenced by OFFSET 0).
  group.push_back({t.Sql(
      "WITH x AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::float8[], "
      "$6::float8[], $7::float8[], $8::float8[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::text[], "
      "$14::text[], $15::text[], $16::text[]) WITH ORDINALITY AS x(user_idx, item_idx, type, ts_ms, rating, "
      "duration_seconds, value, quantity, context, metadata, recommendation_id, upload_seq, interaction_id, payload, "
      "notice, key, ord)), "
      "ins AS (INSERT INTO {s}.interactions (user_idx, item_idx, type, ts_ms, rating, duration_seconds, value, "
      "quantity, context, metadata, recommendation_id, upload_seq, interaction_id) SELECT user_idx, item_idx, type, "
      "ts_ms, rating, duration_seconds, value, quantity, context, metadata, recommendation_id, upload_seq, "
      "interaction_id FROM x ORDER BY ord ON CONFLICT DO NOTHING RETURNING interaction_id), "
      "a AS MATERIALIZED (SELECT x.ord, x.key, x.notice, x.payload, x.interaction_id IN (SELECT interaction_id FROM "
      "ins) AS written, x.user_idx, x.item_idx, x.type, x.ts_ms, x.interaction_id FROM x), "
      "b AS MATERIALIZED (SELECT ord, key, notice, payload, written, CASE WHEN written THEN interaction_id ELSE "
      "(SELECT COALESCE(s.interaction_id, '') FROM {s}.interactions s WHERE s.user_idx = a.user_idx AND "
      "s.item_idx = a.item_idx AND s.type = a.type AND s.ts_ms = a.ts_ms) END AS id FROM a), "
      "ev AS (INSERT INTO {s}.events (topic, payload, created_at_ms) SELECT 'user-interactions', payload, $17 FROM b "
      "WHERE written ORDER BY ord), "
      "k AS (INSERT INTO {s}.idempotency_keys (key, interaction_id, created_at_ms) SELECT key, id, $17 FROM "
      "(SELECT key, id FROM b WHERE key <> '' UNION ALL SELECT d.key, b.id FROM unnest($19::text[], "
      "$20::bigint[]) AS d(key, ord) JOIN b ON b.ord = d.ord) kk WHERE id <> '' ON CONFLICT DO NOTHING) "
      "SELECT ord, written, id, CASE WHEN written AND notice <> '' THEN pg_notify($18, notice) END "
      "FROM (SELECT * FROM b ORDER BY ord OFFSET 0) o"),
                   params});
  ASSIGN_OR_RETURN(auto stored, c.Pipeline(group, /*commit=*/true));
  const PgRows& answers = stored.back();
  if (answers.size() != static_cast<int>(sent.size())) {
    return Status::Internal("tracking: " + std::to_string(answers.size()) + " answers for " +
                            std::to_string(sent.size()) + " events");
  }
  for (int i = 0; i < answers.size(); ++i) {
    TrackResult* r = sent[static_cast<size_t>(answers.Int(i, 0)) - 1];
    if (answers.Text(i, 1) == "t") continue;  // written, with the id it was sent with
    r->duplicate = true;
    r->interaction_id = answers.IsNull(i, 2) ? std::string() : answers.Text(i, 2);
  }
  for (auto& [r, first] : repeats) r->interaction_id = sent[first - 1]->interaction_id;
  for (auto& [ev, r] : all) {  // the answers of events that repeated a key of this group
    if (r->replayed && r->interaction_id.empty()) r->interaction_id = keyed[ev->idempotency_key]->interaction_id;
  }
  return Status::Ok();
}

}  // namespace

WriteTrackBatches PgTrackWrites(PgTenantSpace t, const Clock* clock) {
  return [t = std::move(t), clock](const std::vector<TrackBatch*>& batches) {
    return t.db->Transaction([&](PgConn& c) { return WriteGroup(t, c, clock, batches); });
  };
}

}  // namespace embedrec::store
