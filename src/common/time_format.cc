#include "common/time_format.h"

#include <chrono>
#include <cstdio>

namespace embedrec {
namespace {

// Days since 1970-01-01 for a proleptic Gregorian civil date (H. Hinnant's algorithm,
// via std::chrono so it is exact for every representable year).
int64_t DaysFromCivil(int y, unsigned m, unsigned d) {
  using namespace std::chrono;
  return sys_days{year{y} / month{m} / day{d}}.time_since_epoch().count();
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

namespace {
// `n` digits of v (0 <= v < 10^n) at p.
void PutDigits(char* p, unsigned v, int n) {
  for (int i = n - 1; i >= 0; --i, v /= 10) p[i] = static_cast<char>('0' + v % 10);
}

// "YYYY-MM-DDTHH:MM:SS", then `tail` (formatting a time is on every tracked
// event's path: digits written directly, snprintf only for years outside 0..9999).
std::string Format(int64_t unix_seconds, std::string_view tail) {
  using namespace std::chrono;
  sys_seconds tp{seconds{unix_seconds}};
  auto dp = floor<days>(tp);
  year_month_day ymd{dp};
  hh_mm_ss hms{tp - dp};
  const int y = int(ymd.year());
  char buf[64];
  if (y < 0 || y > 9999) {
    int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ld", y, unsigned(ymd.month()),
                          unsigned(ymd.day()), long(hms.hours().count()), long(hms.minutes().count()),
                          long(hms.seconds().count()));
    return std::string(buf, static_cast<size_t>(n)).append(tail);
  }
  PutDigits(buf, static_cast<unsigned>(y), 4);
  buf[4] = '-';
  PutDigits(buf + 5, unsigned(ymd.month()), 2);
  buf[7] = '-';
  PutDigits(buf + 8, unsigned(ymd.day()), 2);
  buf[10] = 'T';
  PutDigits(buf + 11, static_cast<unsigned>(hms.hours().count()), 2);
  buf[13] = ':';
  PutDigits(buf + 14, static_cast<unsigned>(hms.minutes().count()), 2);
  buf[16] = ':';
  PutDigits(buf + 17, static_cast<unsigned>(hms.seconds().count()), 2);
  std::string out;
  out.reserve(19 + tail.size());
  return out.append(buf, 19).append(tail);
}
}  // namespace

std::string FormatRfc3339(int64_t unix_seconds) { return Format(unix_seconds, "Z"); }

std::string FormatRfc3339Millis(int64_t unix_millis) {
  int64_t secs = unix_millis >= 0 ? unix_millis / 1000 : -((-unix_millis + 999) / 1000);
  char tail[5] = {'.', '0', '0', '0', 'Z'};
  PutDigits(tail + 1, static_cast<unsigned>(unix_millis - secs * 1000), 3);
  return Format(secs, std::string_view(tail, 5));
}

namespace {

// `strict`: YYYY-MM-DD[T|t| ]HH:MM:SS[.fff...] and a zone (Z or ±HH:MM).
// Otherwise also without seconds, without a zone (UTC), a date alone
// (midnight UTC), and an offset ±HHMM.
std::optional<int64_t> ParseDateTime(std::string_view s, bool strict, bool* zoneless) {
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (!Digits(s, 0, 4, &y) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, &mo) || s[7] != '-' ||
      !Digits(s, 8, 2, &d)) {
    return std::nullopt;
  }
  size_t pos = 10;
  int64_t millis = 0;
  const bool date_only = !strict && s.size() == 10;
  if (!date_only) {
    if (s.size() < 16 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !Digits(s, 11, 2, &h) ||
        s[13] != ':' || !Digits(s, 14, 2, &mi)) {
      return std::nullopt;
    }
    pos = 16;
    if (pos < s.size() && s[pos] == ':') {
      if (!Digits(s, 17, 2, &se)) return std::nullopt;
      pos = 19;
    } else if (strict) {
      return std::nullopt;
    }
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      int scale = 100, ndig = 0;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (ndig < 3) millis += (s[pos] - '0') * scale;
        scale /= 10;
        ++ndig;
        ++pos;
      }
      if (ndig == 0) return std::nullopt;
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  using namespace std::chrono;
  if (!year_month_day{year{y} / month{unsigned(mo)} / day{unsigned(d)}}.ok()) return std::nullopt;
  int64_t offset_min = 0;
  if (zoneless) *zoneless = pos >= s.size();
  if (pos >= s.size()) {
    if (strict) return std::nullopt;  // zone required
  } else if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (!date_only && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    const bool colon = pos + 3 < s.size() && s[pos + 3] == ':';
    if (strict && !colon) return std::nullopt;
    const size_t minutes_at = pos + (colon ? 4 : 3);
    if (!Digits(s, pos + 1, 2, &oh) || !Digits(s, minutes_at, 2, &om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos = minutes_at + 2;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  if (se == 60) se = 59;  // leap second: clamp
  int64_t days = DaysFromCivil(y, mo, d);
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_min * 60;
  return secs * 1000 + millis;
}

}  // namespace

std::optional<int64_t> ParseRfc3339Millis(std::string_view s) { return ParseDateTime(s, /*strict=*/true, nullptr); }

std::optional<int64_t> ParseDateTimeMillis(std::string_view s, bool* zoneless) {
  return ParseDateTime(s, /*strict=*/false, zoneless);
}

}  // namespace embedrec
