// HMAC-SHA256 (FIPS 180-4, RFC 2104), for authenticating frames with a pre-shared key.
#ifndef SHOAL_NET_HMAC_H_
#define SHOAL_NET_HMAC_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace shoal::net {

using Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  Digest finish();

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buffer_[64];
  size_t buffered_ = 0;
  uint64_t length_ = 0;
};

// The MAC of `a` followed by `b` under `key`.
Digest hmac_sha256(const std::string& key, const void* a, size_t a_size, const void* b, size_t b_size);

// Compares without stopping at the first difference, so timing does not leak the tag.
bool digests_equal(const uint8_t* a, const uint8_t* b);

}  // namespace shoal::net

#endif  // SHOAL_NET_HMAC_H_
