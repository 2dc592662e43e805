#include "serving/recommender.h"

#include "ml/similar_items.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string_view>
#include <unordered_set>

#include "ann/shortlist.h"
#include "ml/dataset.h"
#include "ml/recency.h"
#include "serving/merchandising.h"

namespace embedrec::serving {

namespace {

// How the newest events steer the query: ml/recency.h (one rule with the training job's check).
using ml::Steering;
constexpr size_t kSessionItems = 5;    // the newest distinct items whose neighbours are blended in
constexpr size_t kNeighboursPerItem = 50;
// Neighbours searched per session item: the ones taken, and room for those
// the request's filter refuses (a search costs more the more it returns).
constexpr int kSessionNeighbourSearch = 2 * kNeighboursPerItem;
constexpr double kSessionShare = 0.7;  // the neighbours' share of the score for a visitor
// ... for an item-to-item model, whose fold-in of the session is already its
// exact item-to-item score: more of the neighbours' cosine only dilutes it.
// Measured (visitor hit@20: held-out users' newest 5 events replayed as a
// new visitor; docs/benchmarks.md, "A visitor's session category"), EASE at
// 0.7 → 0.1: electronics 0.262 → 0.267, generated shop 0.205 → 0.236,
// MovieLens 0.0925 → 0.0925; item_knn 0.248 → 0.281 and 0.200 → 0.238;
// steering 0.96-1.00 before and after.
constexpr double kItemToItemSessionShare = 0.1;
// Items of the session's categories weigh up to this much more (a visitor
// who viewed five cameras is shopping for a camera now); for a visitor the
// model does not know, whose session is all there is to go by, up to
// kVisitorCategoryBoost more. Measured on visitors made of held-out users'
// last five events (docs/benchmarks.md, "A visitor's session category"):
// the same hit rate within noise on three data sets, steering on MovieLens
// 0.47 → 0.67 for the seed's LightGCN; a known user's stays at 1 (its
// history says more than the session, and its reranker weighs the
// session's category where that predicts).
constexpr double kSessionCategoryBoost = 1.0;
constexpr double kVisitorCategoryBoost = 3.0;
constexpr int kNeighbours = 20;     // nearest customers consulted for a reason
constexpr int kNeighbourHits = 2;   // of them who chose the item: "customers like you"

// Scores and reasons use the search's own inner product (ann::Dot: vectorised,
// the same sums as its exact pass); one in double precision, a dependent
// scalar add per coordinate, was most of the session blend's own time.
using ann::Dot;

}  // namespace

// A model's item rows and a catalog snapshot's positions, both ways.
struct RowMap {
  std::vector<int32_t> to_catalog;  // model item row → catalog position (−1: not in the catalog any more)
  std::vector<int32_t> to_model;    // catalog position → model item row (−1: new to the model)
  int32_t operator[](int64_t row) const { return to_catalog[static_cast<size_t>(row)]; }
};

namespace {

RowMap MapRows(const ServingModel& m, const CatalogSnapshot& c) {
  RowMap out;
  out.to_catalog.assign(m.item_ids.size(), -1);
  out.to_model.assign(c.items.size(), -1);
  for (size_t i = 0; i < m.item_ids.size(); ++i) {
    auto it = c.index.find(m.item_ids[i]);
    if (it != c.index.end()) {
      out.to_catalog[i] = static_cast<int32_t>(it->second);
      out.to_model[it->second] = static_cast<int32_t>(i);
    }
  }
  return out;
}

// A filter that admits a category or a few is cheaper answered by scoring
// their rows than by a masked exact scan of every row, which walks past the
// rows of other categories (and tests each once the best are refused): up
// to this share of the model's items.
constexpr size_t kScoreAmongShare = 4;  // 1/4

// The model rows of the catalog's `categories` (in no order: TopKAmong
// orders); nullopt (search then) when the index is approximate (it scans a
// share of the rows whatever the filter) or they hold more than
// 1/kScoreAmongShare of the model's items.
std::optional<std::vector<int64_t>> CategoryRows(const ServingModel& model, const CatalogSnapshot& catalog,
                                                 const RowMap& rows, const std::set<std::string>& categories) {
  if (model.index->kind() != "exact_ip") return std::nullopt;
  size_t n = 0;
  std::vector<const std::vector<uint32_t>*> lists;
  for (const auto& c : categories) {
    if (auto it = catalog.by_category.find(c); it != catalog.by_category.end()) {
      lists.push_back(&it->second);
      n += it->second.size();
    }
  }
  if (n * kScoreAmongShare > model.item_ids.size()) return std::nullopt;
  std::vector<int64_t> out;
  out.reserve(n);
  for (const auto* list : lists) {
    for (uint32_t pos : *list) {
      if (const int32_t row = rows.to_model[pos]; row >= 0) out.push_back(row);
    }
  }
  return out;
}

// The k of `candidates` (model item rows) passing `filter` with the largest
// inner product with q, best first (ties: lower row first), scored as the
// index's exact scan re-scores (float32): what a masked search returns,
// without walking the rows that cannot pass.
ServingModel::Candidates TopKAmong(const ServingModel& model, const float* q, const std::vector<int64_t>& candidates,
                                   size_t k, const ann::ItemIndex::Filter& filter) {
  const int d = model.model->dim();
  const float* items = model.model->item_embeddings().data();
  // Every row scored (their embeddings, read in turn), then the filter asked
  // in score order until k pass: it reads each candidate's catalog item, a
  // cache miss apiece, and most of a category's rows are never shown.
  ServingModel::Candidates all;
  all.reserve(candidates.size());
  for (int64_t row : candidates) all.emplace_back(row, Dot(q, items + row * d, d));
  auto better = [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; };
  ServingModel::Candidates out;
  out.reserve(std::min(k, all.size()));
  for (auto first = all.begin(); out.size() < k && first != all.end();) {
    // The next best, twice as many as are still wanted (16 at least), in order.
    const auto want = static_cast<std::ptrdiff_t>(std::max<size_t>(2 * (k - out.size()), 16));
    const auto last = all.end() - first > want ? first + want : all.end();
    if (last != all.end()) std::nth_element(first, last, all.end(), better);
    std::sort(first, last, better);
    for (; first != last && out.size() < k; ++first) {
      if (filter(first->first)) out.push_back(*first);
    }
    first = last;
  }
  return out;
}

std::string CategoryLabel(const CatalogItem& item) {
  return item.category.empty() ? std::string("the shop") : item.category;
}

// The first k entries of a kept list (the exact top `capacity` of the index,
// best first) that pass `filter`; nullopt when fewer pass and the list was
// cut at its capacity, so that items beyond it could rank (search instead).
std::optional<ServingModel::Candidates> WalkKept(const ServingModel::Candidates& kept, size_t capacity,
                                                 size_t k, const ann::ItemIndex::Filter& filter) {
  ServingModel::Candidates out;
  for (const auto& c : kept) {
    if (out.size() == k) break;
    if (filter(c.first)) out.push_back(c);
  }
  if (out.size() < k && kept.size() >= capacity) return std::nullopt;
  return out;
}

// A request's query: the user's trained vector steered by their newest
// events, or the fold-in alone for a user the model does not know; plus the
// current item's embedding.
struct Query {
  std::vector<float> q;       // empty: nothing to query with (a cold user)
  std::vector<float> folded;  // the fold-in part, when there is one
  std::optional<int64_t> user_row;
  ml::Model::ItemWeights recent;  // the fold-in's events: item row, weight (newest first)
  std::vector<bool> recent_unseen;  // per fold-in event: the model has not seen it
  // Per fold-in event, how strongly it steers: an unseen event without the
  // order decay (a new session steers more with every event of it; the
  // decay only says which of its items lead, and capped six views below
  // the trained vector's weight); a seen one as it is weighed.
  std::vector<double> recent_strength;
  bool any_unseen = false;
  const float* current = nullptr;  // the current item's embedding
  int d = 0;
};

Query QueryFor(const ServingModel& model, const UserProfile& profile, const std::string& user_id,
               const std::string& current_item) {
  Query out;
  const int d = out.d = model.model->dim();
  const auto& items = model.model->item_embeddings();
  if (auto it = model.user_rows.find(user_id); it != model.user_rows.end()) out.user_row = it->second;
  // Fold-in: events the model has not seen (all of them for a user it
  // does not know): tracked since the model was made, or pairs absent
  // from its training history, whatever their own timestamps say; and,
  // when its training job found that recency predicts in this data, the
  // newest events it has seen, at the model's recent-events share.
  // Newer events weigh more: by age in the events' own time and by their
  // order (a session steers at once).
  const int64_t newest = profile.recent.empty() ? 0 : profile.recent.back().ts_ms;
  const bool has_history = !model.history_offsets.empty();
  int newer = 0;
  for (auto e = profile.recent.rbegin(); e != profile.recent.rend(); ++e) {
    auto row = model.item_rows.find(e->item_id);
    if (row == model.item_rows.end() || e->weight <= 0) continue;
    const bool unseen = !out.user_row || e->tracked_ms > model.created_at_ms ||
                        (has_history ? !model.UserHad(*out.user_row, static_cast<int32_t>(row->second))
                                     : e->ts_ms > model.created_at_ms);
    if (!unseen && (model.recent_events_share <= 0 || out.recent.size() >= Steering::kSeenEvents)) continue;
    const double w = Steering::EventWeight(e->weight, newest - e->ts_ms, newer++) *
                     (unseen ? 1.0 : model.recent_events_share);
    out.recent.emplace_back(static_cast<int32_t>(row->second), static_cast<float>(w));
    out.recent_strength.push_back(unseen ? w / std::pow(Steering::kOrderDecay, newer - 1) : w);
    out.recent_unseen.push_back(unseen);
    out.any_unseen |= unseen;
  }
  double recent_weight = 0;
  for (const auto& [row, w] : out.recent) recent_weight += w;
  if (!out.recent.empty()) {
    auto f = model.model->FoldIn(out.recent);
    if (f.ok()) out.folded = std::move(*f);
  }
  if (out.user_row) {
    const float* u = model.model->user_embeddings().data() + *out.user_row * d;
    out.q.assign(u, u + d);
    if (!out.folded.empty()) Steering::Blend(out.q.data(), out.folded.data(), recent_weight, d);
  } else if (!out.folded.empty()) {
    out.q = out.folded;
  }
  if (!current_item.empty()) {
    if (auto it = model.item_rows.find(current_item); it != model.item_rows.end()) {
      out.current = items.data() + it->second * d;
      if (out.q.empty()) out.q.assign(out.current, out.current + d);
      else for (int j = 0; j < d; ++j) out.q[j] += out.current[j];
    }
  }
  return out;
}

// Why an item is shown: the strongest evidence that holds — the current
// item, the category of the user's recent purchases, the nearest
// customers' training histories, else the closest past item.
class Reasons {
 public:
  Reasons(const ServingModel& m, const CatalogSnapshot& c, const UserProfile& profile, const Query& query,
          const std::string& current_item, size_t session_items)
      : m_(m), c_(c), profile_(profile), query_(query), session_items_(session_items) {
    for (auto it = profile.recent.rbegin(); it != profile.recent.rend(); ++it) {
      if (it->type != "purchase") continue;
      if (const CatalogItem* item = c.Find(it->item_id); item && !item->category.empty()) {
        purchase_categories_.insert(item->category);
      }
      if (purchase_categories_.size() >= 5) break;
    }
    if (query.current) {
      const CatalogItem* item = c.Find(current_item);
      current_name_ = item && !item->name.empty() ? item->name : current_item;
    }
  }

