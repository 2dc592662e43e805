#include "datagen/shop_generator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include "common/time_format.h"
#include "ingest/csv_parser.h"

namespace embedrec::datagen {
namespace {

// splitmix64: tiny, fast, fully specified; good enough for synthetic data.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double Uniform() { return double(Next() >> 11) * 0x1.0p-53; }        // [0, 1)
  int64_t Below(int64_t n) { return int64_t(Uniform() * double(n)); }  // [0, n)
  bool Chance(double p) { return Uniform() < p; }
  double Normal() {  // Box-Muller
    double u1 = std::max(Uniform(), 1e-300), u2 = Uniform();
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
  }

 private:
  uint64_t s_;
};

// Samples indexes 0..n-1 with weight 1/(i+1)^s by inverting the cumulative sum.
class Zipf {
 public:
  Zipf(int64_t n, double s) : cdf_(std::max<int64_t>(n, 1)) {
    double sum = 0;
    for (int64_t i = 0; i < int64_t(cdf_.size()); ++i) cdf_[i] = sum += 1.0 / std::pow(i + 1.0, s);
    for (auto& c : cdf_) c /= sum;
  }
  int64_t Sample(Rng& rng) const {
    return std::lower_bound(cdf_.begin(), cdf_.end(), rng.Uniform()) - cdf_.begin();
  }

