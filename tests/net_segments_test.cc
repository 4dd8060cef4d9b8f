// Graph segments over the wire: a worker runs any segment of any subnet on a tensor it
// receives and returns the segment's output; f16 and int8 encodings and the error they add;
// and every malformed segment request refused with a clear error, the peer still served.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "net_test_util.h"
#include "shoal/channel_partition.h"
#include "shoal/net/messages.h"
#include "shoal/net/tensor_encoding.h"

namespace shoal::net {
namespace {

TEST(TensorEncoding, HalfRoundTripsEveryHalfAndRoundsToNearestEven) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = half_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(half_to_float(float_to_half(f)))) << h;
      continue;
    }
    ASSERT_EQ(float_to_half(f), h) << "half " << h << " = " << f;
  }
  EXPECT_EQ(half_to_float(float_to_half(65504.0f)), 65504.0f);
  EXPECT_TRUE(std::isinf(half_to_float(float_to_half(65520.0f))));  // halfway past the largest: up, to infinity
  EXPECT_EQ(half_to_float(float_to_half(65519.0f)), 65504.0f);
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048), float_to_half(1.0f));  // a tie, to the even mantissa
  EXPECT_EQ(float_to_half(1.0f + 3.0f / 2048), float_to_half(1.0f + 4.0f / 2048));
  EXPECT_EQ(float_to_half(1e-9f), 0u);
  EXPECT_EQ(float_to_half(-0.0f), 0x8000u);
#if (defined(__x86_64__) && defined(__FLT16_MAX__)) || defined(__aarch64__)
  // Against the compiler's own conversion (x86: _Float16; Arm: __fp16, IEEE format), over
  // every float exponent.
#if defined(__aarch64__)
  using CompilerHalf = __fp16;
#else
  using CompilerHalf = _Float16;
#endif
  std::mt19937 rng(3);
  for (int i = 0; i < 1000000; ++i) {
    uint32_t bits = rng();
    float f;
    std::memcpy(&f, &bits, 4);
    if (std::isnan(f)) continue;
    const CompilerHalf want = static_cast<CompilerHalf>(f);
    uint16_t want_bits;
    std::memcpy(&want_bits, &want, 2);
    ASSERT_EQ(float_to_half(f), want_bits) << f;
  }
#endif
}