  std::string For(const CatalogItem& item, int64_t row, float ip) {
    const int d = query_.d;
    const auto& items = m_.model->item_embeddings();
    const float* e = items.data() + row * d;
    const double from_current = query_.current ? Dot(query_.current, e, d) : 0;
    if (query_.current && (from_current >= ip - from_current || session_items_ == 1)) {
      return "Similar to " + current_name_;
    }
    if (!item.category.empty() && purchase_categories_.count(item.category)) {
      return "Based on your recent " + item.category + " purchases";
    }
    const auto& near = NearestCustomers();
    if (std::count_if(near.begin(), near.end(),
                      [&](int64_t u) { return m_.UserHad(u, static_cast<int32_t>(row)); }) >= kNeighbourHits) {
      return "Popular with customers like you";
    }
    // The past item (recent, or from the training history) this one is closest to.
    double best = -1e30;
    std::string best_id;
    auto consider = [&](const std::string& id, int64_t past_row) {
      const double s = Dot(items.data() + past_row * d, e, d);
      if (s > best) best = s, best_id = id;
    };
    for (const auto& ev : profile_.recent) {
      if (auto pr = m_.item_rows.find(ev.item_id); pr != m_.item_rows.end()) consider(ev.item_id, pr->second);
    }
    if (query_.user_row && !m_.history_offsets.empty()) {
      for (int64_t p = m_.history_offsets[*query_.user_row]; p < m_.history_offsets[*query_.user_row + 1]; ++p) {
        consider(m_.item_ids[m_.history_items[p]], m_.history_items[p]);
      }
    }
    if (best_id.empty()) return "Trending in " + CategoryLabel(item);
    const CatalogItem* past = c_.Find(best_id);
    return "Similar to " + (past && !past->name.empty() ? past->name : best_id);
  }

