/* The C API from C: a model embedded by shoal_embed_model, run in place from its const array
 * in a static arena at every subnet, on the default backend and the reference one (they must
 * agree), and every error path a C caller can reach: a corrupt model, an unknown subnet or
 * backend, memory too small or unaligned, wrong counts, NULL arguments. Exits 1 on failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal.h"
#include "resnet8_slim_s1.h"

static int failures = 0;
#define CHECK(cond, ...)                                            \
  do {                                                              \
    if (!(cond)) {                                                  \
      ++failures;                                                   \
      printf("FAILED %s:%d: %s: ", __FILE__, __LINE__, #cond);       \
      printf(__VA_ARGS__);                                          \
      printf("\n");                                                 \
    }                                                               \
  } while (0)

static _Alignas(64) unsigned char arena[2u << 20];
static _Alignas(64) unsigned char ref_arena[2u << 20];
static _Alignas(64) unsigned char corrupt[1024];

int main(void) {
  shoal_error err;
  shoal_model* model = NULL;
  CHECK(shoal_model_load(resnet8_slim_s1, resnet8_slim_s1_size, 0, &model, &err) == SHOAL_OK, "%s", err.message);
  if (!model) return 1;
  const uint32_t subnets = shoal_model_subnet_count(model);
  CHECK(subnets == 4, "%u subnets", subnets);
  CHECK(shoal_model_subnet_name(model, subnets) == NULL, "a name past the end");

  size_t need = 0, ref_need = 0;
  CHECK(shoal_engine_required_bytes(model, NULL, &need, &err) == SHOAL_OK, "%s", err.message);
  CHECK(shoal_engine_required_bytes(model, "ref", &ref_need, &err) == SHOAL_OK, "%s", err.message);
  CHECK(need <= sizeof(arena) && ref_need <= sizeof(ref_arena), "need %zu and %zu bytes", need, ref_need);
  printf("resnet8-slim-s1: the default backend needs %zu bytes, the reference %zu\n", need, ref_need);

  shoal_engine* engine = NULL;
  shoal_engine* ref = NULL;
  CHECK(shoal_engine_create(model, NULL, 1, arena, need, &engine, &err) == SHOAL_OK, "%s", err.message);
  CHECK(shoal_engine_create(model, "ref", 1, ref_arena, ref_need, &ref, &err) == SHOAL_OK, "%s", err.message);
  if (!engine || !ref) return 1;

  float image[28 * 28], scores[10], ref_scores[10];
  for (int i = 0; i < 28 * 28; ++i) image[i] = (float)((i * 37) % 255) / 255.0f - 0.3f;
  for (uint32_t s = 0; s < subnets; ++s) {
    const char* name = shoal_model_subnet_name(model, s);
    uint32_t found = 99;
    CHECK(shoal_model_find_subnet(model, name, &found, &err) == SHOAL_OK && found == s, "%s", name);
    CHECK(shoal_model_input_floats(model, s) == 28 * 28, "input floats at %s", name);
    CHECK(shoal_model_output_floats(model, s) == 10, "output floats at %s", name);
    CHECK(shoal_engine_run(engine, s, image, 28 * 28, scores, 10, &err) == SHOAL_OK, "%s", err.message);
    CHECK(shoal_engine_run(ref, s, image, 28 * 28, ref_scores, 10, &err) == SHOAL_OK, "%s", err.message);
    float sum = 0;
    int best = 0;
    for (int c = 0; c < 10; ++c) {
      sum += scores[c];
      if (scores[c] > scores[best]) best = c;
      CHECK(fabsf(scores[c] - ref_scores[c]) < 1e-5f, "%s class %d: %g vs the reference's %g", name, c, scores[c],
            ref_scores[c]);
    }
    CHECK(fabsf(sum - 1.0f) < 1e-4f, "%s: probabilities sum to %g", name, sum);
    printf("%s: class %d (p = %.3f)\n", name, best, scores[best]);
  }
  uint32_t half = 0;
  CHECK(shoal_model_find_subnet(model, "0.5", &half, &err) == SHOAL_OK, "%s", err.message);

  /* Errors, each with a plain message. */
  CHECK(shoal_model_find_subnet(model, "w0.3", &half, &err) != SHOAL_OK && err.code != SHOAL_OK, "an unknown subnet");
  CHECK(strstr(err.message, "w0.25") != NULL, "the error lists the subnets: %s", err.message);
  CHECK(shoal_engine_run(engine, subnets, image, 28 * 28, scores, 10, &err) == SHOAL_INVALID_ARGUMENT, "subnet index");
  CHECK(shoal_engine_run(engine, 0, image, 28 * 28 - 1, scores, 10, &err) == SHOAL_INVALID_ARGUMENT, "short input");
  CHECK(strstr(err.message, "784") != NULL, "the error says what is needed: %s", err.message);
  CHECK(shoal_engine_run(engine, 0, NULL, 0, scores, 10, &err) == SHOAL_INVALID_ARGUMENT, "NULL input");
  shoal_engine* none = NULL;
  CHECK(shoal_engine_create(model, NULL, 1, ref_arena, need - 1, &none, &err) == SHOAL_INVALID_ARGUMENT && !none,
        "memory one byte short");
  CHECK(shoal_engine_create(model, NULL, 1, ref_arena + 8, need, &none, &err) == SHOAL_INVALID_ARGUMENT, "unaligned");
  CHECK(shoal_engine_create(model, "tpu", 1, NULL, 0, &none, &err) == SHOAL_NOT_FOUND, "unknown backend");
  CHECK(strstr(err.message, "ref") != NULL, "the error names the backends: %s", err.message);

  memcpy(corrupt, resnet8_slim_s1, sizeof(corrupt));
  corrupt[5] ^= 0xff; /* the file identifier */
  shoal_model* bad = NULL;
  CHECK(shoal_model_load(corrupt, sizeof(corrupt), 0, &bad, &err) == SHOAL_CORRUPT && !bad, "a corrupt model");
  printf("a corrupt model: %s\n", err.message);
  CHECK(shoal_model_load(corrupt, 3, 1, &bad, NULL) == SHOAL_CORRUPT, "three bytes, no error struct");
  CHECK(shoal_model_load(resnet8_slim_s1 + 1, 1000, 0, &bad, &err) == SHOAL_INVALID_ARGUMENT, "unaligned bytes");
  CHECK(strcmp(shoal_status_string(SHOAL_CORRUPT), "corrupt") == 0, "%s", shoal_status_string(SHOAL_CORRUPT));
  CHECK(strcmp(shoal_status_string((shoal_status)42), "unknown") == 0, "out of range");

  /* A copied model outlives the bytes it came from. */
  unsigned char* copy = malloc(resnet8_slim_s1_size);
  memcpy(copy, resnet8_slim_s1, resnet8_slim_s1_size);
  shoal_model* copied = NULL;
  CHECK(shoal_model_load(copy, resnet8_slim_s1_size, 1, &copied, &err) == SHOAL_OK, "%s", err.message);
  memset(copy, 0, resnet8_slim_s1_size);
  free(copy);
  shoal_engine* heap = NULL;
  CHECK(shoal_engine_create(copied, NULL, 1, NULL, 0, &heap, &err) == SHOAL_OK, "%s", err.message);
  CHECK(shoal_engine_run(heap, subnets - 1, image, 28 * 28, ref_scores, 10, &err) == SHOAL_OK, "%s", err.message);
  CHECK(memcmp(scores, ref_scores, sizeof(scores)) == 0, "a copied model answers as the borrowed one");
  shoal_engine_destroy(heap);
  shoal_model_free(copied);

  shoal_engine_destroy(engine);
  shoal_engine_destroy(ref);
  shoal_model_free(model);
  shoal_engine_destroy(NULL);
  shoal_model_free(NULL);
  printf(failures ? "%d checks failed\n" : "all checks passed\n", failures);
  return failures ? 1 : 0;
}
