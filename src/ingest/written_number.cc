#include "ingest/written_number.h"

#include <algorithm>
#include <array>
#include <vector>

namespace embedrec::ingest {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool AllDigits(std::string_view s) { return std::all_of(s.begin(), s.end(), IsDigit); }

// Spaces as exports write them between an amount and its currency or between
// thousands: ' ', no-break (U+00A0) and narrow no-break (U+202F).
size_t SpaceAt(std::string_view s, size_t i) {
  if (s[i] == ' ') return 1;
  if (s.substr(i, 2) == "\xC2\xA0") return 2;
  if (s.substr(i, 3) == "\xE2\x80\xAF") return 3;
  return 0;
}

std::string_view TrimSpaces(std::string_view s) {
  for (size_t n; !s.empty() && (n = SpaceAt(s, 0)) > 0;) s.remove_prefix(n);
  while (!s.empty()) {
    const size_t from = s.size() >= 3 ? s.size() - 3 : 0;
    size_t cut = 0;
    for (size_t i = from; i < s.size() && cut == 0; ++i) {
      if (size_t n = SpaceAt(s, i); n > 0 && i + n == s.size()) cut = n;
    }
    if (cut == 0) break;
    s.remove_suffix(cut);
  }
  return s;
}

// Signs and words written for a currency, with the ISO 4217 codes each may
// stand for (codes themselves are matched apart). Where one sign ends
// another ("US$", "$"), the longer comes first.
struct SignCodes {
  std::string_view sign;
  std::string_view codes;  // space-separated
};
constexpr std::array<SignCodes, 39> kSignCodes = {{
    {"US$", "USD"}, {"CA$", "CAD"}, {"AU$", "AUD"}, {"NZ$", "NZD"}, {"HK$", "HKD"}, {"MX$", "MXN"},
    {"R$", "BRL"}, {"A$", "AUD"}, {"C$", "CAD"}, {"S$", "SGD"},
    {"$", "USD CAD AUD NZD HKD SGD MXN ARS CLP COP TWD"},
    {"\xE2\x82\xAC", "EUR"}, {"\xC2\xA3", "GBP"}, {"\xC2\xA5", "JPY CNY"}, {"\xE2\x82\xB9", "INR"},
    {"\xE2\x82\xA9", "KRW"}, {"\xE2\x82\xBD", "RUB"}, {"\xE2\x82\xBA", "TRY"}, {"\xE2\x82\xAA", "ILS"},
    {"\xE2\x82\xAB", "VND"}, {"\xE0\xB8\xBF", "THB"}, {"\xE2\x82\xB4", "UAH"}, {"\xE2\x82\xA6", "NGN"},
    {"\xE2\x82\xB1", "PHP"}, {"\xE2\x82\xA1", "CRC"}, {"\xE2\x82\xB2", "PYG"}, {"\xE2\x82\xB5", "GHS"},
    {"\xE2\x82\xB8", "KZT"}, {"\xE2\x82\xBC", "AZN"}, {"\xE2\x82\xBE", "GEL"},
    {"z\xC5\x82", "PLN"}, {"K\xC4\x8D", "CZK"}, {"kr.", "DKK SEK NOK ISK"}, {"kr", "SEK NOK DKK ISK"},
    {"Ft", "HUF"}, {"lei", "RON MDL"}, {"Rs.", "INR PKR LKR NPR"}, {"Rs", "INR PKR LKR NPR"}, {"Fr.", "CHF"}}};

// The currency `s` starts (front) or ends with: its length, or 0.
size_t CurrencyAt(std::string_view s, bool front) {
  for (const SignCodes& c : kSignCodes) {
    if (front ? s.starts_with(c.sign) : s.ends_with(c.sign)) return c.sign.size();
  }
  // A code: three capitals not run together with another letter ("EUR 5", "5EUR").
  if (s.size() < 3) return 0;
  const std::string_view code = front ? s.substr(0, 3) : s.substr(s.size() - 3);
  if (!std::all_of(code.begin(), code.end(), IsUpper)) return 0;
  const size_t next = front ? 3 : s.size() - 4;
  if (s.size() > 3) {
    const char c = s[next];
    if (IsUpper(c) || (c >= 'a' && c <= 'z')) return 0;
  }
  return 3;
}

// What separates thousands besides '.' and ',': a space of any kind or an
// apostrophe (Switzerland's 1'299.50, also as U+2019). Its length at i, or 0.
size_t GroupMarkAt(std::string_view s, size_t i) {
  if (size_t n = SpaceAt(s, i)) return n;
  if (s[i] == '\'') return 1;
  if (s.substr(i, 3) == "\xE2\x80\x99") return 3;
  return 0;
}

// "1,299,000", "1.299", "12", India's "1,00,000": groups after the first of
// three digits, or of two with a last of three; the first of one to three,
// not starting with 0.
bool WellGrouped(const std::vector<std::string_view>& groups, bool indian_allowed) {
  if (groups.size() < 2) return false;
  const std::string_view first = groups.front();
  if (first.empty() || first.size() > 3 || first[0] == '0') return false;
  bool threes = true, indian = indian_allowed && groups.back().size() == 3;
  for (size_t i = 1; i < groups.size(); ++i) {
    if (!AllDigits(groups[i])) return false;
    threes = threes && groups[i].size() == 3;
    if (i + 1 < groups.size()) indian = indian && groups[i].size() == 2;
  }
  return AllDigits(first) && (threes || indian);
}

}  // namespace