 private:
  // Searched only when an item's reason gets that far.
  const std::vector<int64_t>& NearestCustomers() {
    if (!searched_ && query_.user_row && !m_.history_offsets.empty()) {
      neighbours_ = m_.NearestUsers(*query_.user_row, kNeighbours);
    }
    searched_ = true;
    return neighbours_;
  }

  const ServingModel& m_;
  const CatalogSnapshot& c_;
  const UserProfile& profile_;
  const Query& query_;
  size_t session_items_;
  std::set<std::string> purchase_categories_;
  std::string current_name_;
  std::vector<int64_t> neighbours_;
  bool searched_ = false;
};

// A candidate of the model's, scored.
struct Scored {
  int64_t row;
  float ip;
  double score, context;  // context: the context lift (Activity::ContextFactor)
};

// `order` (positions in `scored`, best first) with its first
// Reranker::kCandidates reordered by the model's reranker (ml/reranker.h);
// the rest follow in their order.
std::vector<size_t> Reranked(const ServingModel& m, const CatalogSnapshot& c, const RowMap& rows,
                             const UserProfile& profile, const std::vector<Scored>& scored,
                             std::vector<size_t> order) {
  std::map<std::string_view, double> recent_categories;  // of the newest events, by count
  size_t n = 0;
  for (auto e = profile.recent.rbegin(); e != profile.recent.rend() && n < m.reranker->recent_events; ++e) {
    if (e->weight <= 0) continue;
    ++n;
    if (const CatalogItem* item = c.Find(e->item_id); item && !item->category.empty()) {
      recent_categories[item->category] += 1;
    }
  }
  const size_t top = std::min(order.size(), ml::Reranker::kCandidates);
  // The k-th candidate's score is the model's k-th best: the order given
  // (a session's blend, or the model's own) is the prior the reranker
  // adjusts, as in training, where order and scores agree.
  std::vector<float> ips;
  for (size_t k = 0; k < top; ++k) ips.push_back(scored[order[k]].ip);
  std::sort(ips.begin(), ips.end(), std::greater<>());
  std::vector<ml::Reranker::Candidate> candidates;
  candidates.reserve(top);
  for (size_t k = 0; k < top; ++k) {
    const Scored& s = scored[order[k]];
    const std::string& category = c.items[rows[s.row]].category;
    auto it = category.empty() ? recent_categories.end() : recent_categories.find(category);
    candidates.push_back({ips[k], it == recent_categories.end() ? 0.0 : it->second / static_cast<double>(n),
                          m.item_log_users[s.row], profile.interacted.count(c.items[rows[s.row]].item_id) > 0});
  }
  std::vector<size_t> out;
  out.reserve(order.size());
  for (size_t k : m.reranker->Order(candidates)) out.push_back(order[k]);
  out.insert(out.end(), order.begin() + top, order.end());
  return out;
}

}  // namespace

std::shared_ptr<const RowMap> Recommender::Rows(
    const std::string& tenant_id, const std::shared_ptr<const ServingModel>& m,
    const CatalogSnapshot& c) {
  {
    std::lock_guard lock(rows_mu_);
    auto it = rows_.find(tenant_id);
    if (it != rows_.end() && it->second.generation == c.generation &&
        it->second.model.lock() == m) {
      return it->second.rows;
    }
  }
  auto rows = std::make_shared<const RowMap>(MapRows(*m, c));
  std::lock_guard lock(rows_mu_);
  rows_[tenant_id] = {m, c.generation, rows};
  return rows;
}

std::vector<Recommendation> Recommender::TrendingFill(
    const std::string& tenant_id, const std::shared_ptr<const TrendingSnapshot>& t,
    const CatalogSnapshot& c, const std::function<bool(const CatalogItem&)>& allowed,
    const std::unordered_set<std::string>& skip, int count, double top_score,
    const std::set<std::string>& categories) {
  std::vector<Recommendation> out;
  auto take = [&](const CatalogItem& item, double s) {
    if (skip.count(item.item_id) || !allowed(item)) return;
    out.push_back({&item, s > 0 && t->total_score > 0 ? std::min(top_score, s / t->total_score) : 0.0,
                   (s > 0 ? "Trending in " : "New in ") + CategoryLabel(item)});
  };
  if (!categories.empty()) {
    category_trending_.ForEach(tenant_id, categories, t, c, [&](uint32_t pos, double s) {
      take(c.items[pos], s);
      return static_cast<int>(out.size()) < count;
    });
    return out;
  }
  t->ForEachRanked([&](const std::string& id, double s) {
    if (const CatalogItem* item = c.Find(id)) take(*item, s);
    return static_cast<int>(out.size()) < count;
  });
  for (const auto& item : c.items) {
    if (static_cast<int>(out.size()) >= count) break;
    if (!t->Contains(item.item_id)) take(item, 0);
  }
  return out;
}

bool Filters::Matches(const CatalogItem& item) const {
  if (!item.available) return false;
  if (in_stock_only && !item.in_stock) return false;
  if (!categories.empty() && !categories.count(item.category)) return false;
  if (!brand.empty() && item.brand != brand) return false;
  if (price_min && (!item.price || *item.price < *price_min)) return false;
  if (price_max && (!item.price || *item.price > *price_max)) return false;
  if (!tags_any.empty() &&
      std::none_of(item.tags.begin(), item.tags.end(), [&](const auto& t) { return tags_any.count(t); })) {
    return false;
  }
  if (exclude_item_ids.count(item.item_id)) return false;
  if (!include_item_ids.empty() && !include_item_ids.count(item.item_id)) return false;
  return true;
}

namespace {

// A request's session: the current item and the newest distinct items of
// the fold-in, weighted, and how much of the score their neighbourhood gets.
struct Session {
  std::vector<std::pair<int64_t, double>> items;  // item row, weight
  double share = 0;                                // of the score, in [0, kSessionShare]
  double strength = 0;                             // 1 for a visitor, weight / (weight + 5) for a known user
  std::map<std::string, double> categories;        // the items' categories by share of weight
  std::unordered_map<int64_t, double> near;        // item row → Σ w·cos / Σ w over the items
};

// For an item-to-item model the fold-in already ranks the neighbours of what
// the model has seen: only unseen events are blended (blending seen ones
// too cost EASE about half its hit rate on MovieLens: 0.1775 → 0.0875).
Session SessionOf(const ServingModel& model, const Query& query) {
  Session s;
  const auto& items = model.model->item_embeddings();
  // The item on screen is a view happening now, at full strength (the
  // newest recorded event's weight can be a fraction: a seen event's share).
  if (query.current) s.items.emplace_back((query.current - items.data()) / query.d, 1.0);
  const bool blend_seen = !model.item_to_item;
  // ... and it steers whatever the model's recent-events share (0 where
  // recency did not predict in validation, which left a known user's
  // current item without any effect).
  double weight = query.current ? 1.0 : 0.0;
  for (size_t ri = 0; ri < query.recent.size(); ++ri) {
    const auto& [row, w] = query.recent[ri];
    if (!blend_seen && !query.recent_unseen[ri]) continue;
    weight += query.recent_strength[ri];  // every event of the session weighs; the newest items are blended
    if (s.items.size() < kSessionItems &&
        std::none_of(s.items.begin(), s.items.end(), [&](const auto& x) { return x.first == row; })) {
      s.items.emplace_back(row, w);
    }
  }
  if (!s.items.empty()) {
    s.strength = query.user_row ? weight / (weight + Steering::kModelWeight) : 1.0;
    s.share = (blend_seen ? kSessionShare : kItemToItemSessionShare) * s.strength;
  }
  return s;
}

// With a session, the candidates become the session items' nearest
// neighbours (cosine) and the model's own `hits`, each with its
// neighbourhood score; for a new session (unseen events or a current item)
// also the model's best items of the session's main category (a known
// user's learned events are in the query already: one scan less).
void BlendSession(const ServingModel& model, const CatalogSnapshot& catalog, const RowMap& rows,
                  const Query& query, const ann::ItemIndex::Filter& filter, size_t k, Session& session,
                  ServingModel::Candidates& hits) {
  if (session.items.empty()) return;
  // Room for the neighbours and the candidates it usually holds (one rehash fewer or none).
  session.near.reserve(session.items.size() * kNeighboursPerItem + hits.size() + k);
  double total = 0;
  for (const auto& [srow, w] : session.items) total += w;
  for (const auto& [srow, w] : session.items) {
    if (rows[srow] >= 0) {
      const std::string& c = catalog.items[rows[srow]].category;
      if (!c.empty()) session.categories[c] += w / total;
    }
  }
  for (const auto& [c, share] : session.categories) {
    if (share < 0.5 || !(query.current || query.any_unseen)) continue;
    // A small category's rows scored; a large one searched, the category
    // tested first (a number in a small array, where the request's filter
    // reads each candidate's catalog item; most are in other categories).
    if (auto among = CategoryRows(model, catalog, rows, {c})) {
      for (const auto& h : TopKAmong(model, query.q.data(), *among, k, filter)) hits.push_back(h);
      continue;
    }
    const uint32_t number = catalog.CategoryNumber(c);
    ann::ItemIndex::Filter in_category = [&](int64_t i) {
      return rows[i] >= 0 && catalog.InCategory(static_cast<size_t>(rows[i]), c, number) && filter(i);
    };
    for (const auto& h : model.index->Search(query.q.data(), static_cast<int>(k), &in_category)) hits.push_back(h);
  }
  for (const auto& [srow, w] : session.items) {
    // The query's norm: the item row's, kept, unless an item-to-item model
    // queries with its fold-in (computed only then: this runs per session item).
    double sn = model.item_norms[srow];
    if (model.item_to_item) {
      const std::vector<float> sq = model.SimilarQuery(srow);
      sn = std::sqrt(std::max(0.0, static_cast<double>(Dot(sq.data(), sq.data(), static_cast<int>(sq.size())))));
    }
    size_t taken = 0;
    // Held while walked: the kept lists may drop this one meanwhile (another
    // request's over the bound), and a range-for over *temporary() would
    // walk freed memory (the soak crashed on it).
    const auto neighbours = model.SimilarCandidates(srow, kSessionNeighbourSearch);
    for (const auto& [row, ip] : *neighbours) {
      if (taken >= kNeighboursPerItem) break;
      if (row == srow || !filter(row)) continue;
      const double n = sn * model.item_norms[row];
      if (n > 0 && ip > 0) session.near[row] += w * ip / n;
      ++taken;
    }
  }
  for (auto& [row, v] : session.near) v /= total;
  for (const auto& [row, ip] : hits) session.near.try_emplace(row, 0.0);
  const auto& items = model.model->item_embeddings();
  hits.clear();
  for (const auto& [row, v] : session.near) hits.emplace_back(row, Dot(query.q.data(), items.data() + row * query.d, query.d));
  std::sort(hits.begin(), hits.end());  // a deterministic order for equal scores
}

// Every candidate's probability of being chosen: the model's, blended with
// the session's neighbourhood as (1 − share) · P(item) + share · P(best) ·
// its neighbourhood score relative to the best one's (both in [0, 1]),
// lifted for the session's categories; with its context lift. `plain_p`:
// the model's own probabilities.
std::vector<Scored> ScoreCandidates(const ServingModel& model, const CatalogSnapshot& catalog,
                                    const RowMap& rows, const Query& query, const Session& session,
                                    const ServingModel::Candidates& hits,
                                    const std::function<double(const std::string&)>& context_factor,
                                    std::vector<double>* plain_p) {
  const double q_norm = std::sqrt(std::max<double>(Dot(query.q.data(), query.q.data(), query.d), 0.0));
  auto near = [&](int64_t row) {
    auto it = session.near.find(row);
    return it == session.near.end() ? 0.0 : it->second;
  };
  double p_best = 0, near_best = 0;
  if (session.share > 0) {
    for (const auto& [row, ip] : hits) {
      p_best = std::max(p_best, model.calibration.Probability(ip, q_norm));
      near_best = std::max(near_best, near(row));
    }
  }
  std::vector<Scored> scored;
  scored.reserve(hits.size());
  for (const auto& [row, ip] : hits) {
    const CatalogItem* item = &catalog.items[rows[row]];
    double p = model.calibration.Probability(ip, q_norm);
    plain_p->push_back(p);
    if (session.share > 0 && near_best > 0) {
      p = (1 - session.share) * p + session.share * p_best * near(row) / near_best;
    }
    if (auto c = session.categories.find(item->category); c != session.categories.end()) {
      const double boost = query.user_row ? kSessionCategoryBoost : kVisitorCategoryBoost;
      p *= 1 + boost * c->second * session.strength;
    }
    scored.push_back({row, ip, p, context_factor(item->category)});
  }
  return scored;
}

// The model's ranking for a query: candidates (the user's kept list, or a
// filtered search), a session's neighbours blended in, calibrated scores,
// the reranker and the context lift, then reasons for the `r.count` kept.
// `rows`: model item row → catalog position (−1: not in the catalog).
std::vector<Recommendation> ModelRanked(const RecommendRequest& r, const ServingModel& model,
                                        const CatalogSnapshot& catalog, const UserProfile& profile,
                                        Query& query, const std::set<std::string>& excluded,
                                        const RowMap& rows,
                                        const std::function<double(const std::string& category)>& context_factor) {
  // Candidates: live, not excluded, matching the filters (evaluated lazily
  // by the search, on the items near the top only).
  std::vector<int64_t> excluded_rows;
  for (const auto& id : excluded) {
    if (auto it = model.item_rows.find(id); it != model.item_rows.end()) excluded_rows.push_back(it->second);
  }
  std::sort(excluded_rows.begin(), excluded_rows.end());
  ann::ItemIndex::Filter filter = [&](int64_t i) {
    return rows[i] >= 0 && !std::binary_search(excluded_rows.begin(), excluded_rows.end(), i) &&
           r.filters.Matches(catalog.items[rows[i]]);
  };
  // Room for the context re-ranking to promote items from below the cut;
  // the model's reranker (ml/reranker.h) reorders its best kCandidates.
  const bool rerank = model.reranker.has_value() && !query.current;
  const size_t shown = r.context.empty() ? r.count : r.count * 3;
  const size_t k = std::max<size_t>(shown, rerank ? ml::Reranker::kCandidates : 0);
  Session session = SessionOf(model, query);
  // A user the model knows, with nothing new since: the user's kept
  // candidates, filtered in order, when enough of them pass; otherwise
  // (new events, a current item, a narrow filter) a filtered search.
  std::optional<ServingModel::Candidates> kept;
  if (query.user_row && query.folded.empty() && !query.current) {
    kept = WalkKept(*model.UserCandidates(*query.user_row), ServingModel::kUserCandidates, k, filter);
  }
  const size_t want = session.items.empty() ? k : std::max(k, 2 * shown);
  std::optional<std::vector<int64_t>> among;  // a request for a category or a few: their rows scored
  if (!kept && !r.filters.categories.empty()) among = CategoryRows(model, catalog, rows, r.filters.categories);
  auto hits = kept    ? std::move(*kept)
              : among ? TopKAmong(model, query.q.data(), *among, want, filter)
                      : model.index->Search(query.q.data(), static_cast<int>(want), &filter);
  BlendSession(model, catalog, rows, query, filter, k, session, hits);

  // Scores first, over every candidate; reasons only for those kept. A
  // blended or reranked order keeps the model's calibrated probabilities:
  // its k-th item scores the model's k-th best (validation calibrates the
  // model's own ranking, not the blend).
  std::vector<double> plain_p;
  std::vector<Scored> scored = ScoreCandidates(model, catalog, rows, query, session, hits, context_factor, &plain_p);
  if (session.share > 0 || rerank) {
    std::vector<size_t> order(scored.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scored[a].score > scored[b].score; });
    if (rerank) order = Reranked(model, catalog, rows, profile, scored, std::move(order));
    std::sort(plain_p.begin(), plain_p.end(), std::greater<>());
    for (size_t i = 0; i < order.size(); ++i) scored[order[i]].score = plain_p[i];
  }
  for (auto& c : scored) c.score *= c.context;
  std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.score > b.score; });
  if (static_cast<int>(scored.size()) > r.count) scored.resize(r.count);
  Reasons reasons(model, catalog, profile, query, r.current_item, session.items.size());
  std::vector<Recommendation> ranked;
  for (const auto& [row, ip, score, context] : scored) {
    const CatalogItem* item = &catalog.items[rows[row]];
    ranked.push_back({item, std::min(1.0, score), reasons.For(*item, row, ip)});
  }
  return ranked;
}

}  // namespace

