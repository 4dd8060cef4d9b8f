// Writes the seed corpus: well-formed frames of every message type (keyed and not) and a
// small model. Run once; the output lives in fuzz/corpus/. Usage: make_seeds DIR
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "shoal/builder.h"
#include "shoal/net/frame.h"
#include "shoal/net/messages.h"

using namespace shoal;
using namespace shoal::net;

namespace {

void save(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
}

// What `send` writes on a connection with this key, as the fuzz target reads it (the first
// byte says keyed or not).
template <typename Send>
std::vector<uint8_t> frames(bool keyed, Send send) {
  auto [a, b] = loopback_pair();
  if (keyed) a->set_key("fuzz key");
  send(*a);
  a->shutdown();
  std::vector<uint8_t> out{static_cast<uint8_t>(keyed ? 1 : 0)};
  uint8_t chunk[4096];
  for (;;) {
    auto n = b->read_some(chunk, sizeof(chunk), 100);
    if (!n.is_ok()) break;
    out.insert(out.end(), chunk, chunk + n.value());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: make_seeds DIR\n"), 2;
  const std::string dir = argv[1];
  WorkerInfo info;
  info.software = "shoal";
  info.member = "m0";
  info.subnets = {{"w0.5", 0.5f, 1000, 0.8f}, {"w1.0", 1.0f, 4000, 0.9f}};
  info.cuts = {"stage1", "stage2"};
  info.input_h = info.input_w = 28, info.input_c = 1, info.classes = 10;
  info.nonce = std::string(16, 'n');
  const std::vector<uint8_t> image(28 * 28, 7);
  const float probs[10] = {0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f};
  for (bool keyed : {false, true}) {
    const std::string k = keyed ? "-keyed" : "";
    save(dir + "/frame/hello" + k, frames(keyed, [&](Connection& c) { (void)send_hello(c, info); }));
    save(dir + "/frame/session" + k, frames(keyed, [&](Connection& c) {
      (void)send_hello(c, info);
      (void)send_infer_request(c, 1, 1, 5000, image.data(), image.size());
      (void)send_infer_result(c, 1, probs, 10, 100, 5);
      (void)send_infer_result(c, 4, probs, 10, 100, 5, /*top_k=*/3);
      (void)send_heartbeat(c, 2, ResourceReport{0.5f, 1u << 30, 45.0f, 3, 0.9f});
      (void)send_error(c, 3, wire::ErrorCode::Busy, "full");
      std::vector<float> values(64);
      for (size_t i = 0; i < values.size(); ++i) values[i] = 0.25f * static_cast<float>(i);
      for (auto e : {wire::TensorEncoding::F32, wire::TensorEncoding::F16, wire::TensorEncoding::Int8}) {
        EncodedTensor t;
        encode_tensor(values.data(), values.size(), e, &t);
        (void)send_segment_request(c, 5, 1, 5000, SegmentRequest{1, 0, &t}, nullptr, 0);
        (void)send_segment_request(c, 6, 1, 5000, SegmentRequest{0, 1, nullptr, e}, image.data(), image.size());
        (void)send_segment_result(c, 6, t, 100, 5);
        // A share of a channel partition: two groups narrowed, one input, one output.
        const fb::GroupRange ranges[] = {fb::GroupRange(0, 1), fb::GroupRange(4, 8), fb::GroupRange(0, 3)};
        const uint32_t in_ids[] = {0}, out_ids[] = {1};
        const EncodedTensor* ins[] = {&t};
        ShareRequest share;
        share.first_node = 0, share.end_node = 1, share.ranges = ranges, share.groups = 3;
        share.input_tensors = in_ids, share.inputs = ins, share.input_count = 1;
        share.output_tensors = out_ids, share.output_count = 1, share.output_encoding = e;
        (void)send_share_request(c, 7, 1, 5000, share);
        (void)send_share_result(c, 7, ins, 1, 100, 5);
      }
    }));
  }
  ModelBuilder b("tiny", 2);
  const uint32_t g0 = b.group("image", 1, false), g1 = b.group("c1", 8), g2 = b.group("logits", 3, false);
  const uint32_t x = b.input("input", g0, 6, 6);
  LayerOptions relu;
  relu.activation = fb::Activation::Relu;
  const uint32_t c1 = b.conv2d("conv1", x, g1, make_window(3, 1, 1), relu);
  const uint32_t p = b.global_avg_pool("pool", c1);
  const uint32_t fc = b.linear("fc", p, g2, LayerOptions{});
  b.output(b.softmax("prob", fc));
  b.subnet("w0.5", 0.5f, 0.0f, 0.5f, 0);
  b.subnet("w1.0", 1.0f, 0.0f, 1.0f, 1);
  save(dir + "/model/tiny.shoal", serialize_model(b.spec()));
  // Two branches concatenated, then ceil-mode pooling: the Concat checks and kernel.
  ModelBuilder cb("tiny-concat", 2);
  const uint32_t ci = cb.group("image", 1, false), ca = cb.group("a", 4), cc = cb.group("b", 6);
  const uint32_t cl = cb.group("logits", 3, false);
  const uint32_t cx = cb.input("input", ci, 7, 7);
  const uint32_t left = cb.conv2d("a", cx, ca, make_window(1), relu);
  const uint32_t right = cb.conv2d("b", cx, cc, fb::Window(1, 3, 1, 1, 0, 1, 0, 1, 1, 1), relu);
  const uint32_t cat = cb.max_pool("pool", cb.concat("cat", {left, right}), make_window(2, 2), true);
  cb.output(cb.softmax("prob", cb.linear("fc", cat, cl, LayerOptions{})));
  cb.subnet("w0.5", 0.5f, 0.0f, 0.5f, 0);
  cb.subnet("w1.0", 1.0f, 0.0f, 1.0f, 1);
  save(dir + "/model/tiny-concat.shoal", serialize_model(cb.spec()));
  std::printf("seeds written under %s\n", dir.c_str());
  return 0;
}