std::optional<WrittenNumber> ReadWrittenNumber(std::string_view field, NumberStyle style, std::string* why) {
  WrittenNumber out;
  // Most fields are plain already ("12", "12.99", ".5").
  const size_t dot = field.find('.');
  const std::string_view whole_part = field.substr(0, dot);
  if (!field.empty() && field.size() <= 64 && AllDigits(whole_part) &&
      (dot == std::string_view::npos || (dot + 1 < field.size() && AllDigits(field.substr(dot + 1))))) {
    out.plain = std::string(field);
    return out;
  }
  std::string_view t = TrimSpaces(field);
  bool negative = false;
  auto take_minus = [&]() {
    if (t.empty() || t[0] != '-') return true;
    if (negative) return false;
    negative = true;
    t = TrimSpaces(t.substr(1));
    return true;
  };
  if (!take_minus()) return std::nullopt;
  if (style.amount) {
    if (size_t n = CurrencyAt(t, true)) {
      out.currency = std::string(t.substr(0, n));
      t = TrimSpaces(t.substr(n));
      if (!take_minus()) return std::nullopt;
    } else if (size_t m = CurrencyAt(t, false)) {
      out.currency = std::string(t.substr(t.size() - m));
      t = TrimSpaces(t.substr(0, t.size() - m));
    }
  }
  if (t.empty() || t.size() > 64) return std::nullopt;

  // The body as digits and marks: '.', ',' or 'g' (a space or an apostrophe).
  std::string body;
  body.reserve(t.size());
  for (size_t i = 0; i < t.size();) {
    if (IsDigit(t[i]) || t[i] == '.' || t[i] == ',') {
      body += t[i++];
    } else if (size_t n = GroupMarkAt(t, i)) {
      body += 'g';
      i += n;
    } else {
      return std::nullopt;
    }
  }
  const auto count = [&](char c) { return std::count(body.begin(), body.end(), c); };
  const auto dots = count('.'), commas = count(','), marks = count('g');

  // Which mark is the decimal one and which groups thousands.
  char decimal = 0, group = 0;
  if (marks > 0) {
    group = 'g';
    if (dots + commas > 1) return std::nullopt;
    if (dots == 1) decimal = '.';
    if (commas == 1) decimal = ',';
  } else if (dots > 0 && commas > 0) {
    decimal = body.find_last_of(".,") == body.rfind('.') ? '.' : ',';
    group = decimal == '.' ? ',' : '.';
    if (count(decimal) != 1 || body.find(group, body.find(decimal)) != std::string::npos) return std::nullopt;
  } else if (dots > 1) {
    group = '.';
  } else if (commas > 1) {
    group = ',';
  } else if (dots == 1) {
    decimal = '.';
  } else if (commas == 1) {
    const size_t at = body.find(',');
    const std::string_view whole = std::string_view(body).substr(0, at);
    const bool may_group = body.size() - at - 1 == 3 && !whole.empty() && whole.size() <= 3 && whole[0] != '0';
    if (!may_group) {
      decimal = ',';
    } else if (style.delimiter == ',') {
      group = ',';
    } else {
      if (why) {
        *why = "'" + std::string(t) + "' may be a thousand and more or a decimal: write it without the " +
               "thousands separator, or with both separators ('1.234,00')";
      }
      return std::nullopt;
    }
  }

  const size_t point = decimal ? body.find(decimal) : body.size();
  const std::string_view whole = std::string_view(body).substr(0, point);
  const std::string_view fraction = decimal ? std::string_view(body).substr(point + 1) : std::string_view();
  if (decimal && (fraction.empty() || !AllDigits(fraction))) return std::nullopt;
  if (negative) out.plain += '-';
  if (group) {
    std::vector<std::string_view> groups;
    for (size_t from = 0;;) {
      const size_t to = whole.find(group, from);
      groups.push_back(whole.substr(from, to == std::string_view::npos ? std::string_view::npos : to - from));
      if (to == std::string_view::npos) break;
      from = to + 1;
    }
    if (!WellGrouped(groups, group == ',')) return std::nullopt;
    for (std::string_view g : groups) out.plain += g;
  } else {
    if (!AllDigits(whole) || (whole.empty() && !decimal)) return std::nullopt;
    out.plain += whole;
  }
  if (decimal) {
    out.plain += '.';
    out.plain += fraction;
  }
  return out;
}

namespace {
// The one code `written` stands for, or `written` itself.
std::string_view CurrencyKey(std::string_view written) {
  for (const SignCodes& s : kSignCodes) {
    if (s.sign == written) return s.codes.find(' ') == std::string_view::npos ? s.codes : written;
  }
  return written;
}
}  // namespace

bool SameCurrency(std::string_view a, std::string_view b) { return CurrencyKey(a) == CurrencyKey(b); }

bool MayDenote(std::string_view written, std::string_view code) {
  if (written == code) return true;
  for (const SignCodes& s : kSignCodes) {
    if (s.sign != written) continue;
    for (size_t at = s.codes.find(code); at != std::string_view::npos; at = s.codes.find(code, at + 1)) {
      if ((at == 0 || s.codes[at - 1] == ' ') && (at + code.size() == s.codes.size() || s.codes[at + code.size()] == ' ')) {
        return true;
      }
    }
    return false;
  }
  return false;
}

}  // namespace embedrec::ingest
