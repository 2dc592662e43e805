#include "common/csv.h"

#include <gtest/gtest.h>

#include <random>

namespace embedrec {
namespace {

struct Parsed {
  std::vector<std::vector<std::string>> rows;  // an error row is {"!error", msg}
  std::vector<uint64_t> lines;
};

// Parses `input` fed in chunks of `chunk` bytes (0: all at once).
Parsed Parse(std::string_view input, size_t chunk = 0, CsvParser::Options opts = {}) {
  Parsed out;
  CsvParser p(opts, [&](const CsvRecord& r) {
    std::vector<std::string> row;
    if (!r.error.empty()) row = {"!error", r.error};
    else for (auto f : r.fields) row.emplace_back(f);
    out.rows.push_back(row);
    out.lines.push_back(r.line);
    EXPECT_EQ(r.record, out.rows.size());
    return Status::Ok();
  });
  if (chunk == 0) chunk = input.size() + 1;
  for (size_t i = 0; i < input.size(); i += chunk) {
    EXPECT_TRUE(p.Feed(input.substr(i, chunk)).ok());
  }
  EXPECT_TRUE(p.Finish().ok());
  return out;
}

using Rows = std::vector<std::vector<std::string>>;

TEST(CsvParserTest, PlainRecordsWithLfCrlfAndNoFinalNewline) {
  EXPECT_EQ(Parse("a,b\n1,2\n").rows, (Rows{{"a", "b"}, {"1", "2"}}));
  EXPECT_EQ(Parse("a,b\r\n1,2\r\n").rows, (Rows{{"a", "b"}, {"1", "2"}}));
  EXPECT_EQ(Parse("a,b\r1,2").rows, (Rows{{"a", "b"}, {"1", "2"}}));
  EXPECT_EQ(Parse("a,b\n1,").rows, (Rows{{"a", "b"}, {"1", ""}}));
  EXPECT_EQ(Parse(",\n").rows, (Rows{{"", ""}}));
}

TEST(CsvParserTest, TheDelimiterIsTakenFromTheFirstLineWhenAsked) {
  CsvParser::Options detect;
  detect.detect_delimiter = true;
  const Rows semi{{"item_id", "name, full", "price"}, {"P1", "Café; au lait", "12,99"}};
  const std::string semi_csv = "\xEF\xBB\xBFitem_id;\"name, full\";price\r\nP1;\"Café; au lait\";12,99\r\n";
  for (size_t chunk : {0, 1, 2, 3, 7}) {  // the BOM and the header split across chunks
    EXPECT_EQ(Parse(semi_csv, chunk, detect).rows, semi) << chunk;
  }
  EXPECT_EQ(Parse("a\tb\n1\t2", 0, detect).rows, (Rows{{"a", "b"}, {"1", "2"}}));
  EXPECT_EQ(Parse("a|b\n1|2\n", 1, detect).rows, (Rows{{"a", "b"}, {"1", "2"}}));
  // A comma in the first line wins; quoted separators do not count.
  EXPECT_EQ(Parse("a,b;c\n1,2;3\n", 0, detect).rows, (Rows{{"a", "b;c"}, {"1", "2;3"}}));
  EXPECT_EQ(Parse("\"a;b\",c\n", 0, detect).rows, (Rows{{"a;b", "c"}}));
  // Blank lines before the header are skipped; one column stays one column.
  auto blank = Parse("\n\r\nx;y\n1;2\n", 2, detect);
  EXPECT_EQ(blank.rows, (Rows{{"x", "y"}, {"1", "2"}}));
  EXPECT_EQ(blank.lines, (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(Parse("item_id\nP1\n", 0, detect).rows, (Rows{{"item_id"}, {"P1"}}));
  EXPECT_EQ(Parse("", 0, detect).rows, Rows{});
  // Without asking, a semicolon is data.
  EXPECT_EQ(Parse("a;b\n").rows, (Rows{{"a;b"}}));
  // The record tells the delimiter, and every byte is counted once.
  char seen = 0;
  CsvParser p(detect, [&](const CsvRecord& r) {
    seen = r.delimiter;
    return Status::Ok();
  });
  ASSERT_TRUE(p.Feed("a;b").ok());
  ASSERT_TRUE(p.Feed("\n1;2\n").ok());
  ASSERT_TRUE(p.Finish().ok());
  EXPECT_EQ(seen, ';');
  EXPECT_EQ(p.bytes(), 8u);
  EXPECT_EQ(p.records(), 2u);
}

TEST(CsvParserTest, QuotedFieldsWithCommasQuotesAndNewlines) {
  auto p = Parse("id,desc\n1,\"say \"\"hi\"\", ok\"\n2,\"two\r\nlines\"\n3,\"\"\n");
  EXPECT_EQ(p.rows, (Rows{{"id", "desc"}, {"1", "say \"hi\", ok"}, {"2", "two\r\nlines"}, {"3", ""}}));
  EXPECT_EQ(p.lines, (std::vector<uint64_t>{1, 2, 3, 5}));
}

TEST(CsvParserTest, StripsUtf8BomOnlyAtTheStart) {
  EXPECT_EQ(Parse("\xEF\xBB\xBFid,x\n1,\xEF\xBB\xBF\n").rows,
            (Rows{{"id", "x"}, {"1", "\xEF\xBB\xBF"}}));
  EXPECT_EQ(Parse("\xEF\xBBz\n").rows, (Rows{{"\xEF\xBBz"}}));  // not a BOM: data
}

// Found by tests/fuzz/csv_fuzz: a file that ends inside what might have
// been a BOM counted those bytes twice.
TEST(CsvParserTest, CountsEveryByteOnceWhenTheFileIsABomPrefix) {
  for (std::string_view input : {"\xEF", "\xEF\xBB", "\xEF\xBB\xBF"}) {
    CsvParser p({}, [](const CsvRecord&) { return Status::Ok(); });
    ASSERT_TRUE(p.Feed(input).ok());
    ASSERT_TRUE(p.Finish().ok());
    EXPECT_EQ(p.bytes(), input.size());
  }
  EXPECT_EQ(Parse("\xEF\xBB").rows, (Rows{{"\xEF\xBB"}}));
}

TEST(CsvParserTest, SkipsBlankLinesAndEmptyInput) {
  EXPECT_EQ(Parse("a\n\n\r\nb\n").rows, (Rows{{"a"}, {"b"}}));
  EXPECT_EQ(Parse("a\n\n\r\nb\n").lines, (std::vector<uint64_t>{1, 4}));
  EXPECT_TRUE(Parse("").rows.empty());
  EXPECT_TRUE(Parse("\xEF\xBB\xBF").rows.empty());
}

TEST(CsvParserTest, MalformedRecordsCostOneRow) {
  auto p = Parse("a,b\n1,\"x\"y\n2,ok\n3,b\"ad\n4,fine\n");
  ASSERT_EQ(p.rows.size(), 5u);
  EXPECT_EQ(p.rows[1][0], "!error");
  EXPECT_EQ(p.rows[2], (std::vector<std::string>{"2", "ok"}));
  EXPECT_EQ(p.rows[3][0], "!error");
  EXPECT_EQ(p.rows[4], (std::vector<std::string>{"4", "fine"}));
}

TEST(CsvParserTest, UnterminatedQuoteAtEndIsReported) {
  auto p = Parse("a\n\"never closed\nmore");
  ASSERT_EQ(p.rows.size(), 2u);
  EXPECT_EQ(p.rows[1][0], "!error");
  EXPECT_NE(p.rows[1][1].find("not closed"), std::string::npos);
}

TEST(CsvParserTest, EnforcesFieldAndFieldCountLimits) {
  CsvParser::Options o;
  o.max_field_bytes = 8;
  o.max_fields = 3;
  auto p = Parse("short,x\n0123456789,y\n\"0123456789\",z\na,b,c,d\nok\n", 0, o);
  ASSERT_EQ(p.rows.size(), 5u);
  EXPECT_EQ(p.rows[0], (std::vector<std::string>{"short", "x"}));
  EXPECT_EQ(p.rows[1][0], "!error");
  EXPECT_EQ(p.rows[2][0], "!error");
  EXPECT_EQ(p.rows[3][0], "!error");
  EXPECT_EQ(p.rows[4], (std::vector<std::string>{"ok"}));
}

TEST(CsvParserTest, ChunkBoundariesNeverChangeTheResult) {
  std::string input =
      "\xEF\xBB\xBFuser_id,item_id,note\r\nU1,P1,\"a, \"\"b\"\"\r\nc\"\r\n\r\nU2,P2,\nU3,\"P\"\"3\",x\"y\nU4,P4,end";
  Parsed whole = Parse(input);
  ASSERT_EQ(whole.rows.size(), 5u);
  for (size_t chunk = 1; chunk <= input.size(); ++chunk) {
    Parsed p = Parse(input, chunk);
    EXPECT_EQ(p.rows, whole.rows) << "chunk " << chunk;
    EXPECT_EQ(p.lines, whole.lines) << "chunk " << chunk;
  }
}

TEST(CsvParserTest, RandomInputsMatchAcrossChunkings) {
  std::mt19937 rng(7);
  const std::string alphabet = "ab,\"\r\n";
  for (int t = 0; t < 300; ++t) {
    std::string s;
    for (int i = 0, n = rng() % 60; i < n; ++i) s.push_back(alphabet[rng() % alphabet.size()]);
    Parsed whole = Parse(s);
    Parsed bytewise = Parse(s, 1);
    EXPECT_EQ(whole.rows, bytewise.rows) << s;
    EXPECT_EQ(whole.lines, bytewise.lines) << s;
  }
}

TEST(CsvParserTest, CallbackErrorStopsParsing) {
  int seen = 0;
  CsvParser p({}, [&](const CsvRecord&) {
    ++seen;
    return Status::Internal("stop");
  });
  EXPECT_FALSE(p.Feed("a\nb\nc\n").ok());
  EXPECT_EQ(seen, 1);
}

}  // namespace
}  // namespace embedrec
