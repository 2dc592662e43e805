// Small string helpers shared across modules.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace embedrec {

// Hash for unordered containers keyed by std::string that are searched with
// a std::string_view (no temporary string per lookup).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
// External id (item_id, user_id) → dense internal index.
using IdMap = std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>>;

// ASCII lowercase copy.
std::string AsciiLower(std::string_view s);
// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::string_view s);
// `s` with every byte that is not part of valid UTF-8 replaced by U+FFFD:
// text that may echo what a client sent, safe to put in JSON.
std::string ValidUtf8(std::string_view s);
// True when `s` holds an ASCII control character (C0 or DEL); tab, line feed
// and carriage return are allowed with `allow_line_breaks` (free text).
bool HasControlChars(std::string_view s, bool allow_line_breaks);
// Number of Unicode code points in well-formed UTF-8 `s`.
size_t Utf8Length(std::string_view s);
// Splits on `sep`, keeping empty pieces.
std::vector<std::string_view> Split(std::string_view s, char sep);
// A stored list (scopes, tags) as text and back: the items joined by `sep`;
// "" is the empty list.
std::string JoinList(const std::vector<std::string>& items, char sep);
std::vector<std::string> SplitList(std::string_view text, char sep);
// `s` as a JSON string literal, quotes included ("a\"b").
std::string JsonQuote(std::string_view s);
// Strips ASCII whitespace at both ends.
std::string_view Trim(std::string_view s);
// A column or field name as snake_case: lowercased, words split at spaces,
// dashes, dots and camelCase, joined by '_' ("User ID", "userId", "user-id"
// and "USER_ID" are all "user_id").
std::string SnakeCase(std::string_view name);
// The name of `known` a client most likely meant by `name` (a field it
// misspelt or named its own way), or "" when none is close: the same words
// in another order ("min_price" → "price_min"), a word or two more or less
// ("in_stock" → "in_stock_only"), a few letters off ("categroy" →
// "category"), or cut short ("hyperparam" → "hyperparameters"; ASCII case
// ignored). "" too when two are equally close.
std::string_view ClosestName(std::string_view name, const std::vector<std::string_view>& known);

}  // namespace embedrec
