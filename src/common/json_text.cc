#include "common/json_text.h"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cmath>

namespace embedrec {
namespace json = boost::json;

namespace {

template <typename T>
void AppendNumber(T x, std::string* out) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  out->append(buf, r.ptr);
}

void AppendObject(const json::object& o, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const auto& [k, v] : o) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(k, out);
    out->push_back(':');
    AppendJsonText(v, out);
  }
  out->push_back('}');
}

void AppendArray(const json::array& a, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < a.size(); ++i) {
    if (i) out->push_back(',');
    AppendJsonText(a[i], out);
  }
  out->push_back(']');
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;  // start of the pending run of characters that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

void AppendJsonNumber(double x, std::string* out) {
  if (std::isfinite(x)) AppendNumber(x, out);
  else out->append("null");
}

void AppendJsonText(const json::value& v, std::string* out) {
  switch (v.kind()) {
    case json::kind::null: out->append("null"); break;
    case json::kind::bool_: out->append(v.get_bool() ? "true" : "false"); break;
    case json::kind::int64: AppendNumber(v.get_int64(), out); break;
    case json::kind::uint64: AppendNumber(v.get_uint64(), out); break;
    case json::kind::double_: AppendJsonNumber(v.get_double(), out); break;
    case json::kind::string: AppendJsonString(v.get_string(), out); break;
    case json::kind::array: AppendArray(v.get_array(), out); break;
    case json::kind::object: AppendObject(v.get_object(), out); break;
  }
}

std::string JsonText(const json::value& v) {
  std::string out;
  AppendJsonText(v, &out);
  return out;
}

std::string JsonText(const json::object& o) {
  std::string out;
  AppendObject(o, &out);
  return out;
}

std::string JsonText(const json::array& a) {
  std::string out;
  AppendArray(a, &out);
  return out;
}

boost::json::object ParseJsonObject(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  return !ec && v.is_object() ? std::move(v.as_object()) : boost::json::object();
}

}  // namespace embedrec
