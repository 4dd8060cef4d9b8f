/* The cluster C API from C, linked with libshoal through pkg-config shoal-c alone (see
 * c_cluster_test.sh, which starts the workers and checks the predictions against the C++
 * engine's). Connects to the workers given, calibrates from images held in memory (the first
 * `calibrate` images of an IDX file, with their labels), takes the accuracies of a profile
 * file, then runs the next `count` images
 * under the deadline, blocking and by callback, and prints one CSV row per input:
 *   image,outcome,label,probability,units,p0,...,p9   (units: worker:subnet;worker:subnet)
 * Every error a C caller can reach is checked on the way. Exits 1 on any failure. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal_cluster.h"

static int failures = 0;
#define CHECK(cond, ...)                                      \
  do {                                                        \
    if (!(cond)) {                                            \
      ++failures;                                             \
      fprintf(stderr, "FAILED %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                           \
      fprintf(stderr, "\n");                                  \
    }                                                         \
  } while (0)

static unsigned char* read_file(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *size = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char* data = malloc(*size ? *size : 1);
  if (data && fread(data, 1, *size, f) != *size) {
    free(data);
    data = NULL;
  }
  fclose(f);
  return data;
}

static void print_row(uint32_t image, const shoal_prediction* p, const float* probabilities, size_t classes) {
  printf("%u,%s,%d,%.6f,", image, p->outcome == SHOAL_ANSWERED ? "answered" : "other", p->label, p->probability);
  for (uint32_t u = 0; u < p->used_count && u < SHOAL_MAX_UNITS; ++u) {
    printf("%s%u:%s", u ? ";" : "", p->used[u].worker, p->used[u].subnet_name);
  }
  for (size_t c = 0; c < classes; ++c) printf(",%.7f", probabilities ? probabilities[c] : 0.0f);
  printf("\n");
}

/* What a callback hands to the waiting thread. */
typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  shoal_prediction prediction;
  float probabilities[64];
  size_t classes;
} waiter;

