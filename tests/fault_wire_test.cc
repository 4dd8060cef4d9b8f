// FaultWire, the fault network's model of one direction of a link, on made-up times: when each
// chunk goes on, and above all when a stream's lost chunk is resent (Linux's RACK-TLP).
#include "shoal/net/fault_wire.h"

#include <gtest/gtest.h>

namespace shoal::net {
namespace {

using Clock = FaultWire::Clock;
using std::chrono::microseconds;

Clock::time_point at_ms(double ms) { return Clock::time_point{} + microseconds(static_cast<int64_t>(ms * 1000 + 1e9)); }
double ms_of(Clock::time_point t) { return std::chrono::duration<double, std::milli>(t - at_ms(0)).count(); }

std::vector<uint8_t> bytes(uint8_t tag, size_t n = 1) { return std::vector<uint8_t>(n, tag); }

// Takes every chunk, in order: {tag, when it went on}.
std::vector<std::pair<int, double>> drain(FaultWire& wire) {
  std::vector<std::pair<int, double>> out;
  while (!wire.empty()) {
    const double when = ms_of(wire.next_at());
    out.push_back({wire.take_front()[0], when});
  }
  return out;
}

constexpr FaultWire::Recovery kLinux{4.0, 200.0, true};  // 4 ms round trip

TEST(FaultWire, DatagramsGoOnWhenDueAndMayOvertake) {
  FaultWire wire(false);
  wire.add(at_ms(0), at_ms(3), 0, bytes(1), kLinux);
  wire.add(at_ms(1), at_ms(2), 0, bytes(2), kLinux);
  const auto out = drain(wire);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], std::make_pair(2, 2.0));
  EXPECT_EQ(out[1], std::make_pair(1, 3.0));
}

TEST(FaultWire, AStreamKeepsItsOrder) {
  FaultWire wire(true);
  wire.add(at_ms(0), at_ms(3), 0, bytes(1, 10), kLinux);
  wire.add(at_ms(1), at_ms(2), 0, bytes(2, 5), kLinux);
  EXPECT_EQ(wire.bytes(), 15u);
  const auto out = drain(wire);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], std::make_pair(1, 3.0));
  EXPECT_EQ(out[1], std::make_pair(2, 3.0)) << "held behind the first";
  EXPECT_EQ(wire.bytes(), 0u);
}

TEST(FaultWire, ALostChunkFollowedByAnArrivalIsResentARoundTripAndAQuarterLater) {
  FaultWire wire(true);
  wire.add(at_ms(0), at_ms(2), 1, bytes(1), kLinux);
  wire.add(at_ms(10), at_ms(12), 0, bytes(2), kLinux);
  wire.add(at_ms(11), at_ms(13), 0, bytes(3), kLinux);
  const auto out = drain(wire);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_DOUBLE_EQ(out[0].second, 12 + 1.25 * 4) << "SACK back, a quarter round trip's wait, resent";
  EXPECT_DOUBLE_EQ(out[1].second, 17.0) << "behind the hole";
  EXPECT_DOUBLE_EQ(out[2].second, 17.0);
}

TEST(FaultWire, ALoneLostChunkWaitsForTheTailLossProbe) {
  FaultWire wire(true);
  wire.add(at_ms(0), at_ms(2), 1, bytes(1), kLinux);
  EXPECT_DOUBLE_EQ(ms_of(wire.next_at()), 2 * 4 + 200 + 2) << "2 round trips plus the minimum RTO, then one way";
  // A later chunk sent after the probe would have gone does not bring it earlier.
  wire.add(at_ms(300), at_ms(302), 0, bytes(2), kLinux);
  EXPECT_DOUBLE_EQ(ms_of(wire.next_at()), 210.0);
}

TEST(FaultWire, ALostChunkWithOthersInFlightIsProbedAfterTwoRoundTrips) {
  FaultWire wire(true);
  wire.add(at_ms(0), at_ms(2), 0, bytes(1), kLinux);
  wire.add(at_ms(1), at_ms(3), 1, bytes(2), kLinux);  // sent within a round trip of the first
  const auto out = drain(wire);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_DOUBLE_EQ(out[1].second, 1 + 2 * 4 + 2 + 2);
}

TEST(FaultWire, EachLostRetransmissionAddsABackedOffTimeout) {
  FaultWire wire(true);
  wire.add(at_ms(0), at_ms(2), 3, bytes(1), kLinux);  // the first copy and two resent ones lost
  wire.add(at_ms(5), at_ms(7), 0, bytes(2), kLinux);
  EXPECT_DOUBLE_EQ(ms_of(wire.next_at()), 7 + 5 + 200 + 400);
}

TEST(FaultWire, WithoutFastRecoveryEveryLossWaitsTheMinimumTimeout) {
  FaultWire wire(true);
  const FaultWire::Recovery slow{4.0, 200.0, false};
  wire.add(at_ms(0), at_ms(2), 1, bytes(1), slow);
  wire.add(at_ms(1), at_ms(3), 0, bytes(2), slow);
  const auto out = drain(wire);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_DOUBLE_EQ(out[0].second, 202.0);
  EXPECT_DOUBLE_EQ(out[1].second, 202.0);
}

TEST(FaultWire, OnlyTheHolesBeforeAnArrivalAreRepairedByIt) {
  FaultWire wire(true);
  wire.add(at_ms(0), at_ms(2), 1, bytes(1), kLinux);
  wire.add(at_ms(10), at_ms(12), 0, bytes(2), kLinux);  // repairs 1 at 17
  wire.add(at_ms(20), at_ms(22), 1, bytes(3), kLinux);  // lost, lone: a probe at 20 + 8 + 200 + 2
  wire.add(at_ms(30), at_ms(32), 0, bytes(4), kLinux);  // repairs 3 at 37
  const auto out = drain(wire);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_DOUBLE_EQ(out[0].second, 17.0);
  EXPECT_DOUBLE_EQ(out[1].second, 17.0);
  EXPECT_DOUBLE_EQ(out[2].second, 37.0);
  EXPECT_DOUBLE_EQ(out[3].second, 37.0);
}

}  // namespace
}  // namespace shoal::net