void Recommender::Forget(const std::string& tenant_id) {
  {
    std::lock_guard lock(rows_mu_);
    rows_.erase(tenant_id);
  }
  category_trending_.Drop(tenant_id);
}

void Recommender::ReadModelsAside(const std::string& tenant_id) {
  if (!background_ || models_->Resident(tenant_id) || models_->Reading(tenant_id)) return;
  background_(tenant_id, [models = models_, tenant_id] { (void)models->Get(tenant_id); });
}

StatusOr<ServingState> Recommender::State(const RecommendRequest& r) {
  Touch(r.tenant_id);
  ServingState s;
  ReadModelsAside(r.tenant_id);
  ASSIGN_OR_RETURN(s.store, tenants_->Open(r.tenant_id));
  ASSIGN_OR_RETURN(s.catalog, catalog_->Get(r.tenant_id, s.store));
  ASSIGN_OR_RETURN(s.profile, activity_->Profile(r.tenant_id, *s.store, r.user_id));
  if (r.model_version.empty()) {
    s.model = models_->For(r.tenant_id, r.user_id);
  } else {
    s.model = models_->Find(r.tenant_id, r.model_version);
    if (!s.model && !r.experiment_id.empty()) {
      s.model = models_->For(r.tenant_id, r.user_id);
    } else if (!s.model) {
      auto live = models_->Live(r.tenant_id);
      std::string names;
      for (const auto& l : live) names += (names.empty() ? "" : ", ") + l.model->version;
      return Status::Unprocessable("model_version '" + r.model_version + "' is not live" +
                                       (live.empty() ? " (the tenant has no deployed model)"
                                                     : " (live: " + names + ")"),
                                   {{"field", "model_version"}});
    }
  }
  return s;
}