TEST(TensorEncoding, EachEncodingSaysHowFarItMovedTheValues) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> x(1000);
  for (float& v : x) v = std::max(0.0f, dist(rng));  // after a ReLU, as at most cuts
  for (const char* name : {"f32", "f16", "int8"}) {
    const wire::TensorEncoding e = parse_tensor_encoding(name).value();
    EncodedTensor t;
    encode_tensor(x.data(), x.size(), e, &t);
    EXPECT_EQ(t.data.size(), encoded_bytes(e, x.size()));
    std::vector<float> y(x.size());
    ASSERT_TRUE(decode_tensor(t.encoding, t.scale, t.data.data(), t.data.size(), y.data(), y.size()).is_ok());
    float worst = 0, largest = 0;
    for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(y[i] - x[i])), largest = std::max(largest, x[i]);
    // Within a rounding of the largest value: Arm fuses the encoder's multiply and subtract.
    EXPECT_NEAR(t.max_error, worst, 1e-6f * largest) << name;
    const float bound = e == wire::TensorEncoding::F32 ? 0.0f : e == wire::TensorEncoding::F16 ? largest / 2048 : largest / 254;
    EXPECT_LE(worst, bound * 1.0001f) << name;
    if (e != wire::TensorEncoding::F32) {
      EXPECT_GT(worst, 0.0f) << name;
    }
  }
  EncodedTensor zeros;
  std::vector<float> z(8, 0.0f), back(8, 1.0f);
  encode_tensor(z.data(), z.size(), wire::TensorEncoding::Int8, &zeros);
  ASSERT_TRUE(decode_tensor(zeros.encoding, zeros.scale, zeros.data.data(), zeros.data.size(), back.data(), 8).is_ok());
  EXPECT_EQ(back, z);

  std::vector<uint8_t> bytes(16);
  std::vector<float> out(4);
  EXPECT_TRUE(decode_tensor(wire::TensorEncoding::F32, 1, bytes.data(), 16, out.data(), 4).is_ok());
  EXPECT_EQ(decode_tensor(wire::TensorEncoding::F32, 1, bytes.data(), 15, out.data(), 4).code(), StatusCode::kCorrupt);
  EXPECT_EQ(decode_tensor(wire::TensorEncoding::F16, 1, bytes.data(), 16, out.data(), 4).code(), StatusCode::kCorrupt);
  EXPECT_EQ(decode_tensor(wire::TensorEncoding::Int8, 0, bytes.data(), 4, out.data(), 4).code(), StatusCode::kCorrupt);
  EXPECT_EQ(decode_tensor(wire::TensorEncoding::Int8, NAN, bytes.data(), 4, out.data(), 4).code(), StatusCode::kCorrupt);
  EXPECT_EQ(decode_tensor(static_cast<wire::TensorEncoding>(9), 1, bytes.data(), 4, out.data(), 4).code(), StatusCode::kCorrupt);
  // Non-finite values, as sent or as an int8 scale makes them, are refused, naming the value.
  const float bad[4] = {1.0f, NAN, 2.0f, 3.0f}, inf[4] = {1.0f, 2.0f, 3.0f, INFINITY};
  for (const float* v : {bad, inf}) {
    std::memcpy(bytes.data(), v, 16);
    const Status st = decode_tensor(wire::TensorEncoding::F32, 1, bytes.data(), 16, out.data(), 4);
    EXPECT_EQ(st.code(), StatusCode::kCorrupt);
    EXPECT_NE(st.message().find("finite"), std::string::npos) << st.message();
  }
  std::vector<uint8_t> big(4, 127);
  EXPECT_EQ(decode_tensor(wire::TensorEncoding::Int8, 3e38f, big.data(), 4, out.data(), 4).code(), StatusCode::kCorrupt);
  const uint8_t half_inf[2] = {0x00, 0x7c};
  EXPECT_EQ(decode_tensor(wire::TensorEncoding::F16, 1, half_inf, 2, out.data(), 1).code(), StatusCode::kCorrupt);
  EXPECT_FALSE(parse_tensor_encoding("bf16").is_ok());
}

class Segments : public ::testing::Test {
 protected:
  void SetUp() override {
    auto model = Model::from_file(SHOAL_SOURCE_DIR "/models/resnet8-slim-s1.shoal");
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    model_ = std::make_unique<Model>(std::move(model.value()));
    auto server = WorkerServer::create(*model_, WorkerOptions{});
    ASSERT_TRUE(server.is_ok());
    server_ = std::move(server.value());
    auto engine = Engine::create(*model_);
    ASSERT_TRUE(engine.is_ok());
    engine_ = std::move(engine.value());
    std::mt19937 rng(9);
    image_.resize(28 * 28);
    for (uint8_t& p : image_) p = static_cast<uint8_t>(rng());
    Images one;
    one.count = 1, one.h = 28, one.w = 28, one.c = 1;
    one.pixels = image_;
    ASSERT_TRUE(image_to_input(one, 0, *model_, Fit::kExact, &input_).is_ok());
  }

  std::string name(uint32_t tensor) const { return model_->fb().tensors()->Get(tensor)->name()->str(); }
  // A cut tensor's number in requests: its place among the model's cuts (the worker's Hello
  // lists the same), from 1.
  uint16_t number(uint32_t cut) const {
    const std::vector<uint32_t> cuts = model_->cut_tensors();
    return static_cast<uint16_t>(std::find(cuts.begin(), cuts.end(), cut) - cuts.begin() + 1);
  }

