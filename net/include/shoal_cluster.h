/* shoal's cluster C API: a master that sends each input to workers (`shoal worker` on other
 * devices), at the widths its policy picks for the deadline, and fuses the results that come
 * back in time. Beside shoal.h (one device's engine); both are in libshoal (the shared
 * library, which exports only these two headers' functions) and in the static libraries
 * (link -lshoal_net -lshoal_runtime -lshoal_core, pkg-config shoal).
 *
 *   const char* workers[] = {"192.168.1.20:7000", "192.168.1.21:7000"};
 *   shoal_cluster_config config = {0};
 *   config.workers = workers;
 *   config.worker_count = 2;
 *   shoal_cluster* cluster;
 *   shoal_error err;
 *   if (shoal_cluster_connect(&config, &cluster, &err) != SHOAL_OK) { puts(err.message); ... }
 *   // Latency of every worker and subnet, and the accuracy of every ensemble: images of the
 *   // model's input size (uint8, height x width x channels each) with their labels.
 *   shoal_cluster_calibrate(cluster, images, labels, 500, 20, &err);
 *   shoal_prediction p;
 *   float probabilities[10];
 *   shoal_cluster_infer(cluster, image, image_bytes, 30.0, 0, probabilities, 10, &p, &err);  // 30 ms, priority 0
 *   if (p.outcome == SHOAL_ANSWERED) printf("class %d (%.2f) in %.1f ms\n", p.label, p.probability, p.latency_ms);
 *   shoal_cluster_close(cluster);
 *
 * Threads: every function may be called from any thread, and several at once, on one cluster
 * (submit and infer from many threads keep many inputs in flight), except shoal_cluster_close,
 * which must be the last call. A shoal_cluster_submit callback runs on one of shoal's threads
 * while shoal holds the cluster's lock: copy what it needs and return; it must not call any
 * shoal_cluster_ function.
 *
 * Errors: every function that can fail returns a shoal_status and, when `err` is not NULL,
 * fills it with the code and a plain-language message. A worker that is down, slow or hostile
 * is never an error of a call: its units fail or come late, and the input is answered by the
 * others (or counted as missed).
 */
#ifndef SHOAL_CLUSTER_H_
#define SHOAL_CLUSTER_H_

#include <stddef.h>
#include <stdint.h>

#include "shoal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shoal_cluster shoal_cluster;

/* Zero-initialise, then set what you need. */
typedef struct shoal_cluster_config {
  const char* const* workers; /* "HOST:PORT" each, in the order you will see them */
  size_t worker_count;
  const char* cluster_file;   /* instead of workers: a cluster description (JSON, schema/cluster.fbs);
                                 its key, transport and policy apply unless set below */
  const char* key_file;       /* the workers' pre-shared key (NULL: none, or the cluster file's) */
  const char* transport;      /* "tcp" (NULL: the default, or the cluster file's) or "udp" */
  const char* policy;         /* NULL: "adaensemble" (or the cluster file's); see shoal_cluster_set_policy */
  const char* local_model;    /* a member (.shoal) the master runs itself, as insurance (NULL: none) */
  unsigned wait_ms;           /* keep trying this long for the first worker to answer (0: once) */
} shoal_cluster_config;

/* Connects to every worker it can and returns once one answers; the others are dialled in the
 * background and join when they come up. Fails, naming each worker and why, when none does. */
shoal_status shoal_cluster_connect(const shoal_cluster_config* config, shoal_cluster** out, shoal_error* err);
/* Stops the cluster, after the inputs in flight: each is answered by its deadline (missed at
 * worst) and its callback called. NULL is allowed. */
void shoal_cluster_close(shoal_cluster* cluster);

/* What every worker takes and gives: images of height x width x channels bytes, scores over
 * `classes` classes. */
uint32_t shoal_cluster_input_height(const shoal_cluster* cluster);
uint32_t shoal_cluster_input_width(const shoal_cluster* cluster);
uint32_t shoal_cluster_input_channels(const shoal_cluster* cluster);
size_t shoal_cluster_image_bytes(const shoal_cluster* cluster);
uint32_t shoal_cluster_classes(const shoal_cluster* cluster);

/* Before the first input, one of:
 * - shoal_cluster_calibrate: times every worker and subnet on the first `latency_images` of
 *   `count` images (shoal_cluster_image_bytes each, one after another), and measures the
 *   accuracy of every member at every width, and of their ensembles, on all `count` with their
 *   `labels` (class indices). A few hundred labelled images are enough to start; the shipped
 *   members' profiles used 5000.
 * - shoal_cluster_load_profile: the accuracies from a profile file (`shoal profile accuracy`),
 *   after timing every worker and subnet on `latency_images` of `count` images (labels not
 *   needed). */
shoal_status shoal_cluster_calibrate(shoal_cluster* cluster, const uint8_t* images, const uint8_t* labels,
                                     uint32_t count, uint32_t latency_images, shoal_error* err);
shoal_status shoal_cluster_load_profile(shoal_cluster* cluster, const char* profile_path, const uint8_t* images,
                                        uint32_t count, uint32_t latency_images, shoal_error* err);

/* Zero-initialise; 0 leaves a parameter at its default. */
typedef struct shoal_policy_params {
  double alpha;            /* cascade: escalate when the top probability is below this (0.8) */
  double static_target_ms; /* static: the latency its fixed plan is chosen for (needed for static) */
} shoal_policy_params;

