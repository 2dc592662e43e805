// Text checks used wherever a client's text is stored or echoed.
#include "common/strings.h"

#include <gtest/gtest.h>

namespace embedrec {
namespace {

TEST(StringsTest, ControlCharactersAreFoundLineBreaksOnlyWhereAllowed) {
  EXPECT_FALSE(HasControlChars("SKU-123 ünïcode", false));
  EXPECT_TRUE(HasControlChars(std::string("a\0b", 3), false));
  EXPECT_TRUE(HasControlChars("a\x7f", true));
  EXPECT_TRUE(HasControlChars("line\nbreak", false));
  EXPECT_FALSE(HasControlChars("line\nbreak\tand\r", true));
  EXPECT_TRUE(HasControlChars("bell\a", true));
}

TEST(StringsTest, InvalidUtf8IsReplacedAndValidTextKept) {
  EXPECT_EQ(ValidUtf8("plain"), "plain");
  EXPECT_EQ(ValidUtf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(ValidUtf8("/items/\xff\xfe"), "/items/\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(ValidUtf8("a\xc3"), "a\xef\xbf\xbd");          // cut short
  EXPECT_EQ(ValidUtf8("\xe2\x82\xac\x80x"), "\xe2\x82\xac\xef\xbf\xbdx");  // a stray continuation
  EXPECT_TRUE(IsValidUtf8(ValidUtf8("\xf0\x9f\x98\x80\xf0\x9f")));
}

}  // namespace
}  // namespace embedrec