 private:
  std::vector<double> cdf_;
};

const char* const kCategories[] = {
    "Audio", "Computers", "Wearables", "Accessories", "Cameras", "Phones", "Gaming", "Smart Home",
    "TV", "Networking", "Storage", "Printers", "Drones", "Tablets", "Office", "Kitchen",
    "Fitness", "Outdoor", "Books", "Toys", "Beauty", "Garden", "Tools", "Automotive", "Pets",
    "Music", "Movies", "Baby", "Health", "Lighting", "Furniture", "Bags", "Shoes", "Watches",
    "Jewelry", "Sports", "Travel", "Art", "Crafts", "Stationery"};
const char* const kAdjectives[] = {"Wireless", "Pro", "Compact", "Premium", "Smart", "Ultra",
                                   "Portable", "Classic", "Eco", "Max", "Mini", "Turbo"};
const char* const kNouns[] = {"Kit", "Set", "Edition", "Model", "Pack", "Series", "Bundle", "One"};
const char* const kBrandStems[] = {"Tech", "Pro", "Fit", "Nova", "Astra", "Vertex", "Zen",
                                   "Pulse", "Orbit", "Nimbus", "Apex", "Lumen"};

struct Item {
  std::string id;
  int category;
};

struct FileCloser {
  void operator()(std::FILE* f) const { if (f) std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

}  // namespace

StatusOr<ShopStats> GenerateShop(const ShopOptions& o, const std::string& dir) {
  if (o.items < 1 || o.users < 1 || o.interactions < 0 || o.categories < 1 || o.days < 1) {
    return Status::InvalidArgument("items, users, categories and days must be positive");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Internal("cannot create " + dir + ": " + ec.message());
  Rng rng(o.seed);
  ShopStats stats;
  const int ncat = o.categories;
  auto cat_name = [&](int c) {
    return c < 40 ? std::string(kCategories[c]) : "Category " + std::to_string(c + 1);
  };

  // --- Catalog ---
  File items_f(std::fopen((dir + "/items.csv").c_str(), "w"));
  if (!items_f) return Status::Internal("cannot write " + dir + "/items.csv");
  std::fputs("item_id,name,category,price,description,brand,tags,image_url,in_stock\n", items_f.get());
  std::vector<double> cat_price(ncat);
  for (auto& p : cat_price) p = std::exp(2.5 + 2.0 * rng.Uniform());  // ~12 to ~90 median
  std::vector<std::vector<int64_t>> by_cat(ncat);
  std::vector<Item> items;
  items.reserve(o.items);
  for (int64_t i = 0; i < o.items; ++i) {
    // Category sizes are skewed too: a few large categories, many small ones.
    int c = int(std::min<int64_t>(ncat - 1, int64_t(ncat * std::pow(rng.Uniform(), 1.6))));
    char id[32];
    std::snprintf(id, sizeof id, "PROD_%06lld", static_cast<long long>(i + 1));
    std::string brand = std::string(kBrandStems[(c * 7 + rng.Below(4)) % 12]) +
                        std::string(kBrandStems[(c * 3 + 5) % 12]);
    std::string name = std::string(kAdjectives[rng.Below(12)]) + " " + cat_name(c) + " " +
                       kNouns[rng.Below(8)] + " " + std::to_string(rng.Below(900) + 100);
    double price = std::max(0.99, cat_price[c] * std::exp(0.6 * rng.Normal()));
    std::string tags = std::string(kAdjectives[rng.Below(12)]) + "|" + cat_name(c);
    for (auto& ch : tags) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::fprintf(items_f.get(), "%s,%s,%s,%.2f,%s,%s,%s,https://cdn.example.com/%s.jpg,%s\n", id,
                 ingest::CsvQuote(name).c_str(), ingest::CsvQuote(cat_name(c)).c_str(), price,
                 ingest::CsvQuote("A " + name + " by " + brand + ", \"best in class\"").c_str(), brand.c_str(),
                 ingest::CsvQuote(tags).c_str(), id, rng.Chance(0.95) ? "true" : "false");
    by_cat[c].push_back(i);
    items.push_back({id, c});
  }
  stats.items = o.items;
  if (std::fclose(items_f.release()) != 0) return Status::Internal("write items.csv failed");
  // Empty categories borrow from the catalogue at large.
  for (auto& v : by_cat) {
    if (v.empty()) v.push_back(rng.Below(o.items));
  }
  std::vector<Zipf> item_pop;
  for (auto& v : by_cat) item_pop.emplace_back(int64_t(v.size()), o.item_zipf);

  // --- Users: favourite categories (popular categories are favoured more often) ---
  Zipf cat_pop(ncat, 0.7);
  std::vector<std::array<int, 3>> fav(o.users);
  for (auto& f : fav) {
    for (auto& c : f) c = int(cat_pop.Sample(rng));
  }
  Zipf user_act(o.users, o.user_zipf);

  // --- Interactions, session by session ---
  File inter_f(std::fopen((dir + "/interactions.csv").c_str(), "w"));
  if (!inter_f) return Status::Internal("cannot write " + dir + "/interactions.csv");
  std::fputs("user_id,item_id,interaction_type,timestamp,rating,duration_seconds\n", inter_f.get());
  const int64_t span = o.days * 86400;
  char uid[32];
  while (stats.interactions < o.interactions) {
    int64_t u = user_act.Sample(rng);
    std::snprintf(uid, sizeof uid, "USER_%06lld", static_cast<long long>(u + 1));
    int64_t t = o.start_unix + rng.Below(span);
    int views = 1 + int(rng.Below(6));
    for (int v = 0; v < views && stats.interactions < o.interactions; ++v) {
      int c = rng.Chance(0.85) ? fav[u][rng.Below(3)] : int(rng.Below(ncat));
      const Item& it = items[by_cat[c][item_pop[c].Sample(rng)]];
      int64_t dur = 5 + rng.Below(300);
      std::string ts = FormatRfc3339(t);
      std::fprintf(inter_f.get(), "%s,%s,view,%s,,%lld\n", uid, it.id.c_str(), ts.c_str(),
                   static_cast<long long>(dur));
      ++stats.views;
      ++stats.interactions;
      t += dur + rng.Below(60);
      if (stats.interactions < o.interactions && rng.Chance(o.cart_rate)) {
        t += 10 + rng.Below(120);
        std::fprintf(inter_f.get(), "%s,%s,add_to_cart,%s,,\n", uid, it.id.c_str(),
                     FormatRfc3339(t).c_str());
        ++stats.carts;
        ++stats.interactions;
        if (stats.interactions < o.interactions && rng.Chance(o.purchase_rate)) {
          t += 30 + rng.Below(600);
          std::string rating = rng.Chance(0.3) ? std::to_string(3 + rng.Below(3)) : "";
          std::fprintf(inter_f.get(), "%s,%s,purchase,%s,%s,\n", uid, it.id.c_str(),
                       FormatRfc3339(t).c_str(), rating.c_str());
          ++stats.purchases;
          ++stats.interactions;
        }
      }
    }
  }
  if (std::fclose(inter_f.release()) != 0) return Status::Internal("write interactions.csv failed");
  return stats;
}

}  // namespace embedrec::datagen
