// The SIMD convolution, written once over a vector type `V` (AVX2: 8 lanes, AVX-512: 16,
// NEON: 4) and compiled per ISA with that file's flags. Output channels are vector lanes: up to
// `kMaxBlocks` blocks of `V::kLanes` output channels for a row tile of `kTile` output pixels
// accumulate in registers (AVX-512: 5 x 4 = 20 of 32 registers; AVX2: 3 x 3 = 9 of 16, the
// shapes that measured fastest on ResNet-18); each input channel is broadcast once and
// multiplied with every block's packed weights.
// Lanes outside the active output range are computed and never stored; every load outside
// the active range is masked, so nothing past a buffer is touched.
#ifndef SHOAL_KERNELS_COMMON_CONV2D_OC_BLOCKS_H_
#define SHOAL_KERNELS_COMMON_CONV2D_OC_BLOCKS_H_

#include <stddef.h>
#include <stdint.h>

#include <algorithm>

#include "shoal/kernels/params.h"

namespace shoal::simd {

template <typename V, uint32_t kMaxAcc, uint32_t kMaxBlocks>
struct Conv2dOcBlocks {
  using Reg = typename V::Reg;
  static constexpr uint32_t kLanes = V::kLanes;
  // Padding taps read this instead of the input (any channel index below its size).
  static constexpr uint32_t kZeroFloats = 4096;
  alignas(64) static inline const float zeros[kZeroFloats] = {};
  // One pointer per pixel of a tile must fit in the general-purpose registers.
  static constexpr uint32_t kMaxTile = 12;
  // Layers with at most this many (tap, input channel) pairs get the table path below.
  static constexpr uint32_t kMaxTable = 512;

  static constexpr uint32_t tile_for(uint32_t blocks) {
    return kMaxAcc / blocks < kMaxTile ? kMaxAcc / blocks : kMaxTile;
  }

  // One call's fixed state, shared by every tile.
  struct Call {
    const shoal_conv2d_params* p;
    const float* x;
    const float* w;  // the first block of the group of blocks being computed
    size_t block_floats;
    const float* scale;
    const float* shift;
    float* y;
    uint32_t b;  // that first block's index
    // Table path: every (tap, input channel) pair as an input offset from the window's
    // first pixel and a weight offset within a block, so a tile whose window lies wholly
    // inside the input runs one flat loop with no per-tap address work (the stems, with 1
    // to 3 input channels, spend most of their time there otherwise).
    uint32_t pairs;  // 0: no table
    const uint32_t* x_offset;
    const uint32_t* w_offset;
  };

  static void run(const shoal_conv2d_params* p, const float* x, const float* w, const float* scale,
                  const float* shift, float* y) {
    const shoal_window& k = p->win;
    const size_t block_floats = size_t{k.kernel_h} * k.kernel_w * p->w_in_stride * kLanes;
    const uint32_t first_block = p->out.lo / kLanes, end_block = (p->out.hi + kLanes - 1) / kLanes;
    const uint32_t channels = p->in.hi - p->in.lo, taps = k.kernel_h * k.kernel_w;
    uint32_t x_offset[kMaxTable], w_offset[kMaxTable];
    uint32_t pairs = 0;
    if (!p->depthwise && size_t{taps} * channels <= kMaxTable) {
      for (uint32_t ky = 0; ky < k.kernel_h; ++ky)
        for (uint32_t kx = 0; kx < k.kernel_w; ++kx)
          for (uint32_t ci = p->in.lo; ci < p->in.hi; ++ci, ++pairs) {
            x_offset[pairs] = (ky * k.dilation_h * p->in.w + kx * k.dilation_w) * p->in.stride + ci;
            w_offset[pairs] = ((ky * k.kernel_w + kx) * p->w_in_stride + ci) * kLanes;
          }
    }
    // Blocks outermost: a group of blocks' weights (taps x input channels x lanes) stays in
    // cache while every output pixel uses them. Several blocks per tile let each broadcast
    // input feed several FMAs.
    for (uint32_t b = first_block; b < end_block;) {
      const uint32_t n = end_block - b < kMaxBlocks ? end_block - b : kMaxBlocks;
      const Call c{p, x, w + b * block_floats, block_floats, scale, shift, y, b, pairs, x_offset, w_offset};
      with_blocks<kMaxBlocks>(n, c);
      b += n;
    }
  }

  template <uint32_t kBlocks>
  static void with_blocks(uint32_t n, const Call& c) {
    if constexpr (kBlocks > 1) {
      if (n < kBlocks) return with_blocks<kBlocks - 1>(n, c);
    }
    pixels<kBlocks>(c);
  }