bool Recommender::Warm(const std::string& tenant_id) {
  return tenants_->IsOpen(tenant_id) && models_->Resident(tenant_id) && catalog_->Peek(tenant_id) &&
         activity_->Warm(tenant_id);
}

StatusOr<RecommendResult> Recommender::Recommend(const RecommendRequest& r) {
  ASSIGN_OR_RETURN(ServingState s, State(r));
  return Recommend(r, s);
}

namespace {
// What the user must not be shown again (Resolved: "auto" by the shop's purchases).
std::set<std::string> Excluded(const RecommendRequest& r, const UserProfile& profile, bool has_purchases) {
  std::set<std::string> excluded;
  const Exclusion exclude = Resolved(r.exclude, has_purchases);
  if (exclude == Exclusion::kPurchased) excluded = profile.purchased;
  else if (exclude == Exclusion::kAllInteracted) excluded = profile.interacted;
  if (!r.current_item.empty()) excluded.insert(r.current_item);
  return excluded;
}
}  // namespace

StatusOr<RecommendResult> Recommender::Recommend(const RecommendRequest& r, const ServingState& state) {
  if (r.merchandising && !r.merchandising->empty()) {
    // Ranked deeper than asked, then the rules reorder, cap, pin and cut.
    RecommendRequest wide = r;
    wide.merchandising = nullptr;
    wide.count = MerchandisingPool(r.count);
    ASSIGN_OR_RETURN(RecommendResult out, Recommend(wide, state));
    std::string_view page;
    for (const auto& [k, v] : r.context) {
      if (k == "page") page = v;
    }
    ASSIGN_OR_RETURN(auto trending, activity_->Trending(r.tenant_id, state.store));
    const std::set<std::string> excluded = Excluded(r, *state.profile, trending->has_purchases);
    out.items = Merchandise(*r.merchandising, page, std::move(out.items), r.count, *out.catalog,
                            [&](const CatalogItem& item) {
                              return r.filters.Matches(item) && !excluded.count(item.item_id);
                            });
    return out;
  }
  const auto& catalog = state.catalog;
  const auto& profile = state.profile;
  ASSIGN_OR_RETURN(auto trending, activity_->Trending(r.tenant_id, state.store));  // built once, then warm
  auto model = state.model;
  RecommendResult out;
  out.catalog = catalog;
  out.model_version = model ? model->version : "";
  if (model && model->model_type == ml::ModelType::kPopularity) model = nullptr;  // its ranking is trending's

  const std::set<std::string> excluded = Excluded(r, *profile, trending->has_purchases);
  auto allowed = [&](const CatalogItem& item) {
    return r.filters.Matches(item) && !excluded.count(item.item_id);
  };

  // The model's ranking of the user's query (none for a cold user).
  std::unordered_set<std::string> chosen;
  Query query;
  if (model) query = QueryFor(*model, *profile, r.user_id, r.current_item);
  if (!query.q.empty()) {
    out.algorithm = ml::ModelTypeName(model->model_type);
    const auto rows = Rows(r.tenant_id, model, *catalog);
    out.items = ModelRanked(r, *model, *catalog, *profile, query, excluded, *rows,
                            [&](const std::string& category) {
                              return activity_->ContextFactor(r.tenant_id, r.context, category);
                            });
    for (const auto& rec : out.items) chosen.insert(rec.item->item_id);
  } else {
    out.algorithm = model ? "trending" : "popularity";
  }

  // Trending fills what the model could not (cold users, new items, narrow filters).
  if (static_cast<int>(out.items.size()) < r.count) {
    const double top = out.items.empty() ? 1.0 : out.items.back().score;
    auto fill = TrendingFill(r.tenant_id, trending, *catalog, allowed, chosen,
                             r.count - static_cast<int>(out.items.size()), top, r.filters.categories);
    for (auto& f : fill) out.items.push_back(std::move(f));
  }
  return out;
}

