// A number as spreadsheets and shop exports write it, read into plain
// digits: a decimal comma ("12,99"), thousands grouped by points, commas,
// spaces or apostrophes ("1.299,00", "1,299.00", "1 299,00", "1'299.50",
// India's "1,00,000"), and for an amount a currency sign or code before or
// after it ("€12,99", "12.99 USD", "US$ 1,299.00", "-$5"). No conversion:
// the currency is only reported, so a file mixing two can be refused.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace embedrec::ingest {

struct NumberStyle {
  char delimiter = ',';  // the file's field separator
  bool amount = false;   // a price or value: a currency sign or code may go with it
};

struct WrittenNumber {
  std::string plain;     // "-1299.5": an optional '-', digits, an optional '.' and digits
  std::string currency;  // "€", "USD", "US$" as written; empty when none
};

// Nothing when `field` is not such a number; `*why` then says what was wrong
// when that is more than "not a number": a lone comma before three digits
// (",234": a thousands separator or a decimal comma) is read as grouping in a
// comma-separated file, whose exporter writes decimal points, and refused as
// ambiguous in others. A lone point is always a decimal point ("1.299").
std::optional<WrittenNumber> ReadWrittenNumber(std::string_view field, NumberStyle style,
                                               std::string* why = nullptr);

// Whether a currency `written` with an amount (WrittenNumber::currency) can
// be ISO `code`: the code itself, or a sign used for it ("$" for USD, CAD,
// AUD and the other dollars and pesos; "€" for EUR; "kr" for SEK, NOK, DKK, ISK).
bool MayDenote(std::string_view written, std::string_view code);
// Whether two currencies written with amounts are the same: as written, or a
// sign and the one code it stands for ("€" and "EUR"; "$" and "USD" are not).
bool SameCurrency(std::string_view a, std::string_view b);

}  // namespace embedrec::ingest
