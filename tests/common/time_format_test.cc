#include "common/time_format.h"

#include <gtest/gtest.h>

namespace embedrec {
namespace {

TEST(TimeFormatTest, FormatsUtc) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1705312800), "2024-01-15T10:00:00Z");
  EXPECT_EQ(FormatRfc3339Millis(1705433025123), "2024-01-16T19:23:45.123Z");
  EXPECT_EQ(FormatRfc3339Millis(1705433025007), "2024-01-16T19:23:45.007Z");
  EXPECT_EQ(FormatRfc3339Millis(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339(253402300799), "9999-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339(253402300800), "10000-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(-62135596800), "0001-01-01T00:00:00Z");
}

TEST(TimeFormatTest, ParsesZonesAndFractions) {
  EXPECT_EQ(ParseRfc3339Millis("2024-01-15T10:00:00Z"), 1705312800000);
  EXPECT_EQ(ParseRfc3339Millis("2024-01-15T12:00:00+02:00"), 1705312800000);
  EXPECT_EQ(ParseRfc3339Millis("2024-01-16T19:23:45.123456Z"), 1705433025123);
}

TEST(TimeFormatTest, RejectsMalformedOrZonelessTimes) {
  EXPECT_FALSE(ParseRfc3339Millis("2024-01-15T10:00:00"));
  EXPECT_FALSE(ParseRfc3339Millis("2024-02-30T10:00:00Z"));
  EXPECT_FALSE(ParseRfc3339Millis("2024-01-15 10:00"));
  EXPECT_FALSE(ParseRfc3339Millis("yesterday"));
  EXPECT_FALSE(ParseRfc3339Millis("2024-01-15T10:00:00Zjunk"));
}

TEST(TimeFormatTest, ExportedTimesAreReadTheirZoneOrUtc) {
  bool zoneless = false;
  EXPECT_EQ(ParseDateTimeMillis("2024-01-15 10:00:00", &zoneless), 1705312800000);
  EXPECT_TRUE(zoneless);
  EXPECT_EQ(ParseDateTimeMillis("2024-01-15T10:00", &zoneless), 1705312800000);
  EXPECT_EQ(ParseDateTimeMillis("2024-01-15", &zoneless), 1705276800000);  // its midnight
  EXPECT_TRUE(zoneless);
  EXPECT_EQ(ParseDateTimeMillis("2024-01-15 12:00:00+0200", &zoneless), 1705312800000);
  EXPECT_FALSE(zoneless);
  EXPECT_EQ(ParseDateTimeMillis("2024-01-15T10:00:00.5Z", &zoneless), 1705312800500);
  EXPECT_FALSE(zoneless);
  for (const char* bad : {"2024-01-15Z", "2024-01-15+02:00", "2024-01-15 10", "2024-02-30", "15/01/2024",
                          "2024-01-15 10:00:00 UTC", "2024-01-15T10:00:00+2", "yesterday", ""}) {
    EXPECT_FALSE(ParseDateTimeMillis(bad)) << bad;
  }
}

}  // namespace
}  // namespace embedrec