StatusOr<SimilarResult> Recommender::Similar(const std::string& tenant_id, const std::string& item_id,
                                             int count, const Filters& filters) {
  Touch(tenant_id);
  ReadModelsAside(tenant_id);
  ASSIGN_OR_RETURN(auto store, tenants_->Open(tenant_id));
  ASSIGN_OR_RETURN(auto catalog, catalog_->Get(tenant_id, store));
  const CatalogItem* self = catalog->Find(item_id);
  if (!self) return Status::NotFound("item '" + item_id + "' is not in the catalog");
  SimilarResult out;
  out.catalog = catalog;
  auto model = models_->Get(tenant_id);
  if (model && model->model_type == ml::ModelType::kPopularity) model = nullptr;
  auto row = model ? model->item_rows.find(item_id) : decltype(model->item_rows.end()){};
  if (model && row != model->item_rows.end()) {
    out.model_version = model->version;
    out.algorithm = ml::ModelTypeName(model->model_type);
    const std::vector<float> query = model->SimilarQuery(row->second);
    const float* q = query.data();
    const double qn = std::sqrt(std::max(0.0, static_cast<double>(Dot(q, q, static_cast<int>(query.size())))));
    const auto rows_ptr = Rows(tenant_id, model, *catalog);
    const auto& rows = *rows_ptr;
    const int64_t self_row = row->second;
    ann::ItemIndex::Filter filter = [&](int64_t i) {
      return i != self_row && rows[i] >= 0 && filters.Matches(catalog->items[rows[i]]);
    };
    // Ranked by inner product: the item's kept list, filtered in order, when
    // it holds enough that pass; otherwise a filtered search. (Ranked by
    // cosine until the thirty-sixth session, which kept popular items down:
    // the next item a user turned to was among the 20 a third to half as
    // often, bench/similar_bench.py.) The score is the inner product over
    // the largest the query could have (its norm × the longest item row's),
    // in [0, 1] and in the order shown.
    auto kept = WalkKept(*model->SimilarCandidates(self_row), ServingModel::kSimilarCandidates,
                         static_cast<size_t>(count), filter);
    const auto candidates = kept ? std::move(*kept) : model->index->Search(q, count, &filter);
    const double most = qn * model->max_item_norm;
    auto score = [&](double ip) { return most > 0 ? std::clamp(ip / most, 0.0, 1.0) : 0.0; };
    for (auto& [i, ip] : candidates) out.items.push_back({&catalog->items[rows[i]], score(ip)});
    if (static_cast<int>(out.items.size()) > count) out.items.resize(count);
    if (model->similar_category_share > 0 && !self->category.empty()) {
      // The category's bestsellers take the share of the list its training
      // job measured best (ml/similar_items.h), each at its own score,
      // lowered where needed so that scores never increase down the list.
      ASSIGN_OR_RETURN(auto trending, activity_->Trending(tenant_id, store));
      const auto best = TrendingFill(
          tenant_id, trending, *catalog,
          [&](const CatalogItem& item) { return item.item_id != item_id && filters.Matches(item); }, {}, count,
          1.0, {self->category});
      std::vector<const CatalogItem*> from_model, from_category;
      for (const auto& x : out.items) from_model.push_back(x.item);
      for (const auto& b : best) from_category.push_back(b.item);
      out.items.clear();
      double ceiling = 1.0;
      for (const CatalogItem* item : ml::MixSimilar(from_model, from_category, model->similar_category_share,
                                                    static_cast<size_t>(count))) {
        auto r = model->item_rows.find(item->item_id);
        const double own = r == model->item_rows.end()
                               ? 0.0
                               : score(Dot(q, model->model->item_embeddings().data() + r->second * query.size(),
                                           static_cast<int>(query.size())));
        ceiling = std::min(ceiling, own);
        out.items.push_back({item, ceiling});
      }
    }
    return out;
  }
  // Not in the model (new item, or no model): trending items of its category.
  out.algorithm = "category_trending";
  ASSIGN_OR_RETURN(auto trending, activity_->Trending(tenant_id, store));
  Filters same = filters;
  if (!self->category.empty() && same.categories.empty()) same.categories = {self->category};
  auto fill = TrendingFill(tenant_id, trending, *catalog,
                           [&](const CatalogItem& item) { return item.item_id != item_id && same.Matches(item); },
                           {}, count, 1.0, same.categories);
  for (auto& f : fill) out.items.push_back({f.item, f.score});
  return out;
}

StatusOr<RecommendResult> Recommender::Popular(const std::string& tenant_id, int count,
                                               const Filters& filters) {
  Touch(tenant_id);
  ASSIGN_OR_RETURN(auto store, tenants_->Open(tenant_id));
  ASSIGN_OR_RETURN(auto catalog, catalog_->Get(tenant_id, store));
  ASSIGN_OR_RETURN(auto trending, activity_->Trending(tenant_id, store));
  RecommendResult out;
  out.catalog = catalog;
  out.algorithm = "popularity";
  out.items = TrendingFill(tenant_id, trending, *catalog, [&](const CatalogItem& i) { return filters.Matches(i); },
                           {}, count, 1.0, filters.categories);
  return out;
}

}  // namespace embedrec::serving