  // This process's engine from `from` to `to` at `subnet`.
  std::vector<float> local(uint32_t subnet, uint32_t from, uint32_t to, const std::vector<float>& in) {
    const Segment seg = engine_->segment(name(from), name(to)).value();
    std::vector<float> out(engine_->packed_size(subnet, to));
    EXPECT_TRUE(engine_->run(subnet, seg, in.data(), in.size(), out.data(), out.size()).is_ok());
    return out;
  }

  const wire::InferResult* reply(Connection& c, uint64_t id, Frame* f) {
    EXPECT_TRUE(read_frame(c, Limits{}, f, 5000).is_ok());
    EXPECT_EQ(f->header.request_id, id);
    if (f->header.type == wire::MessageType::Error) {
      wire::ErrorCode code;
      ADD_FAILURE() << parse_error(*f, &code).to_string();
      return nullptr;
    }
    return verified_payload<wire::InferResult>(*f);
  }

  wire::ErrorCode refused(Connection& c, uint64_t id, std::string* message) {
    Frame f;
    EXPECT_TRUE(read_frame(c, Limits{}, &f, 5000).is_ok());
    EXPECT_EQ(f.header.type, wire::MessageType::Error);
    EXPECT_EQ(f.header.request_id, id);
    wire::ErrorCode code = wire::ErrorCode::None;
    *message = parse_error(f, &code).message();
    return code;
  }

  std::unique_ptr<Model> model_;
  std::unique_ptr<WorkerServer> server_;
  std::unique_ptr<Engine> engine_;
  std::vector<uint8_t> image_;
  std::vector<float> input_;
};

// Device to edge at every cut of every subnet: the head here, the tail on the worker, the
// probabilities bit for bit those of the whole network here; and the other way, the worker
// runs the head from the image and returns the cut tensor.
TEST_F(Segments, EveryCutOfEverySubnetComposesOverTheWire) {
  auto c = testing::shake_hands(*server_);
  const fb::Model& m = model_->fb();
  const std::vector<uint32_t> cuts = model_->cut_tensors();
  ASSERT_GE(cuts.size(), 3u);
  uint64_t id = 1;
  for (uint32_t s = 0; s < m.subnets()->size(); ++s) {
    const std::string subnet = m.subnets()->Get(s)->name()->str();
    const std::vector<float> want = local(s, m.input(), m.output(), input_);
    for (uint32_t cut : cuts) {
      const std::string where = subnet + " at " + name(cut);
      const std::vector<float> head = local(s, m.input(), cut, input_);
      EncodedTensor sent;
      encode_tensor(head.data(), head.size(), wire::TensorEncoding::F32, &sent);
      SegmentRequest tail{number(cut), 0, &sent};
      ASSERT_TRUE(send_segment_request(*c, id, s, 1'000'000, tail, nullptr, 0).is_ok());
      Frame f;
      const wire::InferResult* r = reply(*c, id++, &f);
      ASSERT_NE(r, nullptr) << where;
      std::vector<float> got;
      ASSERT_TRUE(result_probabilities(*r, static_cast<uint32_t>(want.size()), &got).is_ok()) << where;
      EXPECT_EQ(got, want) << where;

      SegmentRequest front{0, number(cut)};
      ASSERT_TRUE(send_segment_request(*c, id, s, 1'000'000, front, image_.data(), image_.size()).is_ok());
      r = reply(*c, id++, &f);
      ASSERT_NE(r, nullptr) << where;
      float error = -1;
      ASSERT_TRUE(result_tensor(*r, head.size(), &got, &error).is_ok()) << where;
      EXPECT_EQ(got, head) << where;
      EXPECT_EQ(error, 0.0f);
    }
  }
  // A middle piece, cut to cut, at the widest subnet.
  const uint32_t widest = m.subnets()->size() - 1;
  const std::vector<float> a = local(widest, m.input(), cuts.front(), input_);
  EncodedTensor sent;
  encode_tensor(a.data(), a.size(), wire::TensorEncoding::F32, &sent);
  SegmentRequest middle{number(cuts.front()), number(cuts.back()), &sent};
  ASSERT_TRUE(send_segment_request(*c, id, widest, 1'000'000, middle, nullptr, 0).is_ok());
  Frame f;
  const wire::InferResult* r = reply(*c, id, &f);
  ASSERT_NE(r, nullptr);
  std::vector<float> got;
  ASSERT_TRUE(result_tensor(*r, engine_->packed_size(widest, cuts.back()), &got).is_ok());
  EXPECT_EQ(got, local(widest, cuts.front(), cuts.back(), a));
}

