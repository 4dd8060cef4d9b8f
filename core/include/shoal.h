/* shoal's C API: load a model, create an engine (in memory of your own if you like), look
 * up a subnet, run it. For C firmware and for bindings from other languages; C++ callers
 * can use shoal/engine.h directly. Part of shoal::core (pkg-config shoal-core) and of libshoal,
 * the shared library (pkg-config shoal-c), with the cluster API (shoal_cluster.h).
 *
 *   shoal_model* model;
 *   shoal_error err;
 *   if (shoal_model_load(model_data, model_size, 0, &model, &err) != SHOAL_OK) { puts(err.message); ... }
 *   size_t need;
 *   shoal_engine_required_bytes(model, NULL, &need, &err);   // fits in your static arena?
 *   shoal_engine* engine;
 *   shoal_engine_create(model, NULL, 1, arena, sizeof(arena), &engine, &err);   // 1 thread
 *   uint32_t half;
 *   shoal_model_find_subnet(model, "0.5", &half, &err);
 *   shoal_engine_run(engine, half, image, shoal_model_input_floats(model, half),
 *                    scores, shoal_model_output_floats(model, half), &err);
 *   shoal_engine_destroy(engine);
 *   shoal_model_free(model);
 *
 * Every function that can fail returns a shoal_status and, when `err` is not NULL, fills
 * it with the code and a plain-language message (truncated to fit). Nothing here aborts on
 * bad input: a corrupt model or a wrong count is an error, not a crash.
 */
#ifndef SHOAL_H_
#define SHOAL_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum shoal_status {
  SHOAL_OK = 0,
  SHOAL_INVALID_ARGUMENT = 1, /* an unknown subnet, a wrong count, memory too small */
  SHOAL_NOT_FOUND = 2,        /* a name that does not exist */
  SHOAL_CORRUPT = 3,          /* the model bytes failed verification */
  SHOAL_UNSUPPORTED = 4,      /* valid, but not something this build can do */
  SHOAL_IO = 5,               /* the operating system refused */
  SHOAL_TIMEOUT = 6,
  SHOAL_BUSY = 7,
  SHOAL_OUT_OF_MEMORY = 8     /* an allocation failed */
} shoal_status;

typedef struct shoal_error {
  shoal_status code;
  char message[256];
} shoal_error;

typedef struct shoal_model shoal_model;
typedef struct shoal_engine shoal_engine;

/* "ok", "invalid argument", "corrupt", ... */
const char* shoal_status_string(shoal_status status);
/* This library's version, "0.1.0". */
const char* shoal_version(void);

/* Checks `size` bytes of a .shoal model. With copy = 0 they are used in place and must be
 * 64-byte aligned and outlive the model (a const array from `shoal embed`); with copy != 0
 * the model keeps a copy of its own. Takes a small handle from the heap (and the copy). */
shoal_status shoal_model_load(const void* data, size_t size, int copy, shoal_model** out, shoal_error* err);
void shoal_model_free(shoal_model* model);

uint32_t shoal_model_subnet_count(const shoal_model* model);
/* The name of subnet `index` ("w0.5"), or NULL past the end. */
const char* shoal_model_subnet_name(const shoal_model* model, uint32_t index);
/* A subnet by name ("w0.5") or width ("0.5"); the error lists the subnets there are. */
shoal_status shoal_model_find_subnet(const shoal_model* model, const char* name_or_width, uint32_t* index,
                                     shoal_error* err);
/* Floats of the input (height x width x channels) and output (scores) at a subnet; 0 for an
 * index past the end. */
size_t shoal_model_input_floats(const shoal_model* model, uint32_t subnet);
size_t shoal_model_output_floats(const shoal_model* model, uint32_t subnet);
/* The image the model takes: height x width x channels (0s for a NULL model). */
void shoal_model_input_shape(const shoal_model* model, uint32_t* height, uint32_t* width, uint32_t* channels);
/* An image (height x width x channels bytes, row by row) as the model's input: (pixel / 255 -
 * mean) / std with the model's own normalisation. Another size is an error unless resize != 0
 * (nearest neighbour; a grey image's channel repeated). `out` receives
 * shoal_model_input_floats floats. Allocates nothing. */
shoal_status shoal_model_pack_image(const shoal_model* model, const uint8_t* pixels, uint32_t height, uint32_t width,
                                    uint32_t channels, int resize, float* out, size_t out_count, shoal_error* err);

/* Backends by name: NULL or "" is the fastest this CPU runs; "ref", "avx2", "avx512", "neon". */
shoal_status shoal_engine_required_bytes(const shoal_model* model, const char* backend, size_t* bytes,
                                         shoal_error* err);
/* With memory = NULL the engine allocates its own; otherwise `memory` (64-byte aligned, at
 * least shoal_engine_required_bytes) holds its arena and weights and must outlive it. The
 * model must outlive the engine. threads: 1 for firmware. */
shoal_status shoal_engine_create(const shoal_model* model, const char* backend, unsigned threads, void* memory,
                                 size_t memory_bytes, shoal_engine** out, shoal_error* err);
/* Runs a subnet on one input: `in` holds shoal_model_input_floats floats, `out` receives
 * shoal_model_output_floats. Allocates nothing. */
shoal_status shoal_engine_run(shoal_engine* engine, uint32_t subnet, const float* in, size_t in_count, float* out,
                              size_t out_count, shoal_error* err);
void shoal_engine_destroy(shoal_engine* engine);

#ifdef __cplusplus
}
#endif

#endif /* SHOAL_H_ */
