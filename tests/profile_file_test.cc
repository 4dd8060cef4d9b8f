// The accuracy profile file: written, read back, re-indexed to a master's workers, and
// refused with a clear error when damaged or when it does not cover the workers.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>

#include "shoal/profile_file.h"

namespace shoal {
namespace {

AccuracyProfile random_profile(std::mt19937& rng) {
  const uint32_t images = 50, classes = 4;
  std::vector<std::vector<std::vector<float>>> probs(3);
  std::vector<std::vector<uint64_t>> macs(3);
  std::vector<uint8_t> labels(images);
  for (uint8_t& l : labels) l = static_cast<uint8_t>(rng() % classes);
  AccuracyProfile p;
  p.images = "random";
  p.count = images;
  for (uint32_t m = 0; m < 3; ++m) {
    ProfileMember member;
    member.name = "member" + std::to_string(m);
    for (uint32_t s = 0; s < 2 + m; ++s) {
      member.subnets.push_back("w" + std::to_string(s));
      member.widths.push_back(0.25f * (s + 1));
      member.macs.push_back(100 * (s + 1));
      std::vector<float> v(images * classes);
      for (float& x : v) x = std::uniform_real_distribution<float>(0, 1)(rng);
      probs[m].push_back(v);
    }
    macs[m] = member.macs;
    p.members.push_back(member);
  }
  p.table = EnsembleProfile::measure(probs, macs, labels, classes).value();
  return p;
}

std::string write_temp(const std::vector<uint8_t>& bytes, const std::string& name) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return path;
}

TEST(ProfileFile, RoundTripKeepsEveryConfiguration) {
  std::mt19937 rng(1);
  const AccuracyProfile p = random_profile(rng);
  auto back = read_profile(write_temp(serialize_profile(p), "roundtrip.shoalprof"));
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->members.size(), 3u);
  EXPECT_EQ(back->members[2].subnets.size(), 4u);
  EXPECT_EQ(back->table.accuracy_by_code(), p.table.accuracy_by_code());
  EXPECT_EQ(back->table.config(0), p.table.config(0));
}

TEST(ProfileFile, WorkersMapToMembersInAnotherOrderWithFewerSubnetsAndReplicas) {
  std::mt19937 rng(2);
  const AccuracyProfile p = random_profile(rng);
  // Worker 0 serves member2's w3 and w0; workers 1 and 2 serve member0 whole (replicas);
  // member1 is not served.
  std::vector<WorkerRole> roles;
  for (const ServedModel& w : std::vector<ServedModel>{{"member2", "m", {"w3", "w0"}, {4, 1}},
                                                        {"member0", "m", {"w0", "w1"}, {1, 2}},
                                                        {"x", "member0", {"w1"}, {2}}}) {  // matched by model name
    auto role = role_for_worker(p, w);
    ASSERT_TRUE(role.is_ok()) << role.status().message();
    roles.push_back(role.value());
  }
  EXPECT_EQ(roles[0].member, 2);
  EXPECT_EQ(roles[0].profile_subnet, (std::vector<int>{3, 0}));
  EXPECT_EQ(roles[1].member, 0);
  EXPECT_EQ(roles[1].profile_subnet, (std::vector<int>{0, 1}));
  EXPECT_EQ(roles[2].member, 0);
  EXPECT_EQ(roles[2].profile_subnet, (std::vector<int>{1}));
}

TEST(ProfileFile, ErrorsSayWhatIsWrong) {
  std::mt19937 rng(3);
  const AccuracyProfile p = random_profile(rng);
  auto missing = role_for_worker(p, {"other-model", "other-model", {"w0"}, {1}});
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("no member 'other-model'"), std::string::npos);
  auto subnet = role_for_worker(p, {"member0", "m", {"w9"}, {1}});
  ASSERT_FALSE(subnet.is_ok());
  EXPECT_NE(subnet.status().message().find("no subnet 'w9'"), std::string::npos);

  std::vector<uint8_t> bytes = serialize_profile(p);
  EXPECT_FALSE(read_profile(::testing::TempDir() + "no-such.shoalprof").is_ok());
  for (size_t cut : {size_t{0}, size_t{7}, bytes.size() / 4, bytes.size() / 2}) {
    auto r = read_profile(write_temp(std::vector<uint8_t>(bytes.begin(), bytes.begin() + cut), "cut.shoalprof"));
    EXPECT_FALSE(r.is_ok()) << cut;
  }
  std::mt19937 flip(4);
  for (int i = 0; i < 500; ++i) {  // random damage must be refused or read, never crash
    std::vector<uint8_t> b = bytes;
    b[flip() % b.size()] ^= static_cast<uint8_t>(1u << (flip() % 8));
    auto r = read_profile(write_temp(b, "flip.shoalprof"));
    if (r.is_ok()) {
      EXPECT_EQ(r->table.accuracy_by_code().size(), p.table.accuracy_by_code().size());
    }
  }
}

}  // namespace
}  // namespace shoal
