// The C API (shoal.h) over Model and Engine: handles are the C++ objects, statuses map one
// to one, and every entry checks its pointers before use.
#include "shoal.h"

#include <cstring>
#include <new>

#include "shoal/c_api_status.h"
#include "shoal/engine.h"
#include "shoal/model.h"
#include "shoal/pack_image.h"
#include "shoal/version.h"

struct shoal_model {
  shoal::Model model;
};

struct shoal_engine {
  std::unique_ptr<shoal::Engine> engine;
};

namespace {

using shoal::c_api::fail;
using shoal::c_api::ok;

shoal_status find_backend(const char* name, const shoal::Backend** backend, shoal_error* err) {
  if (!name || !*name) {
    *backend = &shoal::best_backend();
    return SHOAL_OK;
  }
  *backend = shoal::find_backend(name);
  if (*backend) return SHOAL_OK;
  return fail(err, shoal::Status(shoal::StatusCode::kNotFound, "no backend '" + std::string(name) +
                                                                   "' in this build on this CPU; there are: " +
                                                                   shoal::backend_names()));
}

}  // namespace

extern "C" {

const char* shoal_status_string(shoal_status status) {
  if (status < SHOAL_OK || status > SHOAL_OUT_OF_MEMORY) return "unknown";
  return shoal::status_code_name(static_cast<shoal::StatusCode>(status));
}

const char* shoal_version(void) { return SHOAL_VERSION; }

shoal_status shoal_model_load(const void* data, size_t size, int copy, shoal_model** out, shoal_error* err) {
  if (!out) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_model_load: out is NULL");
  *out = nullptr;
  if (!data) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_model_load: data is NULL");
  shoal::Result<shoal::Model> model = copy ? shoal::Model::from_bytes(data, size) : shoal::Model::borrow(data, size);
  if (!model.is_ok()) return fail(err, model.status());
  *out = new (std::nothrow) shoal_model{std::move(model.value())};
  if (!*out) return fail(err, SHOAL_OUT_OF_MEMORY, "out of memory");
  return ok(err);
}

void shoal_model_free(shoal_model* model) { delete model; }

uint32_t shoal_model_subnet_count(const shoal_model* model) {
  return model ? model->model.fb().subnets()->size() : 0;
}

const char* shoal_model_subnet_name(const shoal_model* model, uint32_t index) {
  if (!model || index >= shoal_model_subnet_count(model)) return nullptr;
  return model->model.fb().subnets()->Get(index)->name()->c_str();
}

shoal_status shoal_model_find_subnet(const shoal_model* model, const char* name_or_width, uint32_t* index,
                                     shoal_error* err) {
  if (!model || !name_or_width || !index) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_model_find_subnet: NULL argument");
  shoal::Result<uint32_t> found = model->model.find_subnet(name_or_width);
  if (!found.is_ok()) return fail(err, found.status());
  *index = found.value();
  return ok(err);
}

size_t shoal_model_input_floats(const shoal_model* model, uint32_t subnet) {
  return model ? model->model.packed_size(subnet, model->model.fb().input()) : 0;
}

size_t shoal_model_output_floats(const shoal_model* model, uint32_t subnet) {
  return model ? model->model.packed_size(subnet, model->model.fb().output()) : 0;
}

void shoal_model_input_shape(const shoal_model* model, uint32_t* height, uint32_t* width, uint32_t* channels) {
  const shoal::TensorShape s = model ? model->model.shape(model->model.fb().input()) : shoal::TensorShape{};
  if (height) *height = model ? s.h : 0;
  if (width) *width = model ? s.w : 0;
  if (channels) *channels = model ? s.c : 0;
}

shoal_status shoal_model_pack_image(const shoal_model* model, const uint8_t* pixels, uint32_t height, uint32_t width,
                                    uint32_t channels, int resize, float* out, size_t out_count, shoal_error* err) {
  if (!model || !pixels || !out) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_model_pack_image: NULL argument");
  const shoal::Status st = shoal::pack_image(model->model, pixels, height, width, channels, resize != 0, out,
                                             out_count, "; pass resize = 1 to scale it");
  if (!st.is_ok()) return fail(err, st);
  return ok(err);
}

shoal_status shoal_engine_required_bytes(const shoal_model* model, const char* backend, size_t* bytes,
                                         shoal_error* err) {
  if (!model || !bytes) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_engine_required_bytes: NULL argument");
  const shoal::Backend* chosen = nullptr;
  if (const shoal_status s = find_backend(backend, &chosen, err); s != SHOAL_OK) return s;
  shoal::Result<size_t> need = shoal::Engine::required_bytes(model->model, *chosen);
  if (!need.is_ok()) return fail(err, need.status());
  *bytes = need.value();
  return ok(err);
}

shoal_status shoal_engine_create(const shoal_model* model, const char* backend, unsigned threads, void* memory,
                                 size_t memory_bytes, shoal_engine** out, shoal_error* err) {
  if (!out) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_engine_create: out is NULL");
  *out = nullptr;
  if (!model) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_engine_create: model is NULL");
  const shoal::Backend* chosen = nullptr;
  if (const shoal_status s = find_backend(backend, &chosen, err); s != SHOAL_OK) return s;
  auto engine = memory ? shoal::Engine::create_in(memory, memory_bytes, model->model, *chosen, threads)
                       : shoal::Engine::create(model->model, *chosen, threads);
  if (!engine.is_ok()) return fail(err, engine.status());
  *out = new (std::nothrow) shoal_engine{std::move(engine.value())};
  if (!*out) return fail(err, SHOAL_OUT_OF_MEMORY, "out of memory");
  return ok(err);
}

shoal_status shoal_engine_run(shoal_engine* engine, uint32_t subnet, const float* in, size_t in_count, float* out,
                              size_t out_count, shoal_error* err) {
  if (!engine || !in || !out) return fail(err, SHOAL_INVALID_ARGUMENT, "shoal_engine_run: NULL argument");
  const shoal::Status status = engine->engine->run(subnet, in, in_count, out, out_count);
  if (!status.is_ok()) return fail(err, status);
  return ok(err);
}

void shoal_engine_destroy(shoal_engine* engine) { delete engine; }

}  // extern "C"