// f16 and int8 both ways: the worker reports the error its encoding added, and the
// probabilities stay close to the f32 ones.
TEST_F(Segments, SmallerEncodingsReportTheErrorTheyAdd) {
  auto c = testing::shake_hands(*server_);
  const fb::Model& m = model_->fb();
  const uint32_t s = m.subnets()->size() - 1, cut = model_->cut_tensors()[1];
  const std::string subnet = m.subnets()->Get(s)->name()->str();
  const std::vector<float> head = local(s, m.input(), cut, input_), want = local(s, m.input(), m.output(), input_);
  uint64_t id = 100;
  for (auto e : {wire::TensorEncoding::F16, wire::TensorEncoding::Int8}) {
    SegmentRequest front{0, number(cut), nullptr, e};
    ASSERT_TRUE(send_segment_request(*c, id, s, 1'000'000, front, image_.data(), image_.size()).is_ok());
    Frame f;
    const wire::InferResult* r = reply(*c, id++, &f);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->output()->encoding(), e);
    EXPECT_EQ(r->output()->data()->size(), encoded_bytes(e, head.size()));
    std::vector<float> got;
    float reported = -1, worst = 0, largest = 0;
    ASSERT_TRUE(result_tensor(*r, head.size(), &got, &reported).is_ok());
    for (size_t i = 0; i < head.size(); ++i) {
      worst = std::max(worst, std::fabs(got[i] - head[i]));
      largest = std::max(largest, std::fabs(head[i]));
    }
    EXPECT_NEAR(reported, worst, 1e-6f * largest) << tensor_encoding_name(e);
    EXPECT_GT(worst, 0.0f);

    EncodedTensor sent;
    encode_tensor(head.data(), head.size(), e, &sent);
    SegmentRequest tail{number(cut), 0, &sent};
    ASSERT_TRUE(send_segment_request(*c, id, s, 1'000'000, tail, nullptr, 0).is_ok());
    r = reply(*c, id++, &f);
    ASSERT_NE(r, nullptr);
    ASSERT_TRUE(result_probabilities(*r, static_cast<uint32_t>(want.size()), &got).is_ok());
    for (size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(got[k], want[k], 0.02) << tensor_encoding_name(e);
  }
}