/* The policy that plans each input (`shoal master --help` describes them): "adaensemble" (the
 * default), "dynamic", "static", "cascade", "fluid-ht", "adaptive"; with a local_model also
 * "fluid-ha", "disnet" and "split". `params` may be NULL. */
shoal_status shoal_cluster_set_policy(shoal_cluster* cluster, const char* policy, const shoal_policy_params* params,
                                      shoal_error* err);

typedef enum shoal_outcome {
  SHOAL_ANSWERED = 0,  /* fused from the units back by the deadline */
  SHOAL_INSURED = 1,   /* only the master's own local_model answered in time */
  SHOAL_TOO_SHORT = 2, /* the deadline is shorter than any worker could answer in: said at once */
  SHOAL_SHED = 3,      /* dropped at once under overload (priority above 0) */
  SHOAL_MISSED = 4,    /* nothing came back in time */
  SHOAL_NO_WORKER = 5, /* no worker is up */
  SHOAL_BUSY_INPUT = 6 /* too many inputs in flight */
} shoal_outcome;

#define SHOAL_MAX_UNITS 8 /* units reported per prediction (more are counted, not listed) */

typedef struct shoal_unit {
  uint32_t worker;     /* index in the order of the config (shoal_cluster_worker) */
  uint32_t subnet;     /* index in that worker's subnets */
  char subnet_name[16]; /* "w0.5" ("" for a worker that joined after the input was submitted) */
} shoal_unit;

typedef struct shoal_prediction {
  uint64_t ticket;
  shoal_outcome outcome;
  int32_t label;        /* the class, -1 unless answered or insured */
  float probability;    /* of that class, fused over the units used */
  double latency_ms;    /* from submit to answer */
  uint32_t used_count;  /* units whose results were fused... */
  shoal_unit used[SHOAL_MAX_UNITS];
  uint32_t dropped_count; /* ...and those that failed or came late */
} shoal_prediction;

/* Runs one image (shoal_cluster_image_bytes bytes) under a deadline and waits for the answer;
 * `probabilities` (NULL, or room for `classes` floats) receives the fused scores. A missed
 * input is not an error: see prediction->outcome. `priority`: 0 is never narrowed or shed. */
shoal_status shoal_cluster_infer(shoal_cluster* cluster, const uint8_t* image, size_t image_bytes, double deadline_ms,
                                 int priority, float* probabilities, size_t classes, shoal_prediction* prediction,
                                 shoal_error* err);

/* As infer, without waiting: `done` is called once with the prediction and the fused scores
 * (`classes` floats; NULL unless answered), on a shoal thread (see Threads above). The image
 * is copied: it may be reused at once. `ticket` (may be NULL) receives the input's ticket. */
typedef void (*shoal_prediction_callback)(void* user, const shoal_prediction* prediction,
                                          const float* probabilities, size_t classes);
shoal_status shoal_cluster_submit(shoal_cluster* cluster, const uint8_t* image, size_t image_bytes,
                                  double deadline_ms, int priority, shoal_prediction_callback done, void* user,
                                  uint64_t* ticket, shoal_error* err);

/* A worker as the master sees it now. */
typedef struct shoal_worker_state {
  char address[64];
  char member[64];     /* the member it serves ("" until it has answered once) */
  uint32_t subnets;    /* how many; shoal_cluster_worker_subnet names them */
  int up;              /* answering now */
  int planned;         /* the accuracy profile has its member: policies use it */
  double for_s;        /* up, or down, for this long */
  double link_rtt_ms;  /* -1: not measured yet */
  double cpu_load;     /* per core, from its heartbeats; -1: not reported */
  double temperature_c;/* -1: not reported */
  uint32_t queue;      /* requests waiting at it, everyone's */
  uint32_t in_flight;  /* this master's */
} shoal_worker_state;

size_t shoal_cluster_worker_count(const shoal_cluster* cluster);
shoal_status shoal_cluster_worker(const shoal_cluster* cluster, uint32_t worker, shoal_worker_state* state,
                                  shoal_error* err);
/* The name ("w0.5") and predicted latency now (ms, queueing included; infinity until timed) of
 * one of its subnets. */
shoal_status shoal_cluster_worker_subnet(const shoal_cluster* cluster, uint32_t worker, uint32_t subnet,
                                         char* name, size_t name_size, double* predicted_ms, shoal_error* err);

typedef struct shoal_cluster_counters {
  uint64_t submitted, answered, insured, missed, shed, too_short, no_worker;
  uint64_t late_replies, hedges, disconnects, reconnects, joins;
} shoal_cluster_counters;
void shoal_cluster_get_counters(const shoal_cluster* cluster, shoal_cluster_counters* counters);

/* Everything above and more (per policy: latency histogram, accuracy where labelled; the last
 * two minutes) as the JSON of `shoal master --http`'s /status. Writes at most `size` bytes
 * (NUL-terminated) and sets *needed to the full length plus one; call again with more room
 * when it is larger than `size`. */
shoal_status shoal_cluster_status_json(const shoal_cluster* cluster, char* buffer, size_t size, size_t* needed,
                                       shoal_error* err);

#ifdef __cplusplus
}
#endif

#endif /* SHOAL_CLUSTER_H_ */
