#include "common/strings.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace embedrec {

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string ValidUtf8(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    // The longest valid sequence starting here (1 to 4 bytes), else one replaced byte.
    size_t len = 0;
    for (size_t n = 1; n <= 4 && i + n <= s.size(); ++n) {
      if (IsValidUtf8(s.substr(i, n))) {
        len = n;
        break;
      }
    }
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

bool HasControlChars(std::string_view s, bool allow_line_breaks) {
  for (unsigned char c : s) {
    if (c >= 0x20 && c != 0x7f) continue;
    if (allow_line_breaks && (c == '\t' || c == '\n' || c == '\r')) continue;
    return true;
  }
  return false;
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned c = p[i];
    if (c < 0x80) { ++i; continue; }
    size_t len;
    unsigned cp;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string JoinList(const std::vector<std::string>& items, char sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out.push_back(sep);
    out += item;
  }
  return out;
}

std::vector<std::string> SplitList(std::string_view text, char sep) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  for (auto piece : Split(text, sep)) out.emplace_back(piece);
  return out;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string_view Trim(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

std::string SnakeCase(std::string_view s) {
  std::string out;
  bool pending = false;  // a separator is due before the next character
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '_' || c == '-' || c == ' ' || c == '.' || c == '\t') {
      pending = !out.empty();
      continue;
    }
    const bool upper = c >= 'A' && c <= 'Z';
    if (upper && i > 0 && s[i - 1] >= 'a' && s[i - 1] <= 'z') pending = true;  // camelCase
    if (pending) out.push_back('_');
    pending = false;
    out.push_back(upper ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

namespace {

// A field name's words (SnakeCase's), a plural's trailing 's' dropped:
// "minPrice", "min-price" and "min_prices" are all {min, price}.
std::vector<std::string> NameWords(std::string_view s) {
  std::vector<std::string> out;
  const std::string snake = SnakeCase(s);
  for (std::string_view w : Split(snake, '_')) {
    if (w.size() > 3 && w.back() == 's') w.remove_suffix(1);
    if (!w.empty()) out.emplace_back(w);
  }
  return out;
}

// Edits (insert, delete, replace, swap two neighbours) from a to b; three
// rows of the table kept (the swap looks two back).
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> two(b.size() + 1), one(b.size() + 1), row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) one[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      row[j] = std::min({one[j] + 1, row[j - 1] + 1, one[j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) row[j] = std::min(row[j], two[j - 2] + 1);
    }
    std::swap(two, one);
    std::swap(one, row);
  }
  return one[b.size()];
}

}  // namespace

std::string_view ClosestName(std::string_view name, const std::vector<std::string_view>& known) {
  if (name.empty() || name.size() > 64) return {};
  std::vector<std::string> words = NameWords(name);
  auto stems = [](const std::vector<std::string>& w) {  // the words, in order, joined
    std::string out;
    for (const auto& x : w) out += (out.empty() ? "" : "_") + x;
    return out;
  };
  const std::string stem = stems(words);
  std::sort(words.begin(), words.end());
  const std::string joined = AsciiLower(name);
  // Lower is better: the kind of likeness first (the same words, words
  // more or less, letters off, cut short), then how far.
  size_t best = SIZE_MAX;
  std::string_view choice;
  bool tie = false;
  for (std::string_view k : known) {
    std::vector<std::string> kw = NameWords(k);
    const std::string kstem = stems(kw);
    std::sort(kw.begin(), kw.end());
    size_t score = SIZE_MAX;
    if (kw == words) {
      score = 0;
    } else if (!words.empty() && !kw.empty()) {
      const auto& small = words.size() < kw.size() ? words : kw;
      const auto& large = words.size() < kw.size() ? kw : words;
      if (large.size() - small.size() <= 2 && std::includes(large.begin(), large.end(), small.begin(), small.end())) {
        score = 100 + (large.size() - small.size());
      }
    }
    if (score == SIZE_MAX) {
      const std::string kl = AsciiLower(k);
      const size_t dist = EditDistance(joined, kl);
      const bool mine_shorter = stem.size() < kstem.size();
      const std::string_view shorter = mine_shorter ? std::string_view(stem) : std::string_view(kstem);
      const std::string_view longer = mine_shorter ? std::string_view(kstem) : std::string_view(stem);
      if (dist <= std::max<size_t>(1, shorter.size() / 4)) {
        score = 200 + dist;
      } else if (shorter.size() >= 5 && 2 * shorter.size() >= longer.size() && longer.starts_with(shorter)) {
        score = 300 + (longer.size() - shorter.size());  // cut short: "hyperparams"
      }
    }
    if (score < best) {
      best = score;
      choice = k;
      tie = false;
    } else if (score == best && score != SIZE_MAX) {
      tie = true;
    }
  }
  return tie ? std::string_view() : choice;
}

}  // namespace embedrec