  template <uint32_t kBlocks>
  static void pixels(const Call& c) {
    constexpr uint32_t kTile = tile_for(kBlocks);
    const shoal_conv2d_params* p = c.p;
    const shoal_window& k = p->win;
    // Wide inputs (more channels than the zero row) take padded pixels one at a time.
    const bool zero_row = size_t{p->in.stride} + kLanes <= kZeroFloats;
    for (uint32_t oy = 0; oy < p->out.h; ++oy) {
      uint32_t ox = 0;
      if (zero_row) {
        const int64_t iy0 = int64_t{oy} * k.stride_h - k.pad_top;
        const bool rows_inside = iy0 >= 0 && iy0 + int64_t{k.kernel_h - 1} * k.dilation_h < p->in.h;
        // Short rows (two tiles or less) with stride 1 and 16 or more input channels run
        // faster as whole zero-row tiles than as a table tile plus two edge pixels alone
        // (measured: 14x14x16 7.3 -> 6.7 us, 7x7x16 2.2 -> 1.7 us); with fewer channels or
        // stride 2 the table wins.
        const bool short_row = p->out.w <= 2 * kTile && p->in.hi - p->in.lo >= 16 && k.stride_w == 1;
        if (c.pairs && rows_inside && !short_row) {
          // Pixels whose window sticks out left or right one at a time (usually one each
          // side), the ones in between by the table.
          const int64_t room = int64_t{p->in.w} - 1 - int64_t{k.kernel_w - 1} * k.dilation_w + k.pad_left;
          const uint32_t lo = std::min<uint32_t>(p->out.w, (k.pad_left + k.stride_w - 1) / k.stride_w);
          const uint32_t hi =
              room < 0 ? lo : static_cast<uint32_t>(std::clamp<int64_t>(room / k.stride_w + 1, lo, p->out.w));
          for (; ox < lo; ++ox) tile<1, kBlocks>(c, oy, ox);
          in_tiles<kBlocks>(c, oy, ox, hi, true);
          for (ox = hi; ox < p->out.w; ++ox) tile<1, kBlocks>(c, oy, ox);
        } else {
          in_tiles<kBlocks>(c, oy, 0, p->out.w, false);
        }
        continue;
      }
      // Without the zero row: pixels whose window starts in the padding one at a time, full
      // tiles while every tap is inside, and the rest of the row one at a time.
      for (; ox < p->out.w && int64_t{ox} * k.stride_w < int64_t{k.pad_left}; ++ox) tile<1, kBlocks>(c, oy, ox);
      for (; ox + kTile <= p->out.w; ox += kTile) {
        const int64_t ix_last =
            int64_t{ox + kTile - 1} * k.stride_w - k.pad_left + int64_t{k.kernel_w - 1} * k.dilation_w;
        if (ix_last >= p->in.w) break;
        tile<kTile, kBlocks>(c, oy, ox);
      }
      for (; ox < p->out.w; ++ox) tile<1, kBlocks>(c, oy, ox);
    }
  }

  // Pixels [from, to) of a row in tiles of nearly equal length (14 pixels as 7 + 7, not
  // 12 + 2).
  template <uint32_t kBlocks>
  static void in_tiles(const Call& c, uint32_t oy, uint32_t from, uint32_t to, bool table) {
    constexpr uint32_t kTile = tile_for(kBlocks);
    if (to <= from) return;
    const uint32_t n = to - from, tiles = (n + kTile - 1) / kTile;
    for (uint32_t t = 0, ox = from; t < tiles; ++t) {
      const uint32_t len = n / tiles + (t < n % tiles ? 1 : 0);
      some<kTile, kBlocks>(len, c, oy, ox, table);
      ox += len;
    }
  }

  // `n` (<= kPixels) pixels of a row as one tile.
  template <uint32_t kPixels, uint32_t kBlocks>
  static void some(uint32_t n, const Call& c, uint32_t oy, uint32_t ox, bool table) {
    if constexpr (kPixels > 1) {
      if (n < kPixels) return some<kPixels - 1, kBlocks>(n, c, oy, ox, table);
    }
    if (table) return tile_by_table<kPixels, kBlocks>(c, oy, ox);
    tile<kPixels, kBlocks>(c, oy, ox);
  }

  struct Lanes {
    uint32_t c0, lo, hi;
  };

  template <uint32_t kBlocks>
  static void lanes_of(const Call& c, Lanes (&l)[kBlocks]) {
    for (uint32_t j = 0; j < kBlocks; ++j) {
      l[j].c0 = (c.b + j) * kLanes;
      l[j].lo = c.p->out.lo > l[j].c0 ? c.p->out.lo - l[j].c0 : 0;
      l[j].hi = c.p->out.hi - l[j].c0 < kLanes ? c.p->out.hi - l[j].c0 : kLanes;
    }
  }

