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
  std::vector<PgStatement> reads = {t.LockWritesStatement(),
                                    {t.Sql("SELECT key, interaction_id FROM {s}.idempotency_keys "
                                           "WHERE key = ANY($1::text[])"),
                                     {PgArray(keys)}},
                                    {t.Sql("SELECT item_id, item_idx FROM {s}.items "
                                           "WHERE item_id = ANY($1::text[]) AND deleted=0"),
                                     {PgArray(item_ids)}},
                                    {t.Sql("SELECT user_id, user_idx FROM {s}.users WHERE user_id = ANY($1::text[])"),
                                     {PgArray(user_ids)}},
                                    {t.Sql("SELECT COALESCE(MAX(user_idx), 0) FROM {s}.users"), {}}};
  ASSIGN_OR_RETURN(auto read, c.Pipeline(reads));
  std::unordered_map<std::string, std::string> replay;  // idempotency key → the stored interaction
  for (int i = 0; i < read[1].size(); ++i) replay[read[1].Text(i, 0)] = read[1].Text(i, 1);
  std::unordered_map<std::string, int64_t> items;
  for (int i = 0; i < read[2].size(); ++i) items[read[2].Text(i, 0)] = read[2].Int(i, 1);
  std::unordered_map<std::string, int64_t> known_users;
  for (int i = 0; i < read[3].size(); ++i) known_users[read[3].Text(i, 0)] = read[3].Int(i, 1);
  int64_t last_user = read[4].Int(0, 0);
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
  // 4. The new users and the rows, in one round trip; rows stored before (or
  // earlier in the group) are not returned.
  std::vector<PgParam> col[13];
  auto num = [](const std::optional<double>& v) { return v ? PgParam(PgDouble(*v)) : PgParam(); };
  auto text = [](const std::string& v) { return v.empty() ? PgParam() : PgParam(v); };
  for (auto& [ev, r] : writes) {
    r->interaction_id = NewId("int");
    const int64_t item = ev->item_id.empty() ? -1 : items[ev->item_id];
    col[0].emplace_back(std::to_string(users[ev->user_id]));
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
  }
  std::vector<PgParam> arrays;
  for (auto& v : col) arrays.emplace_back(PgArray(v));
  std::vector<PgStatement> rows;
  if (!fresh_ids.empty()) {
    rows.push_back({t.Sql("INSERT INTO {s}.users (user_idx, user_id, created_at_ms) "
                          "SELECT * FROM unnest($1::bigint[], $2::text[]), (SELECT $3::bigint) AS now"),
                    {PgArray(fresh_idx), PgArray(fresh_ids), now_text}});
  }
  rows.push_back({t.Sql("INSERT INTO {s}.interactions (user_idx, item_idx, type, ts_ms, rating, "
                        "duration_seconds, value, quantity, context, metadata, recommendation_id, "
                        "upload_seq, interaction_id) SELECT * FROM unnest($1::bigint[], "
                        "$2::bigint[], $3::text[], $4::bigint[], $5::float8[], $6::float8[], "
                        "$7::float8[], $8::float8[], $9::text[], $10::text[], $11::text[], "
                        "$12::bigint[], $13::text[]) ON CONFLICT DO NOTHING RETURNING interaction_id"),
                  arrays});
  ASSIGN_OR_RETURN(auto stored, c.Pipeline(rows));
  const PgRows& inserted = stored.back();
  std::unordered_map<std::string, bool> written;
  for (int i = 0; i < inserted.size(); ++i) written[inserted.Text(i, 0)] = true;
  // 5. Duplicates answer with the stored row's id; the others get an event each.
  std::vector<PgParam> payloads, notices;
  for (auto& [ev, r] : writes) {
    const int64_t user = users[ev->user_id], item = ev->item_id.empty() ? -1 : items[ev->item_id];
    if (!written.count(r->interaction_id)) {
      ASSIGN_OR_RETURN(auto q, c.Exec(t.Sql("SELECT COALESCE(interaction_id, '') FROM {s}.interactions WHERE "
                                            "user_idx=$1 AND item_idx=$2 AND type=$3 AND ts_ms=$4"),
                                      {std::to_string(user), std::to_string(item), ev->type, std::to_string(ev->ts_ms)}));
      r->interaction_id = q.size() > 0 ? q.Text(0, 0) : std::string();
      r->duplicate = true;
      continue;
    }
    std::string payload = TrackedEventPayload(r->interaction_id, *ev, user, item, t.node);
    payloads.emplace_back(std::move(payload));
    // Other nodes' real-time state follows (an event too large for NOTIFY
    // reaches them when they read the user's history again), unless they
    // read the events from Kafka.
    if (!t.notify_tracked) continue;
    std::string event = "{\"user_id\":";
    AppendJsonString(ev->user_id, &event);
    event += ",\"item_id\":";
    AppendJsonString(ev->item_id, &event);
    event += ",\"type\":";
    AppendJsonString(ev->type, &event);
    event += ",\"ts_ms\":" + std::to_string(ev->ts_ms) + ",\"context\":";
    AppendJsonString(ev->context_json, &event);
    event += "}";
    std::string notice = ChangeMessage(t.node, {t.tenant_id, RemoteChange::kTracked, std::move(event)});
    if (notice.size() < 7900) notices.emplace_back(std::move(notice));
  }
  // 6. The events, the other nodes told, the idempotency keys kept, and
  // COMMIT: one round trip.
  std::vector<PgStatement> writes_after;
  if (!payloads.empty()) {
    writes_after.push_back({t.Sql("INSERT INTO {s}.events (topic, payload, created_at_ms) SELECT 'user-interactions', "
                                  "p, $2 FROM unnest($1::text[]) WITH ORDINALITY AS e(p, ord) ORDER BY ord"),
                            {PgArray(payloads), now_text}});
  }
  if (!notices.empty()) {
    writes_after.push_back({"SELECT pg_notify($1, m) FROM unnest($2::text[]) AS m", {kChangesChannel, PgArray(notices)}});
  }
  std::vector<PgParam> new_keys, ids;
  for (auto& [key, r] : keyed) {
    new_keys.emplace_back(key);
    ids.emplace_back(r->interaction_id);
  }
  for (auto& [ev, r] : all) {  // the answers of events that repeated a key of this group
    if (r->replayed && r->interaction_id.empty()) r->interaction_id = keyed[ev->idempotency_key]->interaction_id;
  }
  if (!new_keys.empty()) {
    writes_after.push_back({t.Sql("INSERT INTO {s}.idempotency_keys (key, interaction_id, created_at_ms) "
                                  "SELECT k, i, $3 FROM unnest($1::text[], $2::text[]) AS x(k, i) ON CONFLICT DO NOTHING"),
                            {PgArray(new_keys), PgArray(ids), now_text}});
  }
  return c.Pipeline(writes_after, /*commit=*/true).status();
}

}  // namespace

WriteTrackBatches PgTrackWrites(PgTenantSpace t, const Clock* clock) {
  return [t = std::move(t), clock](const std::vector<TrackBatch*>& batches) {
    return t.db->Transaction([&](PgConn& c) { return WriteGroup(t, c, clock, batches); });
  };
}

}  // namespace embedrec::store