TEST_F(Segments, AMalformedSegmentIsRefusedAndThePeerStillServed) {
  auto c = testing::shake_hands(*server_);
  const fb::Model& m = model_->fb();
  const uint32_t cut = model_->cut_tensors()[0];
  const std::vector<float> head = local(0, m.input(), cut, input_);
  const uint32_t s = 0;
  EncodedTensor sent;
  encode_tensor(head.data(), head.size(), wire::TensorEncoding::F32, &sent);
  const std::vector<uint32_t> cuts = model_->cut_tensors();
  const uint16_t past = static_cast<uint16_t>(cuts.size() + 1);  // no such cut: requests cannot name any other tensor
  EncodedTensor short_one = sent;
  short_one.data.resize(sent.data.size() - 4);
  EncodedTensor zero_scale;
  encode_tensor(head.data(), head.size(), wire::TensorEncoding::Int8, &zero_scale);
  zero_scale.scale = 0;
  EncodedTensor huge_scale = zero_scale;  // every value past the largest float
  huge_scale.scale = 3e38f;
  std::fill(huge_scale.data.begin(), huge_scale.data.end(), uint8_t{100});
  EncodedTensor not_a_number = sent;
  const float nan = NAN;
  std::memcpy(not_a_number.data.data() + 4, &nan, 4);
  struct Case {
    const char* what;
    SegmentRequest segment;
    bool with_image;
    std::string says;
  } cases[] = {
      {"from an unknown cut", {past, 0, &sent}, false, "no cut " + std::to_string(past)},
      {"to an unknown cut", {0, past, nullptr}, true, "no cut " + std::to_string(past)},
      {"backwards", {number(cuts.back()), number(cuts.front()), &sent}, false, "not computed after"},
      {"no tensor", {number(cut), 0, nullptr}, false, "carries its tensor"},
      {"image too", {number(cut), 0, &sent}, true, "no image"},
      {"short tensor", {number(cut), 0, &short_one}, false, "holds"},
      {"int8 scale 0", {number(cut), 0, &zero_scale}, false, "scale"},
      {"int8 scale 3e38", {number(cut), 0, &huge_scale}, false, "finite"},
      {"a NaN", {number(cut), 0, &not_a_number}, false, "finite"},
      {"unknown output encoding", {0, number(cut), nullptr, static_cast<wire::TensorEncoding>(7)}, true, "encoding"},
  };
  uint64_t id = 200;
  for (const Case& k : cases) {
    if (k.with_image && k.segment.from != 0) {
      // send_segment_request drops the image when `from` is set: write this one by hand.
      flatbuffers::FlatBufferBuilder fbb;
      auto pixels = fbb.CreateVector(image_);
      auto data = fbb.CreateVector(sent.data);
      auto tensor = wire::CreateTensor(fbb, sent.encoding, 1, 0, data);
      fbb.Finish(wire::CreateInferRequest(fbb, s, 1'000'000, pixels, 0, k.segment.from, 0, tensor));
      ASSERT_TRUE(write_frame(*c, wire::MessageType::InferRequest, id, fbb.GetBufferPointer(), fbb.GetSize()).is_ok());
    } else {
      ASSERT_TRUE(send_segment_request(*c, id, s, 1'000'000, k.segment, image_.data(),
                                       k.with_image ? image_.size() : 0).is_ok());
    }
    std::string message;
    EXPECT_EQ(refused(*c, id++, &message), wire::ErrorCode::BadInput) << k.what;
    EXPECT_NE(message.find(k.says), std::string::npos) << k.what << ": " << message;
  }
  EXPECT_EQ(server_->counters().served.load(), 0u);
  SegmentRequest tail{number(cut), 0, &sent};
  ASSERT_TRUE(send_segment_request(*c, id, s, 1'000'000, tail, nullptr, 0).is_ok());
  Frame f;
  EXPECT_NE(reply(*c, id, &f), nullptr);
}

