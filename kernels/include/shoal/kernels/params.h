// Parameters of shoal's kernels: small POD structs, shared by every backend.
//
// Channel slicing is "active range + stride": an activation is H x W pixels of
// `stride` floats each, and a kernel touches only channels [lo, hi) of every pixel.
// Pointers always point at channel 0 of pixel 0, so one full-width buffer (and one
// full-width weight copy) serves every sub-network, including ranges that do not start
// at 0. Kernels never allocate, never spawn threads and write only inside the ranges.
//
// The memory contract every backend relies on and the engine keeps: each tensor starts at a
// multiple of SHOAL_TENSOR_ALIGNMENT bytes, and a kernel may read (never write) up to
// SHOAL_KERNEL_OVER_READ bytes past the last element of any tensor it reads (vector tails of
// the optimised kernels), so every tensor is planned with that much room after it.
//
// Every tensor a kernel sees carries its element type (shoal_tensor_type): f32 for every
// kernel shoal has today; a qint8 tensor also carries its scale and zero point at the running
// subnet (each width has its own, as each has its own batch-norm set). Kernels are named for
// the types they take (..._f32__ref); a backend picks them by the types in the params.
#ifndef SHOAL_KERNELS_PARAMS_H_
#define SHOAL_KERNELS_PARAMS_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHOAL_TENSOR_ALIGNMENT 64
#define SHOAL_KERNEL_OVER_READ 64

enum shoal_activation { SHOAL_ACT_NONE = 0, SHOAL_ACT_RELU = 1, SHOAL_ACT_RELU6 = 2 };

// The values follow the model file's DataType (schema/model.fbs).
enum shoal_datatype { SHOAL_DATATYPE_F32 = 0, SHOAL_DATATYPE_QINT8 = 1, SHOAL_DATATYPE_F16 = 2 };

// A tensor's element type; for qint8, real = scale * (q - zero_point). All zero: f32.
typedef struct shoal_tensor_type {
  int32_t datatype;  // enum shoal_datatype
  float scale;
  int32_t zero_point;
} shoal_tensor_type;

// One side (input or output) of an activation as a kernel sees it.
typedef struct shoal_plane {
  uint32_t h, w;      // pixels
  uint32_t stride;    // floats from one pixel to the next (the group's capacity)
  uint32_t lo, hi;    // active channels [lo, hi)
  shoal_tensor_type type;
} shoal_plane;

typedef struct shoal_window {
  uint32_t kernel_h, kernel_w;
  uint32_t stride_h, stride_w;
  uint32_t pad_top, pad_left;   // bottom/right padding follows from the output size
  uint32_t dilation_h, dilation_w;
} shoal_window;

// y[co] = act(scale[co] * sum(w[co][ky][kx][ci] * x[ci]) + shift[co]).
// Weights are OHWI with `w_in_stride` floats per (co, ky, kx) tap; ci indexes them
// absolutely, so the packed full-width copy serves every input range. Depthwise: one
// float per tap and ci == co; the input and output ranges must be equal.
// scale may be NULL (1); shift may be NULL (0); both are indexed by absolute co.
typedef struct shoal_conv2d_params {
  shoal_plane in, out;
  shoal_window win;
  uint32_t w_in_stride;
  uint32_t depthwise;
  int32_t activation;  // enum shoal_activation
} shoal_conv2d_params;

typedef struct shoal_pool_params {
  shoal_plane in, out;  // equal channel ranges
  shoal_window win;
  // Average pooling divides by the window's taps inside the input (ONNX's and TensorFlow's
  // count_include_pad = 0) instead of the whole window (PyTorch's default).
  uint32_t exclude_padding;
} shoal_pool_params;

// Elementwise ops: y = act(a (+ b)) over h x w pixels, channels [lo, hi).
typedef struct shoal_eltwise_params {
  uint32_t h, w;
  uint32_t a_stride, b_stride, y_stride;
  uint32_t lo, hi;
  int32_t activation;
  shoal_tensor_type a_type, b_type, y_type;
} shoal_eltwise_params;

// Concatenation along channels: output channels [dst, dst + count) of every pixel are
// channels [src, src + count) of input `input`. Runs are in output order and together cover
// the output group once; the kernel writes the part of them inside [lo, hi).
typedef struct shoal_concat_run {
  uint32_t input, src, dst, count;
} shoal_concat_run;

typedef struct shoal_concat_params {
  uint32_t pixels;    // h * w of every tensor
  uint32_t y_stride;  // the output group's capacity
  uint32_t lo, hi;    // output channels written
  uint32_t runs;
  shoal_tensor_type y_type;  // every input's type is the output's (the model checker's rule)
} shoal_concat_params;

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // SHOAL_KERNELS_PARAMS_H_