  // A tile whose every tap is inside the input: one flat loop over the table's pairs.
  template <uint32_t kPixels, uint32_t kBlocks>
  static void tile_by_table(const Call& c, uint32_t oy, uint32_t ox) {
    const shoal_conv2d_params* p = c.p;
    const shoal_window& k = p->win;
    const float* origin =
        c.x + (size_t(oy * k.stride_h - k.pad_top) * p->in.w + size_t(ox * k.stride_w - k.pad_left)) * p->in.stride;
    const size_t step = size_t{k.stride_w} * p->in.stride;
    // Pointer by pointer: computed as a vector, GCC spends more moving them back to
    // general registers than the adds cost.
    const float* xp[kPixels];
    const float* q = origin;
    for (uint32_t r = 0; r < kPixels; ++r, q += step) xp[r] = q;
    Reg acc[kBlocks][kPixels];
    for (uint32_t j = 0; j < kBlocks; ++j)
      for (uint32_t r = 0; r < kPixels; ++r) acc[j][r] = V::zero();
    for (uint32_t i = 0; i < c.pairs; ++i) {
      const uint32_t xo = c.x_offset[i];
      const float* wi = c.w + c.w_offset[i];
      Reg wv[kBlocks];
      for (uint32_t j = 0; j < kBlocks; ++j) wv[j] = V::load(wi + j * c.block_floats);
      for (uint32_t r = 0; r < kPixels; ++r) {
        const Reg xv = V::broadcast(xp[r][xo]);
        for (uint32_t j = 0; j < kBlocks; ++j) acc[j][r] = V::fma(xv, wv[j], acc[j][r]);
      }
    }
    store<kPixels, kBlocks>(c, acc, oy, ox);
  }

  template <uint32_t kPixels, uint32_t kBlocks>
  static void tile(const Call& c, uint32_t oy, uint32_t ox) {
    const shoal_conv2d_params* p = c.p;
    const shoal_window& k = p->win;
    const size_t tap_floats = size_t{p->w_in_stride} * kLanes;
    Lanes l[kBlocks];
    lanes_of<kBlocks>(c, l);
    Reg acc[kBlocks][kPixels];
    for (uint32_t j = 0; j < kBlocks; ++j)
      for (uint32_t r = 0; r < kPixels; ++r) acc[j][r] = V::zero();
    for (uint32_t ky = 0; ky < k.kernel_h; ++ky) {
      const int64_t iy = int64_t{oy} * k.stride_h - k.pad_top + int64_t{ky} * k.dilation_h;
      if (iy < 0 || iy >= p->in.h) continue;
      const float* row = c.x + size_t(iy) * p->in.w * p->in.stride;
      for (uint32_t kx = 0; kx < k.kernel_w; ++kx) {
        // A pixel whose tap is in the padding reads zeros (pixels() only gives tiles with
        // such pixels when the zero row is long enough); a lone pixel just skips the tap.
        const float* xp[kPixels];
        bool any = false;
        for (uint32_t r = 0; r < kPixels; ++r) {
          const int64_t ix = int64_t{ox + r} * k.stride_w - k.pad_left + int64_t{kx} * k.dilation_w;
          const bool inside = ix >= 0 && ix < p->in.w;
          xp[r] = inside ? row + size_t(ix) * p->in.stride : zeros;
          any = any || inside;
        }
        if (!any) continue;
        const float* wt = c.w + (size_t{ky} * k.kernel_w + kx) * tap_floats;
        if (p->depthwise) {
          for (uint32_t j = 0; j < kBlocks; ++j) {
            const Reg wv = V::load(wt + j * c.block_floats);
            for (uint32_t r = 0; r < kPixels; ++r) {
              acc[j][r] = V::fma(V::load_lanes(xp[r] + l[j].c0, l[j].lo, l[j].hi), wv, acc[j][r]);
            }
          }
          continue;
        }
        for (uint32_t ci = p->in.lo; ci < p->in.hi; ++ci) {
          Reg wv[kBlocks];
          for (uint32_t j = 0; j < kBlocks; ++j) wv[j] = V::load(wt + j * c.block_floats + size_t{ci} * kLanes);
          for (uint32_t r = 0; r < kPixels; ++r) {
            const Reg xv = V::broadcast(xp[r][ci]);
            for (uint32_t j = 0; j < kBlocks; ++j) acc[j][r] = V::fma(xv, wv[j], acc[j][r]);
          }
        }
      }
    }
    store<kPixels, kBlocks>(c, acc, oy, ox);
  }

  // The fused epilogue: scale and shift (batch norm) per channel, activation, masked store.
  template <uint32_t kPixels, uint32_t kBlocks>
  static void store(const Call& c, Reg (&acc)[kBlocks][kPixels], uint32_t oy, uint32_t ox) {
    const shoal_conv2d_params* p = c.p;
    Lanes l[kBlocks];
    lanes_of<kBlocks>(c, l);
    for (uint32_t j = 0; j < kBlocks; ++j) {
      const Reg s = c.scale ? V::load_lanes(c.scale + l[j].c0, l[j].lo, l[j].hi) : V::set1(1.0f);
      const Reg t = c.shift ? V::load_lanes(c.shift + l[j].c0, l[j].lo, l[j].hi) : V::zero();
      float* out = c.y + (size_t{oy} * p->out.w + ox) * p->out.stride + l[j].c0;
      for (uint32_t r = 0; r < kPixels; ++r, out += p->out.stride) {
        Reg v = V::fma(acc[j][r], s, t);
        if (p->activation != SHOAL_ACT_NONE) v = V::max(v, V::zero());
        if (p->activation == SHOAL_ACT_RELU6) v = V::min(v, V::set1(6.0f));
        V::store_lanes(out, v, l[j].lo, l[j].hi);
      }
    }
  }
};

}  // namespace shoal::simd

#endif  // SHOAL_KERNELS_COMMON_CONV2D_OC_BLOCKS_H_