static void on_done(void* user, const shoal_prediction* p, const float* probabilities, size_t classes) {
  waiter* w = user;
  pthread_mutex_lock(&w->mu);
  w->prediction = *p;
  w->classes = classes < 64 ? classes : 64;
  for (size_t c = 0; c < w->classes; ++c) w->probabilities[c] = probabilities ? probabilities[c] : 0.0f;
  w->done = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

int main(int argc, char** argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: %s WORKER1 WORKER2 IMAGES.idx LABELS.idx CALIBRATE COUNT DEADLINE_MS PROFILE\n", argv[0]);
    return 2;
  }
  const uint32_t calibrate = (uint32_t)atoi(argv[5]), count = (uint32_t)atoi(argv[6]);
  const double deadline_ms = atof(argv[7]);
  size_t image_size = 0, label_size = 0;
  unsigned char* idx = read_file(argv[3], &image_size);
  unsigned char* labels = read_file(argv[4], &label_size);
  if (!idx || !labels || image_size < 16 || label_size < 8) {
    fprintf(stderr, "cannot read %s or %s\n", argv[3], argv[4]);
    return 1;
  }
  const unsigned char* pixels = idx + 16; /* IDX: magic, count, rows, columns */
  const unsigned char* truth = labels + 8;
  shoal_error err;

  /* Errors before any worker: no workers, a worker that is not running. */
  shoal_cluster* cluster = NULL;
  shoal_cluster_config config;
  memset(&config, 0, sizeof(config));
  CHECK(shoal_cluster_connect(&config, &cluster, &err) == SHOAL_INVALID_ARGUMENT && cluster == NULL, "no workers");
  const char* nobody[] = {"127.0.0.1:1"};
  config.workers = nobody;
  config.worker_count = 1;
  CHECK(shoal_cluster_connect(&config, &cluster, &err) != SHOAL_OK, "nobody listens on port 1");
  CHECK(strstr(err.message, "127.0.0.1:1") != NULL, "the error names the worker: %s", err.message);
  config.policy = "fastest";
  const char* workers[] = {argv[1], argv[2]};
  config.workers = workers;
  config.worker_count = 2;
  CHECK(shoal_cluster_connect(&config, &cluster, &err) == SHOAL_INVALID_ARGUMENT, "unknown policy: %s", err.message);
  CHECK(strstr(err.message, "adaensemble") != NULL, "the error lists the policies: %s", err.message);

  config.policy = NULL;
  config.wait_ms = 3000;
  CHECK(shoal_cluster_connect(&config, &cluster, &err) == SHOAL_OK, "%s", err.message);
  if (!cluster) return 1;
  const size_t bytes = shoal_cluster_image_bytes(cluster);
  const uint32_t classes = shoal_cluster_classes(cluster);
  CHECK(bytes == 28 * 28 && shoal_cluster_input_height(cluster) == 28 && shoal_cluster_input_channels(cluster) == 1,
        "%zu bytes an image", bytes);
  CHECK(classes == 10, "%u classes", classes);
  CHECK(shoal_cluster_worker_count(cluster) == 2, "%zu workers", shoal_cluster_worker_count(cluster));

  shoal_prediction p;
  float probabilities[10];
  CHECK(shoal_cluster_infer(cluster, pixels, bytes, deadline_ms, 0, probabilities, 10, &p, &err) ==
            SHOAL_INVALID_ARGUMENT && strstr(err.message, "calibrate") != NULL,
        "an input before calibrating: %s", err.message);
  unsigned char bad_labels[4] = {0, 1, 200, 3};
  CHECK(shoal_cluster_calibrate(cluster, pixels, bad_labels, 4, 2, &err) == SHOAL_INVALID_ARGUMENT &&
            strstr(err.message, "200") != NULL,
        "a label past the classes: %s", err.message);
  CHECK(shoal_cluster_calibrate(cluster, pixels, truth, calibrate, 20, &err) == SHOAL_OK, "%s", err.message);
  /* A few hundred images rank one member alone first; the shipped profile (5000 images) ranks
   * ensembles first, so that the inputs below are fused from several units. */
  CHECK(shoal_cluster_load_profile(cluster, "no-such.shoalprof", pixels, calibrate, 20, &err) == SHOAL_NOT_FOUND,
        "a missing profile: %s", err.message);
  CHECK(shoal_cluster_load_profile(cluster, argv[8], pixels, calibrate, 20, &err) == SHOAL_OK, "%s", err.message);

  CHECK(shoal_cluster_infer(cluster, pixels, bytes - 1, deadline_ms, 0, probabilities, 10, &p, &err) ==
            SHOAL_INVALID_ARGUMENT && strstr(err.message, "784") != NULL,
        "a short image: %s", err.message);
  CHECK(shoal_cluster_infer(cluster, pixels, bytes, -1, 0, probabilities, 10, &p, &err) == SHOAL_INVALID_ARGUMENT,
        "a negative deadline");
  CHECK(shoal_cluster_infer(cluster, pixels, bytes, deadline_ms, 0, probabilities, 5, &p, &err) ==
            SHOAL_INVALID_ARGUMENT,
        "room for too few probabilities");
  CHECK(shoal_cluster_infer(NULL, pixels, bytes, deadline_ms, 0, probabilities, 10, &p, &err) == SHOAL_INVALID_ARGUMENT,
        "a NULL cluster");
  CHECK(shoal_cluster_set_policy(cluster, "fastest", NULL, &err) == SHOAL_INVALID_ARGUMENT, "an unknown policy");

  /* The inputs: blocking, then by callback, alternately. */
  waiter w;
  pthread_mutex_init(&w.mu, NULL);
  pthread_cond_init(&w.cv, NULL);
  uint32_t answered = 0, right = 0;
  double worst_ms = 0;
  for (uint32_t i = calibrate; i < calibrate + count; ++i) {
    const unsigned char* image = pixels + (size_t)i * bytes;
    if (i % 2 == 0) {
      CHECK(shoal_cluster_infer(cluster, image, bytes, deadline_ms, 0, probabilities, 10, &p, &err) == SHOAL_OK, "%s",
            err.message);
      print_row(i, &p, probabilities, classes);
    } else {
      w.done = 0;
      uint64_t ticket = 0;
      CHECK(shoal_cluster_submit(cluster, image, bytes, deadline_ms, 0, on_done, &w, &ticket, &err) == SHOAL_OK, "%s",
            err.message);
      pthread_mutex_lock(&w.mu);
      while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
      pthread_mutex_unlock(&w.mu);
      CHECK(w.prediction.ticket == ticket, "ticket %llu, expected %llu", (unsigned long long)w.prediction.ticket,
            (unsigned long long)ticket);
      p = w.prediction;
      print_row(i, &p, w.prediction.outcome == SHOAL_ANSWERED ? w.probabilities : NULL, classes);
    }
    if (p.outcome == SHOAL_ANSWERED) {
      ++answered;
      right += p.label == truth[i];
      if (p.latency_ms > worst_ms) worst_ms = p.latency_ms;
    }
  }

  /* The state a dashboard would show. */
  for (uint32_t k = 0; k < 2; ++k) {
    shoal_worker_state s;
    CHECK(shoal_cluster_worker(cluster, k, &s, &err) == SHOAL_OK, "%s", err.message);
    CHECK(s.up && s.planned && s.subnets == 4 && strlen(s.member) > 0, "worker %u: up %d planned %d, %u subnets", k,
          s.up, s.planned, s.subnets);
    char name[16];
    double ms = 0;
    CHECK(shoal_cluster_worker_subnet(cluster, k, 0, name, sizeof(name), &ms, &err) == SHOAL_OK && ms > 0 &&
              isfinite(ms),
          "worker %u subnet 0: %s, %g ms", k, name, ms);
    fprintf(stderr, "worker %u: %s serves %s, %u subnets (%s predicted %.2f ms), link %.3f ms\n", k, s.address,
            s.member, s.subnets, name, ms, s.link_rtt_ms);
  }
  CHECK(shoal_cluster_worker(cluster, 2, &(shoal_worker_state){0}, &err) == SHOAL_INVALID_ARGUMENT, "worker 2 of 2");
  shoal_cluster_counters counters;
  shoal_cluster_get_counters(cluster, &counters);
  CHECK(counters.answered >= answered, "%llu answered", (unsigned long long)counters.answered);
  size_t needed = 0;
  CHECK(shoal_cluster_status_json(cluster, NULL, 0, &needed, &err) == SHOAL_OK && needed > 2, "%s", err.message);
  char* json = malloc(needed);
  CHECK(shoal_cluster_status_json(cluster, json, needed, &needed, &err) == SHOAL_OK && json[0] == '{', "%s", err.message);
  free(json);
  shoal_cluster_close(cluster);
  shoal_cluster_close(NULL);

  fprintf(stderr, "%u of %u answered by %.0f ms, %u right; slowest %.2f ms; %s\n", answered, count, deadline_ms, right,
          worst_ms, failures ? "FAILED" : "ok");
  free(idx);
  free(labels);
  return failures ? 1 : 0;
}
