// shoal worker: serve one model's subnets to masters over TCP or UDP.

#include <chrono>
#include <cstdio>

#include "command.h"
#include "shoal/json.h"
#include "shoal/net/http_server.h"
#include "shoal/net/key_file.h"
#include "shoal/net/monitor.h"
#include "shoal/net/transport.h"
#include "shoal/net/worker_server.h"

namespace shoal::cli {
namespace {

int run_worker(const Args& args) {
  if (!args.has("--model")) return fail("worker", "needs --model FILE");
  block_stop_signals();  // SIGINT and SIGTERM stop the server cleanly (below)
  const std::string listen = args.get("--listen", "127.0.0.1:0");
  std::string key;
  if (args.has("--key-file")) {
    auto loaded = key_option(args);
    if (!loaded.is_ok()) return fail("worker", loaded.status());
    key = loaded.value();
  }
  auto slowdown = args.number("--slowdown", 1.0);
  if (!slowdown.is_ok()) return fail("worker", slowdown.status());
  auto model = Model::from_file(args.get("--model"));
  if (!model.is_ok()) return fail("worker", model.status());
  net::WorkerOptions options;
  options.member = args.get("--member");
  if (args.has("--subnets")) options.subnets = split_list(args.get("--subnets"));
  options.slowdown = slowdown.value();
  options.key = key;
  auto kernels = backend_option(args);
  if (!kernels.is_ok()) return fail("worker", kernels.status());
  options.backend = kernels.value();
  auto threads = threads_option(args);
  if (!threads.is_ok()) return fail("worker", threads.status());
  options.threads = threads.value();
  // Masters served, leaving and refused, on stderr as it happens (a JSON line each with --json).
  const auto started = std::chrono::steady_clock::now();
  options.on_event = [json = args.has("--json"), started](const net::PeerEvent& e) {
    if (json) {
      Json j;
      j.begin_object().field("event", std::string("peer ") + net::peer_event_name(e.kind))
          .field("at_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count())
          .field("peer", e.peer);
      if (!e.why.empty()) j.field("why", e.why);
      std::fprintf(stderr, "%s\n", j.end_object().str().c_str());
    } else {
      std::fprintf(stderr, "shoal worker: %s %s%s%s\n", net::peer_event_name(e.kind), e.peer.c_str(),
                   e.why.empty() ? "" : ": ", e.why.c_str());
    }
  };
  auto server = net::WorkerServer::create(model.value(), options);
  if (!server.is_ok()) return fail("worker", server.status());
  auto transport = net::parse_transport(args.get("--transport", "tcp"));
  if (!transport.is_ok()) return fail("worker", transport.status());
  auto listener = net::listen_on(transport.value(), listen);
  if (!listener.is_ok()) return fail("worker", listener.status());

  const Status allowed = server.value()->may_serve_on(*listener.value());
  if (!allowed.is_ok()) return fail("worker", allowed);
  on_stop_signal([s = server.value().get()](int) { s->stop(); });
  std::unique_ptr<net::HttpServer> http;
  if (args.has("--http")) {
    auto serving_http = net::HttpServer::start(args.get("--http"), key, net::worker_monitor(*server.value()));
    if (!serving_http.is_ok()) return fail("worker", serving_http.status());
    http = std::move(serving_http.value());
    std::fprintf(stderr, "shoal worker: health and metrics on http://%s/ (/metrics, /status, /health)\n",
                 http->address().c_str());
  }

  std::printf("listening on %s:%u\n", listen.substr(0, listen.rfind(':')).c_str(), listener.value()->port());
  std::fflush(stdout);
  std::fprintf(stderr, "shoal worker: serving %s (%u subnets) with slowdown %.2f; Ctrl-C stops\n",
               args.get("--model").c_str(), model->fb().subnets()->size(), options.slowdown);
  const Status served = server.value()->run(*listener.value());
  if (!served.is_ok()) return fail("worker", served);
  const net::WorkerCounters& c = server.value()->counters();
  auto n = [](const std::atomic<uint64_t>& v) { return static_cast<unsigned long long>(v.load()); };
  std::fprintf(stderr,
               "shoal worker: stopped after %llu results, %llu expired, %llu busy, %llu malformed, %llu refused; "
               "%llu connections, %llu turned away (too many peers), %llu dropped\n",
               n(c.served), n(c.expired), n(c.busy), n(c.malformed), n(c.rejected), n(c.connections),
               n(c.peers_refused), n(c.peers_dropped));
  return 0;
}

}  // namespace

const Command kWorker = {
    "worker",
    "serve a model's subnets to masters over TCP or UDP",
    "shoal worker --model MODEL [--listen HOST:PORT] [--transport tcp|udp] [--key-file FILE] [--slowdown F] [--member NAME]\n"
    "       [--http HOST:PORT]",
    "Serves inference requests for any subnet of MODEL. Requests wait in one queue for the\n"
    "engine; one whose deadline passes while waiting is answered 'expired' instead of run.\n"
    "Prints 'listening on HOST:PORT' on stdout once ready (port 0 picks a free port).\n"
    "With --key-file every frame carries an HMAC-SHA256 under that pre-shared key and\n"
    "frames without the right one are refused; listening beyond loopback requires it.\n"
    "Bounded against misbehaving peers: at most 32 masters, 64 queued requests shared\n"
    "fairly (others are answered 'busy'), timeouts on handshakes, frames and silence.\n"
    "SIGINT or SIGTERM stops it cleanly and prints its counters.",
    {{"--model", "FILE", "the model to serve"},
     {"--listen", "HOST:PORT", "address to listen on (default 127.0.0.1:0; 0.0.0.0:PORT for all)"},
     {"--transport", "NAME", "tcp (default) or udp: one datagram per request and reply, nothing retransmitted"},
     {"--key-file", "FILE", "pre-shared key; masters must use the same one"},
     {"--backend", "NAME", "ref, avx2, avx512, neon or xnnpack, as this CPU and build have (default: shoal's fastest)"},
     {"--threads", "N", "threads per inference (default 1)"},
     {"--slowdown", "F", "stretch compute time F times, to emulate a slower device (default 1)"},
     {"--member", "NAME", "this member's name in the ensemble (default: the model's name)"},
     {"--subnets", "LIST", "serve only these subnets, by name or width (a Fluid device: lower50 or upper50; default all)"},
     {"--json", nullptr, "print each master served, leaving or refused as a JSON line on stderr"},
     {"--http", "HOST:PORT", "serve /metrics (Prometheus), /status (JSON) and a live page at / (loopback, or with --key-file)"}},
    run_worker,
};

}  // namespace shoal::cli
