// SHA-256 and HMAC-SHA256 against published test vectors (FIPS 180-4 examples, RFC 4231).
#include <gtest/gtest.h>

#include <string>

#include "shoal/net/hmac.h"

namespace shoal::net {
namespace {

std::string hex(const Digest& d) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : d) s += {digits[b >> 4], digits[b & 15]};
  return s;
}

std::string sha(const std::string& text) {
  Sha256 s;
  s.update(text.data(), text.size());
  return hex(s.finish());
}

TEST(Sha256, KnownAnswers) {
  EXPECT_EQ(sha(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(HmacSha256, Rfc4231) {
  const std::string data1 = "Hi There";
  EXPECT_EQ(hex(hmac_sha256(std::string(20, '\x0b'), data1.data(), data1.size(), nullptr, 0)),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // The message split in two parts gives the same MAC.
  const std::string data2 = "what do ya want for nothing?";
  EXPECT_EQ(hex(hmac_sha256("Jefe", data2.data(), 10, data2.data() + 10, data2.size() - 10)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // A key longer than a block is hashed first.
  const std::string data6 = "Test Using Larger Than Block-Size Key - Hash Key First";
  EXPECT_EQ(hex(hmac_sha256(std::string(131, '\xaa'), data6.data(), data6.size(), nullptr, 0)),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

}  // namespace
}  // namespace shoal::net