// A share of a channel partition over the wire: the worker's slices are its engine's own
// (run_nodes here at the same ranges), and every malformed share is refused, naming what
// is wrong, before anything runs; the peer is still served after.
TEST_F(Segments, ASharesSlicesAreTheEnginesOwnAndAMalformedShareIsRefused) {
  auto c = testing::shake_hands(*server_);
  const fb::Model& m = model_->fb();
  const uint32_t subnet = m.subnets()->size() - 1;
  auto plan = plan_channel_partition(*model_, subnet, {1, 1});
  ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
  PartitionExecutor ex(*model_, plan.value());
  ASSERT_TRUE(ex.begin(input_.data(), input_.size()).is_ok());
  uint64_t id = 300;
  for (size_t s = 0; s < plan->stages.size(); ++s) {
    const PartitionStage& st = plan->stages[s];
    if (!st.split) break;
    std::vector<EncodedTensor> encoded(st.inputs.size());
    std::vector<const EncodedTensor*> views;
    for (size_t i = 0; i < st.inputs.size(); ++i) {
      encode_tensor(ex.whole(st.inputs[i]).data(), ex.whole(st.inputs[i]).size(), wire::TensorEncoding::F32, &encoded[i]);
      views.push_back(&encoded[i]);
    }
    ShareRequest share;
    share.first_node = st.first_node, share.end_node = st.end_node;
    share.ranges = st.ranges[1].data(), share.groups = st.ranges[1].size();
    share.input_tensors = st.inputs.data(), share.inputs = views.data(), share.input_count = views.size();
    share.output_tensors = st.outputs.data(), share.output_count = st.outputs.size();
    ASSERT_TRUE(send_share_request(*c, id, subnet, 1'000'000, share).is_ok());
    Frame f;
    const wire::InferResult* r = reply(*c, id++, &f);
    ASSERT_NE(r, nullptr);
    // The same share on this process's engine.
    std::vector<TensorIn> in;
    for (uint32_t t : st.inputs) in.push_back({t, ex.whole(t).data(), ex.whole(t).size()});
    for (size_t i = 0; i < st.outputs.size(); ++i) {
      std::vector<float> want(ex.slice_size(s, 1, i)), got(want.size());
      const TensorOut out{st.outputs[i], want.data(), want.size()};
      ASSERT_TRUE(engine_->run_nodes(subnet, st.first_node, st.end_node, st.ranges[1].data(), in.data(), in.size(), &out, 1).is_ok());
      ASSERT_TRUE(result_share_output(*r, i, got.size(), got.data()).is_ok());
      EXPECT_EQ(got, want) << "stage " << s << " output " << i;
    }
    for (uint32_t p = 0; p < 2; ++p) ASSERT_TRUE(ex.run_here(*engine_, s, p).is_ok());

    if (s != 1) continue;
    // Stage 1 again, broken one way at a time.
    const std::vector<uint32_t> no_such{9999};
    std::vector<fb::GroupRange> past = st.ranges[1];
    const uint32_t g = m.tensors()->Get(st.outputs[0])->group();
    past[g] = fb::GroupRange(past[g].lo(), m.groups()->Get(g)->capacity() + 1);
    EncodedTensor short_one = encoded[0];
    short_one.data.resize(short_one.data.size() - 4);
    const EncodedTensor* short_view = &short_one;
    const std::vector<uint32_t> earlier{st.inputs[0]};
    struct Case {
      const char* what;
      ShareRequest share;
      const char* says;
    };
    std::vector<Case> cases;
    auto broken = [&](const char* what, const char* says, auto change) {
      Case k{what, share, says};
      change(k.share);
      cases.push_back(k);
    };
    broken("one range short", "one channel range per group", [&](ShareRequest& q) { q.groups -= 1; });
    broken("range past the subnet", "non-empty part", [&](ShareRequest& q) { q.ranges = past.data(); });
    broken("no inputs", "give it as an input", [&](ShareRequest& q) { q.input_count = 0; });
    broken("no such tensor", "no tensor 9999", [&](ShareRequest& q) { q.input_tensors = no_such.data(); });
    broken("short tensor", "bytes", [&](ShareRequest& q) { q.inputs = &short_view; q.input_count = 1; });
    broken("output made before", "not a tensor made by nodes", [&](ShareRequest& q) { q.output_tensors = earlier.data(); q.output_count = 1; });
    broken("nodes past the end", "not a range", [&](ShareRequest& q) { q.end_node = 9999; });
    broken("no outputs", "names its input tensors", [&](ShareRequest& q) { q.output_count = 0; });
    const uint64_t served = server_->counters().served.load();
    for (const Case& k : cases) {
      ASSERT_TRUE(send_share_request(*c, id, subnet, 1'000'000, k.share).is_ok());
      std::string message;
      EXPECT_EQ(refused(*c, id++, &message), wire::ErrorCode::BadInput) << k.what;
      EXPECT_NE(message.find(k.says), std::string::npos) << k.what << ": " << message;
    }
    EXPECT_EQ(server_->counters().served.load(), served);
    ASSERT_TRUE(send_share_request(*c, id, subnet, 1'000'000, share).is_ok());
    Frame f2;
    EXPECT_NE(reply(*c, id++, &f2), nullptr);
  }
}

}  // namespace
}  // namespace shoal::net
