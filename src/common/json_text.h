// JSON values as text, the way every answer and stored document is written:
// numbers in their shortest round-trip form ("49.95", "0.971091", "1e-07"),
// not Boost.JSON 1.81's "4.995E1"; strings escaped per RFC 8259 (UTF-8 passes
// through); non-finite numbers as null.
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>

namespace embedrec {

std::string JsonText(const boost::json::value& v);
std::string JsonText(const boost::json::object& o);
std::string JsonText(const boost::json::array& a);
// Appends the text of `v` to `out`.
void AppendJsonText(const boost::json::value& v, std::string* out);
// Appends `s` as a JSON string literal (quoted, escaped).
void AppendJsonString(std::string_view s, std::string* out);
// Appends `x` in its shortest round-trip form (null when not finite).
void AppendJsonNumber(double x, std::string* out);
// A stored JSON document as an object: empty when the text is not one. Never throws.
boost::json::object ParseJsonObject(std::string_view text);

}  // namespace embedrec
